"""The wire format: frames, AES-EAX, the JSON codec, replay guard and grid decimation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rtoc_tui import wire
from rtoc_tui.client.rtoc_jsonsocket import JsonSocketClient
from rtoc_tui.decimate import grid_points, quantize_width


def test_plain_frame_has_rtoc_header() -> None:
    assert wire.pack(b'{"a": 1}') == b'8,0,0\n{"a": 1}'


def test_encrypted_frame_pads_to_16_and_decrypts() -> None:
    key = wire.derive_key("secret")
    assert key is not None and len(key) == 32
    frame = wire.pack(b'{"a": 1}', key)
    header, rest = frame.split(b"\n", 1)
    length, taglen, noncelen = wire.parse_header(header, 1 << 20)
    assert (taglen, noncelen) == (16, 16)
    assert length % 16 == 0 and length == len(rest) - 32
    plain = wire.decrypt(rest[:16], rest[16:32], rest[32:], key)
    assert plain == b'{"a": 1}' + b" " * 8
    with pytest.raises(wire.AuthError):
        wire.decrypt(rest[:16], rest[16:32], rest[32:], wire.derive_key("wrong"))  # type: ignore[arg-type]


def test_rtoc_client_frames_decode_like_rtoc_sends_them() -> None:
    client = JsonSocketClient("pw", encrypt=True)
    client.host = "10.1.2.3"
    frame = client.frame({"getLatest": True})
    frames = wire.FrameDecoder().feed(frame)
    assert len(frames) == 1 and frames[0].encrypted
    key = wire.derive_key("pw")
    assert key is not None
    text = wire.decrypt(frames[0].tag, frames[0].nonce, frames[0].payload, key)
    assert json.loads(text) == {"getLatest": True}
    plain = JsonSocketClient("pw")
    plain.host = "127.0.0.1"  # RTOC never encrypts to localhost
    assert plain.frame({"a": 1}) == b'8,0,0\n{"a": 1}'


def test_decoder_handles_any_split_and_bare_length_headers() -> None:
    stream = wire.pack(b'{"a": 1}') + b"2\n{}" + wire.pack(b"[1, 2, 3]")
    for cut in range(1, len(stream)):
        dec = wire.FrameDecoder()
        frames = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
        assert [f.payload for f in frames] == [b'{"a": 1}', b"{}", b"[1, 2, 3]"]
        assert dec.pending == 0


def test_decoder_rejects_oversize_from_the_header_alone() -> None:
    dec = wire.FrameDecoder(max_frame=1000)
    with pytest.raises(wire.FrameTooLarge, match="2147483648"):
        dec.feed(b"2147483648,0,0\n")
    dec = wire.FrameDecoder(max_frame=1000)
    dec.feed(b"2147483648")  # no newline yet: nothing to decide
    with pytest.raises(wire.FrameTooLarge):
        dec.feed(b",0,0\n")


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\n",
        b"12,3\n",
        b"-5,0,0\n",
        b"1,16,0\n",
        b"1,99,16\n",
        b"\x00\xff\n",
        b"9" * 70,
    ],
)
def test_decoder_rejects_garbage_headers(garbage: bytes) -> None:
    with pytest.raises(wire.ProtocolError):
        wire.FrameDecoder().feed(garbage)


def test_partial_garbage_fails_before_the_newline() -> None:
    with pytest.raises(wire.ProtocolError):
        wire.FrameDecoder().feed(b"GET /")


def test_loads_accepts_what_python_json_writes_and_names_bad_input() -> None:
    assert math.isnan(wire.loads(json.dumps({"y": [float("nan")]}).encode())["y"][0])
    with pytest.raises(wire.ProtocolError, match="not UTF-8"):
        wire.loads(b'{"a": "\xff\xfe"}')
    with pytest.raises(wire.ProtocolError, match="not JSON"):
        wire.loads(b"{not json")


def test_dumps_keeps_nan_for_rtoc_clients_and_encodes_numpy() -> None:
    out = wire.dumps({"v": [1.0, float("nan")], "a": np.array([1.0, np.inf]), "n": None})
    back = json.loads(out)
    assert math.isnan(back["v"][1]) and back["a"][1] == math.inf and back["n"] is None
    assert json.loads(wire.dumps({"a": np.arange(3.0), 1: "int key"})) == {
        "a": [0.0, 1.0, 2.0],
        "1": "int key",
    }


def test_array_codec_round_trips_exactly() -> None:
    a = np.array([0.1, -1e300, np.nan, 1700000000.123456])
    b = wire.decode_array(wire.encode_array(a))
    assert np.array_equal(a, b, equal_nan=True)
    assert wire.decode_array("").size == 0
    with pytest.raises(wire.ProtocolError):
        wire.decode_array("AAAA")  # 3 bytes: not whole float64 values


def test_replay_guard_is_bounded() -> None:
    guard = wire.ReplayGuard(capacity=3)
    assert all(guard.check_and_add(bytes([i])) for i in range(5))
    assert len(guard) == 3
    assert not guard.check_and_add(b"\x04")
    assert guard.check_and_add(b"\x00")  # forgotten: only the last 3 are kept


def test_grid_points_keep_extremes_and_small_buckets_exactly() -> None:
    x = np.array([0.0, 0.1, 0.2, 0.3, 1.0, 1.5, 2.2])
    y = np.array([5.0, -1.0, 9.0, 2.0, 7.0, 8.0, 3.0])
    k, px, py = grid_points(x, y, 1.0)
    assert k.tolist() == [0, 0, 1, 1, 2]
    assert px.tolist() == [0.1, 0.2, 1.0, 1.5, 2.2]  # the min and max at their own x, in x order
    assert py.tolist() == [-1.0, 9.0, 7.0, 8.0, 3.0]
    empty = grid_points(np.empty(0), np.empty(0), 1.0)
    assert all(len(a) == 0 for a in empty)


def test_quantized_width_is_stable_and_close() -> None:
    for raw in (0.3, 60 / 198, 1e-3, 12345.6):
        w = quantize_width(raw)
        assert raw <= w <= raw * 1.008
        assert quantize_width(raw * (1 + 1e-12)) == w
