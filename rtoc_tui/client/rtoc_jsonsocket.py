"""A blocking client that frames exactly as RTOC's jsonsocket.Client does.

RTOC (RTOC/RTLogger/jsonsocket.py) serialises with Python's json, pads the text with spaces to
a multiple of 16 and encrypts it with AES-EAX (key SHA-256 of the password) unless the host is
'127.0.0.1' or 'localhost'; the header is always `LEN,TAGLEN,NONCELEN\\n`. It reads the reply
header byte by byte. Tests, benchmarks and the `rtoc send/latest/signals/fetch` commands use
this class to talk to a server the way an RTOC 2.x/3.x client would.
"""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

from Cryptodome.Cipher import AES

HOST_WHITELIST = ("127.0.0.1", "localhost")  # RTOC never encrypts to these host strings


class JsonSocketError(OSError):
    """The server closed the connection or sent something that is not a reply frame."""


class JsonSocketClient:
    """One connection, RTOC style: connect, send a dict, receive a dict, close."""

    def __init__(self, password: str | None = None, *, encrypt: bool | None = None) -> None:
        self.password = password or None
        self.encrypt = encrypt  # None: RTOC's rule (encrypt unless the host is whitelisted)
        self.sock: socket.socket | None = None
        self.host: str | None = None

    def connect(self, host: str, port: int, timeout: float = 5.0) -> JsonSocketClient:
        """Open the TCP connection (TCP_NODELAY, as RTOC sets it)."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = host
        return self

    @property
    def key(self) -> bytes | None:
        """The AES key used for this host, or None when frames go plain."""
        if not self.password:
            return None
        encrypt = self.host not in HOST_WHITELIST if self.encrypt is None else self.encrypt
        return hashlib.sha256(self.password.encode("utf-8")).digest() if encrypt else None

    def frame(self, data: Any) -> bytes:
        """The bytes RTOC's _send writes for data."""
        text = json.dumps(data)
        key = self.key
        if key is None:
            body, tag, nonce = text.encode(), b"", b""
        else:
            while len(text) % 16:  # RTOC pads the text (not the bytes) with spaces
                text += " "
            cipher = AES.new(key, AES.MODE_EAX)
            body, tag = cipher.encrypt_and_digest(text.encode("utf-8"))
            nonce = cipher.nonce
        return b"%d,%d,%d\n" % (len(body), len(tag), len(nonce)) + tag + nonce + body

    def send(self, data: Any) -> JsonSocketClient:
        """Send one request dict."""
        self.send_raw(self.frame(data))
        return self

    def send_raw(self, raw: bytes) -> None:
        if self.sock is None:
            raise JsonSocketError("connect first")
        self.sock.sendall(raw)

    def _read(self, n: int) -> bytes:
        assert self.sock is not None
        view = memoryview(bytearray(n))
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if k == 0:
                raise JsonSocketError("connection closed by the server")
            got += k
        return view.tobytes()

    def recv(self) -> Any:
        """Read one reply frame and decode it (decrypting when it carries a tag)."""
        if self.sock is None:
            raise JsonSocketError("connect first")
        header = b""
        while True:
            ch = self.sock.recv(1)
            if not ch:
                raise JsonSocketError("connection closed by the server")
            if ch == b"\n":
                break
            header += ch
            if len(header) > 64:
                raise JsonSocketError("reply header too long")
        parts = header.decode("ascii").split(",")
        if len(parts) not in (1, 3):
            raise JsonSocketError(f"bad reply header {header!r}")
        total = int(parts[0])
        taglen, noncelen = (int(parts[1]), int(parts[2])) if len(parts) == 3 else (0, 0)
        tag = self._read(taglen) if taglen else b""
        nonce = self._read(noncelen) if noncelen else b""
        body = self._read(total)
        if tag:
            if not self.password:
                raise JsonSocketError("the server sent an encrypted reply and we have no password")
            key = hashlib.sha256(self.password.encode("utf-8")).digest()
            cipher = AES.new(key, AES.MODE_EAX, nonce=nonce, mac_len=len(tag))
            try:
                body = cipher.decrypt_and_verify(body, tag)
            except ValueError:
                raise JsonSocketError("the reply does not decrypt with our password") from None
        return json.loads(body.decode("utf-8"))

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> JsonSocketClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def request(
    host: str,
    port: int,
    data: Any,
    password: str | None = None,
    timeout: float = 5.0,
    encrypt: bool | None = None,
) -> Any:
    """One request on its own connection, as RTOC's LoggerPlugin.sendTCP does it."""
    with JsonSocketClient(password, encrypt=encrypt) as client:
        client.connect(host, port, timeout)
        client.send(data)
        return client.recv()
