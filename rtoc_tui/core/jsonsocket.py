"""RTOC's `jsonsocket` module: its `Client` and `Server` classes and exceptions, on our framing.

RTOC users' client code does `import jsonsocket` (or `from RTOC import jsonsocket`, `from
RTOC.RTLogger import jsonsocket`); all three names resolve to this module (`compat.install`
registers them in the logger; the top-level `jsonsocket` module re-exports it for scripts run
outside it). The classes keep RTOC's names, signatures and rules, and frame with `rtoc_tui.wire`:

- frames are `LEN,TAGLEN,NONCELEN\\n` + tag + nonce + JSON; with a keyword (password) the JSON
  is encrypted with AES-EAX, except towards '127.0.0.1'/'localhost', which RTOC never
  encrypts to (HOST_WHITELIST);
- `recv` raises RTOC's exceptions: PasswordProtectedError for an encrypted reply without a
  keyword, NoPasswordProtectionError for a plain reply when a keyword was set (RTOC's
  message, "No password provided!", is kept), WrongPasswordError when the reply does not decrypt.

Differences from RTOC 2.x/3.0, on purpose: RTOC's `_recv` returned False when the peer closed
the connection before a header and looped forever on a half-sent frame; here a closed
connection raises ConnectionError. RTOC raised WrongPasswordError with one argument for a class
that needs two (a TypeError); here the exceptions take (expression, message) or one message.
"""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

from .. import wire

log = logging.getLogger("rtoc.jsonsocket")

HOST_WHITELIST = ["127.0.0.1", "localhost"]
BACKLOG = 5


class _JsonSocketError(Exception):
    """RTOC's exceptions carry `expression` and `message`."""

    def __init__(self, expression: Any, message: str | None = None) -> None:
        super().__init__(expression if message is None else message)
        self.expression = expression
        self.message = str(expression) if message is None else message


class NoPasswordProtectionError(_JsonSocketError):
    """Raised when a password was provided, but the server has no protection."""


class WrongPasswordError(_JsonSocketError):
    """Raised when the password is wrong."""


class PasswordProtectedError(_JsonSocketError):
    """Raised when the server may be password protected."""


def pad(text: str, padding: int = 16) -> str:
    """Pad text with spaces to a multiple of `padding` characters (RTOC's helper)."""
    rest = len(text) % padding
    return text if rest == 0 else text + " " * (padding - rest)


def deserializeJSON(json_bytes: bytes) -> Any:  # noqa: N802 - RTOC's name
    """Parse a received payload (NaN and Infinity accepted, as Python's json does)."""
    return json.loads(json_bytes.decode("utf-8"))


def readBlock(sock: socket.socket, blockLength: int) -> bytes:  # noqa: N802, N803 - RTOC's names
    """Read exactly blockLength bytes (ConnectionError if the peer closes first)."""
    view = memoryview(bytearray(blockLength))
    got = 0
    while got < blockLength:
        n = sock.recv_into(view[got:], blockLength - got)
        if n == 0:
            raise ConnectionError(f"connection closed after {got} of {blockLength} bytes")
        got += n
    return view.tobytes()


def _send(sock: socket.socket, data: Any, key: str | None = None) -> None:
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"You can only send JSON-serializable data ({exc})") from None
    # wire.pack pads and encrypts the text exactly as RTOC's _send does
    sock.sendall(wire.pack(text.encode("utf-8"), wire.derive_key(key) if key else None))


def _recv(sock: socket.socket, key: str | None = None) -> Any:
    header = bytearray()
    while True:
        ch = sock.recv(1)
        if not ch:
            raise ConnectionError("connection closed by the peer before a reply")
        if ch == b"\n":
            break
        header += ch
        if len(header) > wire.MAX_HEADER_BYTES:
            raise OSError(f"not a jsonsocket frame header: {bytes(header[:32])!r}")
    try:
        total, taglen, noncelen = wire.parse_header(header, wire.DEFAULT_MAX_FRAME_BYTES)
    except wire.ProtocolError as exc:
        raise OSError(str(exc)) from None
    tag = readBlock(sock, taglen) if taglen else b""
    nonce = readBlock(sock, noncelen) if noncelen else b""
    body = readBlock(sock, total)
    if key:
        if tag and nonce:
            try:
                return deserializeJSON(wire.decrypt(tag, nonce, body, wire.derive_key(key)))  # type: ignore[arg-type]
            except wire.AuthError:
                raise WrongPasswordError(
                    "SOCKET PASSWORD ERROR", "The provided password is wrong!"
                ) from None
        # A plain reply to an encrypted request: our server says so when the password was
        # wrong (RTOC's server did not answer); anything else means it has no password.
        try:
            said = deserializeJSON(body)
        except ValueError:
            said = None
        text = str(said.get("errorText", "")) if isinstance(said, dict) else ""
        if "wrong password" in text.lower():
            raise WrongPasswordError("SOCKET PASSWORD ERROR", f"The server says: {text}")
        raise NoPasswordProtectionError(
            "SOCKET PASSWORD ERROR", "No password provided! Cannot receive data"
        )
    if tag or nonce:
        raise PasswordProtectedError("SOCKET ERROR", "The server is password protected")
    try:
        return deserializeJSON(body)
    except ValueError:
        raise PasswordProtectedError(
            "JSON SOCKET ERROR",
            "Data received was not in JSON format. Maybe the RTOC-Server is password-protected",
        ) from None


class Server:
    """A JSON socket server (RTOC's): bind, accept one client at a time, recv/send dicts."""

    def __init__(
        self,
        host: str,
        port: int,
        keyword: str | None = None,
        reuse_port: bool = True,
        timeout: float | None = 5,
    ) -> None:
        self.socket: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.client: socket.socket | None = None
        self.client_addr: Any = None
        if reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.settimeout(timeout)
        self.socket.bind((host, port))
        self.socket.listen(BACKLOG)
        self.keyword = keyword

    def setKeyword(self, keyword: str | None = None) -> None:  # noqa: N802 - RTOC's name
        """Set a keyword to protect the TCP communication (None disables it)."""
        self.keyword = keyword

    def accept(self) -> socket.socket:
        """Accept a new client connection (closing the previous one)."""
        if self.socket is None:
            raise OSError("the server is closed")
        if self.client is not None:
            self.client.close()
        self.client, self.client_addr = self.socket.accept()
        return self.client

    def _key(self) -> str | None:
        return None if self.client_addr[0] in HOST_WHITELIST else self.keyword

    def send(self, data: Any) -> Server:
        """Send a dict to the connected client."""
        if self.client is None:
            raise OSError("Cannot send data, no client is connected")
        _send(self.client, data, self._key())
        return self

    def recv(self) -> Any:
        """Receive a dict from the connected client."""
        if self.client is None:
            raise OSError("Cannot receive data, no client is connected")
        return _recv(self.client, self._key())

    def close(self) -> None:
        """Close the client and the server socket."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self.keyword = None


class Client:
    """A JSON socket client (RTOC's): connect, send a dict, recv a dict, close."""

    def __init__(self) -> None:
        self.socket: socket.socket | None = None
        self.keyword: str | None = None
        self.host: str | None = None

    def setKeyword(self, keyword: str | None = None) -> None:  # noqa: N802 - RTOC's name
        """Set a keyword to protect the TCP communication (None disables it)."""
        self.keyword = keyword

    def connect(
        self,
        host: str,
        port: int,
        keyword: str | None = None,
        reuse_port: bool = True,
        timeout: float | None = 5,
    ) -> Client:
        """Connect to a server. As in RTOC, `keyword` replaces the one set before."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
        except OSError:
            sock.close()
            raise
        self.socket = sock
        self.keyword = keyword
        self.host = host
        return self

    def _key(self) -> str | None:
        return None if self.host in HOST_WHITELIST else self.keyword

    def send(self, data: Any) -> Client:
        """Send a dict to the connected server."""
        if self.socket is None:
            raise OSError("You have to connect first before sending data")
        _send(self.socket, data, self._key())
        return self

    def recv(self) -> Any:
        """Receive a dict from the server."""
        if self.socket is None:
            raise OSError("You have to connect first before receiving data")
        return _recv(self.socket, self._key())

    def recv_and_close(self) -> Any:
        """Receive a dict from the server and close the connection."""
        try:
            return self.recv()
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection (do this after every single request, as RTOC does)."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self.host = None
