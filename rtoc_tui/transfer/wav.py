"""WAV files as a Table: one column per channel, x from the sample rate (the standard library's
wave module and numpy; no extra needed).

8-bit (unsigned, centred on 0 here), 16-, 24- and 32-bit PCM keep their integer sample values
(exact; divide by 2**(bits-1) in a script for -1..1). 24-bit frames are widened to int32 with
numpy. 32/64-bit IEEE float files, which the wave module refuses, are read from their RIFF
chunks directly.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np

from .progress import NullProgress, ProgressSink
from .table import PREVIEW_ROWS, Column, ImportFileError, Table, cell_text


def pcm_to_array(frames: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM bytes -> (samples, channels) float64 integer values."""
    n = len(frames) // (width * channels)
    raw = np.frombuffer(frames, dtype=np.uint8, count=n * width * channels)
    if width == 1:
        a = raw.astype(np.int16) - 128
    elif width == 2:
        a = raw.view("<i2")
    elif width == 3:
        # widen each 3-byte sample to 4 bytes (low byte zero), read as int32, shift back:
        # the arithmetic shift carries the sign
        wide = np.zeros((n * channels, 4), dtype=np.uint8)
        wide[:, 1:] = raw.reshape(-1, 3)
        a = wide.view("<i4").reshape(-1) >> 8
    elif width == 4:
        a = raw.view("<i4")
    else:
        raise ImportFileError(f"{width * 8}-bit PCM samples are not supported (8, 16, 24, 32)")
    return a.reshape(n, channels).astype(float)


def read_wav(path: str | Path, progress: ProgressSink | None = None) -> Table:
    """A WAV file as a Table with the file's sample rate."""
    path = Path(path)
    progress = progress or NullProgress()
    progress.start(f"Reading {path.name}", None)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            nframes = w.getnframes()
            frames = w.readframes(nframes)
        data = pcm_to_array(frames, width, channels)
        kind = f"{width * 8}-bit PCM"
        if len(data) < nframes:
            raise ImportFileError(
                f"{path}: truncated: the header announces {nframes} frames, "
                f"the file holds {len(data)}"
            )
    except wave.Error as exc:
        if "unknown format: 3" in str(exc):
            data, rate, kind = _read_float(path)
        else:
            raise ImportFileError(f"{path}: not a WAV file we can read ({exc})") from None
    except (EOFError, struct.error) as exc:
        raise ImportFileError(f"{path}: the WAV file is truncated ({exc})") from None
    progress.finish()
    cols = [Column(f"channel {k + 1}", "", data[:, k].copy()) for k in range(data.shape[1])]
    preview = [[cell_text(float(v)) for v in row] for row in data[:PREVIEW_ROWS]]
    return Table(
        "",
        cols,
        preview,
        sample_rate=float(rate),
        notes=[f"{kind}, {data.shape[1]} channels, {rate} Hz, {len(data)} frames"],
    )


def _read_float(path: Path) -> tuple[np.ndarray, int, str]:
    """IEEE float WAV (format 3): fmt and data chunks read by hand."""
    blob = path.read_bytes()
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise ImportFileError(f"{path}: not a RIFF WAVE file")
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(blob):
        cid, size = blob[pos : pos + 4], struct.unpack("<I", blob[pos + 4 : pos + 8])[0]
        body = blob[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise ImportFileError(f"{path}: the WAV file has no fmt or data chunk (truncated?)")
    _tag, channels, rate, _bps, _align, bits = fmt
    if bits not in (32, 64):
        raise ImportFileError(f"{path}: {bits}-bit float samples are not supported")
    dt = "<f4" if bits == 32 else "<f8"
    n = len(data) // (bits // 8 * channels)
    arr = np.frombuffer(data, dtype=dt, count=n * channels).reshape(n, channels).astype(float)
    return arr, rate, f"{bits}-bit float"
