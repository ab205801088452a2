"""RTOC's jsonsocket wire format: framing, AES-EAX encryption and the JSON codec.

A frame is an ASCII header `LEN,TAGLEN,NONCELEN\\n` (a bare `LEN\\n` is a plain frame too),
then TAGLEN bytes of tag, NONCELEN bytes of nonce and LEN bytes of payload. Plain frames carry
UTF-8 JSON. With a password the JSON text is padded with spaces to a multiple of 16 and
encrypted with AES-EAX; the key is SHA-256 of the password (UTF-8), tag and nonce are 16 bytes.
This module is shared by the server, `RemoteClient` and the blocking RTOC-style client.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
from collections import deque
from typing import Any

import numpy as np
import orjson
from Cryptodome.Cipher import AES

MAX_HEADER_BYTES = 64  # "LEN,TAGLEN,NONCELEN\n" with 20-digit numbers still fits
MAX_TAG_BYTES = 16  # EAX tags are at most one AES block
MAX_NONCE_BYTES = 64
DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

_ORJSON_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class ProtocolError(ValueError):
    """A frame or payload that breaks the wire format; the message says how."""


class FrameTooLarge(ProtocolError):
    """A header announced more bytes than the receiver accepts (rejected before reading them)."""


class AuthError(ProtocolError):
    """An encrypted frame that does not decrypt with our key (wrong password or tampering)."""


# -- keys and encryption -----------------------------------------------------------------------
def derive_key(password: str | None) -> bytes | None:
    """The AES key RTOC derives from a password (SHA-256 of its UTF-8), or None without one."""
    if not password:
        return None
    return hashlib.sha256(password.encode("utf-8")).digest()


def pad16(data: bytes) -> bytes:
    """Pad JSON text with spaces to a multiple of 16 bytes, as RTOC does before encrypting."""
    rest = len(data) % 16
    return data if rest == 0 else data + b" " * (16 - rest)


def encrypt(payload: bytes, key: bytes) -> tuple[bytes, bytes, bytes]:
    """(tag, nonce, ciphertext) of the space-padded payload under AES-EAX with a fresh nonce."""
    cipher = AES.new(key, AES.MODE_EAX)
    ciphertext, tag = cipher.encrypt_and_digest(pad16(payload))
    return tag, cipher.nonce, ciphertext


def decrypt(tag: bytes, nonce: bytes, ciphertext: bytes, key: bytes) -> bytes:
    """Verify and decrypt one frame's payload; AuthError if the tag does not match."""
    try:
        cipher = AES.new(key, AES.MODE_EAX, nonce=nonce, mac_len=len(tag))
        return cipher.decrypt_and_verify(ciphertext, tag)
    except (ValueError, KeyError) as exc:
        raise AuthError("the frame does not decrypt with this password") from exc


# -- framing -----------------------------------------------------------------------------------
def pack(payload: bytes, key: bytes | None = None) -> bytes:
    """One frame around a JSON payload: encrypted when key is given, else plain."""
    if key is None:
        return b"%d,0,0\n%s" % (len(payload), payload)
    tag, nonce, ciphertext = encrypt(payload, key)
    return b"%d,%d,%d\n%s%s%s" % (len(ciphertext), len(tag), len(nonce), tag, nonce, ciphertext)


def parse_header(line: bytes | bytearray, max_frame: int) -> tuple[int, int, int]:
    """(LEN, TAGLEN, NONCELEN) of a header line without its newline; ProtocolError if bad."""
    text = bytes(line)
    if text[-1:] == b"\r" or text[:1] == b" " or text[-1:] == b" ":
        text = text.strip(b" \r")
    parts = text.split(b",")
    if (
        len(parts) not in (1, 3)
        or not text.replace(b",", b"").isdigit()  # ASCII digits only: no signs, no spaces
        or b"" in parts
        or len(text) > MAX_HEADER_BYTES
    ):
        shown = bytes(line[:32]).decode("ascii", "backslashreplace")
        raise ProtocolError(f"malformed frame header {shown!r} (expected LEN,TAGLEN,NONCELEN)")
    length = int(parts[0])
    taglen, noncelen = (int(parts[1]), int(parts[2])) if len(parts) == 3 else (0, 0)
    if length > max_frame:
        raise FrameTooLarge(f"frame of {length} bytes exceeds the limit of {max_frame} bytes")
    if (taglen == 0) != (noncelen == 0) or taglen > MAX_TAG_BYTES or noncelen > MAX_NONCE_BYTES:
        raise ProtocolError(f"bad tag/nonce lengths {taglen},{noncelen} in frame header")
    return length, taglen, noncelen


class Frame(tuple[bytes, bytes, bytes]):
    """One received frame (tag, nonce, payload); tag and nonce are empty for a plain frame.

    A tuple, because a server may decode 100,000 of them a second."""

    __slots__ = ()

    @property
    def tag(self) -> bytes:
        return self[0]

    @property
    def nonce(self) -> bytes:
        return self[1]

    @property
    def payload(self) -> bytes:
        return self[2]

    @property
    def encrypted(self) -> bool:
        return bool(self[0])


_new_frame = tuple.__new__
# Parsed header lines shared by all decoders: one-shot clients send the same few headers on
# a new connection (and so a new decoder) each time. Bounded: cleared when full.
_HEADERS: dict[bytes, tuple[int, int, int]] = {}
_HEADERS_MAX = 1024


class FrameDecoder:
    """Incremental frame parser: feed bytes, get whole frames. Never allocates for a frame
    before its header has been checked against max_frame."""

    __slots__ = ("_buf", "_last", "max_frame")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._last: tuple[bytes, tuple[int, int, int]] = (b"", (0, 0, 0))
        self.max_frame = max_frame

    @property
    def pending(self) -> int:
        """Bytes of a frame received but not yet complete (0 between frames)."""
        return len(self._buf)

    def _parse(self, line: bytes) -> tuple[int, int, int]:
        parsed = _HEADERS.get(line)
        if parsed is None or parsed[0] > self.max_frame:  # the limit is this decoder's
            parsed = parse_header(line, self.max_frame)
            if len(_HEADERS) >= _HEADERS_MAX:
                _HEADERS.clear()
            _HEADERS[line] = parsed
        self._last = (line, parsed)
        return parsed

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; returns the frames completed by them (raises ProtocolError)."""
        buf = self._buf
        if not buf and type(data) is bytes:  # the usual case, one plain frame: no copies
            nl = data.find(b"\n", 0, MAX_HEADER_BYTES)
            if nl > 0:
                line = data[:nl]
                last = self._last
                length, taglen, _ = last[1] if line == last[0] else self._parse(line)
                if not taglen and nl + 1 + length == len(data):
                    return [_new_frame(Frame, (b"", b"", data[nl + 1 :]))]
        buf += data
        frames: list[Frame] = []
        pos = 0
        size = len(buf)
        try:
            while pos < size:
                nl = buf.find(b"\n", pos, pos + MAX_HEADER_BYTES)
                if nl < 0:
                    if size - pos >= MAX_HEADER_BYTES:
                        parse_header(buf[pos : pos + MAX_HEADER_BYTES], self.max_frame)
                        raise ProtocolError("frame header is not terminated by a newline")
                    # A partial header must already look like one, so garbage fails fast.
                    head = buf[pos:size].replace(b",", b"").strip(b" \r")
                    if head and not head.isdigit():
                        parse_header(buf[pos:size], self.max_frame)
                    break
                line = bytes(buf[pos:nl])
                last = self._last  # pipelined clients repeat headers: skip the parse
                length, taglen, noncelen = last[1] if line == last[0] else self._parse(line)
                start = nl + 1
                end = start + taglen + noncelen + length
                if end > size:
                    break
                if taglen:
                    mid = start + taglen
                    body = mid + noncelen
                    frames.append(
                        _new_frame(
                            Frame,
                            (bytes(buf[start:mid]), bytes(buf[mid:body]), bytes(buf[body:end])),
                        )
                    )
                else:
                    frames.append(_new_frame(Frame, (b"", b"", bytes(buf[start:end]))))
                pos = end
        finally:
            if pos:
                del buf[:pos]
        return frames


# -- JSON codec --------------------------------------------------------------------------------
def loads(payload: bytes) -> Any:
    """Parse a JSON payload as Python's json module would (NaN and Infinity included)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        # RTOC clients use Python's json, which writes NaN/Infinity and huge integers
        return json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"payload is not JSON: {exc}") from None


def _has_nonfinite(obj: Any) -> bool:
    if isinstance(obj, float):
        return not math.isfinite(obj)
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_nonfinite(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind == "f" and not bool(np.isfinite(obj).all())
    if isinstance(obj, np.floating):
        return not math.isfinite(float(obj))
    return False


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(obj: Any) -> bytes:
    """Encode a reply; numpy arrays allowed. NaN/Infinity are written as Python's json does
    (orjson would turn them into null, which an RTOC client would read as None)."""
    out = orjson.dumps(obj, option=_ORJSON_OPTS)
    if b"null" in out and _has_nonfinite(obj):
        return json.dumps(obj, default=_json_default, separators=(",", ":")).encode()
    return out


def pre_encoded(obj: Any) -> orjson.Fragment:
    """obj encoded now (as dumps does) and embedded as is by a later dumps: a big reply can be
    encoded piece by piece in a worker thread, letting other threads run between the pieces."""
    return orjson.Fragment(dumps(obj))


def encode_array(a: np.ndarray) -> str:
    """A float array as base64 of little-endian float64 (exact, about 10.7 bytes a value)."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def decode_array(text: str | None) -> np.ndarray:
    """Inverse of encode_array (a writable array of float64)."""
    if not text:
        return np.empty(0)
    raw = base64.b64decode(text, validate=True)
    if len(raw) % 8:
        raise ProtocolError("array data is not a whole number of float64 values")
    return np.frombuffer(raw, dtype="<f8").astype(float)


# -- replay protection -------------------------------------------------------------------------
class ReplayGuard:
    """Remembers the nonces of the last `capacity` accepted encrypted frames."""

    __slots__ = ("_order", "_seen", "capacity")

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._order: deque[bytes] = deque()
        self._seen: set[bytes] = set()

    def check_and_add(self, nonce: bytes) -> bool:
        """True if the nonce is fresh (and remember it); False if it was seen recently."""
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        self._order.append(nonce)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return True

    def __len__(self) -> int:
        return len(self._order)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1, ::ffff:127.x and the name localhost."""
    if host.lower() == "localhost" or host == "::1":
        return True
    if host.startswith("127."):  # the common case, without ipaddress's cost per connection
        parts = host.split(".")
        if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
            return True
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback
