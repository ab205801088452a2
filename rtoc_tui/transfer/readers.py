"""Which reader a file needs, by its content first and its extension second, and one entry point
(`open_source`) that gives its sheets as Tables.

Content wins because files are often misnamed (an .xls that is really HTML or CSV, a .csv saved
as XLSX); the extension decides between formats that share a container (zip: XLSX or ODS; OLE2:
XLS or a password-protected XLSX). Imports no part of the logger, so the UI can use it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from .progress import ProgressSink
from .table import ImportFileError, Table

SUPPORTED = (
    "CSV/TSV/TXT (any separator, decimal comma, header or not)",
    "Excel XLSX/XLSM/XLSB/XLS",
    "OpenDocument ODS",
    "MATLAB MAT v5/v7/v7.3",
    "WAV (8/16/24/32-bit PCM, float)",
    "rtoc-tui or RTOC session JSON",
)
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".dat": "csv",
    ".asc": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xlsb": "xlsx",
    ".xls": "xls",
    ".ods": "ods",
    ".mat": "mat",
    ".wav": "wav",
    ".wave": "wav",
    ".json": "session",
}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class UnsupportedFormat(ImportFileError):
    """The file is none of the formats we read; the message lists those."""


def supported_text() -> str:
    return "supported: " + "; ".join(SUPPORTED)


def detect_format(path: str | Path) -> str:
    """csv | xlsx | xls | ods | mat | wav | session (or UnsupportedFormat)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read ({exc})") from exc
    ext = EXTENSIONS.get(path.suffix.lower())
    if not head:
        raise ImportFileError(f"{path}: the file is empty")
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path, ext)
    if head.startswith(OLE2):
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k" in _ole_names(path):
            raise ImportFileError(
                f"{path}: the workbook is password-protected; save a copy without a password "
                "(File > Info > Protect Workbook in Excel) and import that"
            )
        return "xls"
    if head.startswith(b"MATLAB 5.0 MAT-file") or head.startswith(b"MATLAB 7.3 MAT-file"):
        return "mat"
    if ext == "mat" and (head[:4] == b"\x00\x00\x00\x00" or b"MATLAB" in head[:128]):
        return "mat"  # v4 files have no text header
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"\x89HDF"):
        return "mat" if ext == "mat" else _unsupported(path, "an HDF5 file")
    if _is_text(head):
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] in (b"{", b"[") and ext in ("session", None):
            return "session"
        if stripped[:1] == b"<":
            return _unsupported(path, "an XML or HTML file")
        return "csv"
    if ext in ("xlsx", "ods"):
        raise ImportFileError(f"{path}: not a workbook: the file is damaged or truncated")
    return _unsupported(path, "a binary file of unknown format")


def _unsupported(path: Path, what: str) -> str:
    raise UnsupportedFormat(f"{path}: {what}, which cannot be imported ({supported_text()})")


def _zip_kind(path: Path, ext: str | None) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                mime = z.read("mimetype").decode("ascii", "replace").strip()
                if "opendocument.spreadsheet" in mime:
                    return "ods"
                return _unsupported(path, f"an OpenDocument file of type {mime}")
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
    except zipfile.BadZipFile as exc:
        if ext in ("xlsx", "ods"):
            raise ImportFileError(
                f"{path}: cannot read the workbook, it is damaged or truncated ({exc}); "
                "open and save it again in Excel or LibreOffice"
            ) from None
        return _unsupported(path, "a damaged zip file")
    return _unsupported(path, "a zip archive that is no workbook")


def _ole_names(path: Path) -> bytes:
    """Bytes holding the OLE2 directory (stream names are UTF-16 there): its first sectors,
    found from the header (an encrypted workbook puts it after the data), and the file's start."""
    import struct

    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
        try:
            shift = struct.unpack_from("<H", head, 0x1E)[0]  # sector size = 2**shift
            first_dir = struct.unpack_from("<I", head, 0x30)[0]
        except struct.error:
            return head
        if shift not in (9, 12) or first_dir >= 0xFFFFFFFA:
            return head
        size = 1 << shift
        fh.seek((first_dir + 1) * size)
        return fh.read(4 * size) + head


def _is_text(head: bytes) -> bool:
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a multi-byte character cut at the end of the sample
            return True
    printable = sum(1 for b in head if b >= 32 or b in (9, 10, 13))
    return printable >= 0.95 * len(head)


@dataclass
class Source:
    """An opened file: its format and sheets; `table(sheet)` reads one."""

    path: Path
    format: str
    sheets: list[str]
    delimiter: str | None = None
    header: bool | None = None

    def table(self, sheet: str | None = None, progress: ProgressSink | None = None) -> Table:
        """The sheet's table (the first sheet when None; single-table formats ignore it)."""
        if self.format == "csv":
            from .csv_import import read_csv_table

            return read_csv_table(self.path, self.delimiter, self.header, progress)
        if self.format in ("xlsx", "xls", "ods"):
            from .sheets import read_sheet

            return read_sheet(self.path, sheet, progress)
        if self.format == "mat":
            from .matlab import read_mat

            return read_mat(self.path, progress)
        if self.format == "wav":
            from .wav import read_wav

            return read_wav(self.path, progress)
        raise ImportFileError(f"{self.path}: a {self.format} file has no table")


def open_source(
    path: str | Path, fmt: str = "auto", delimiter: str | None = None, header: bool | None = None
) -> Source:
    """Detect the format (unless fmt names it) and list the sheets."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: cannot read (no such file)")
    kind = detect_format(path) if fmt in ("auto", "", None) else fmt
    if kind in ("xlsx", "xls", "ods", "excel"):
        from .sheets import sheet_names

        return Source(path, "xlsx" if kind == "excel" else kind, sheet_names(path))
    if kind in ("csv", "mat", "wav", "session"):
        return Source(path, kind, [""], delimiter, header)
    raise UnsupportedFormat(
        f"unknown import format {fmt!r} (auto, csv, xlsx, ods, mat, wav, session)"
    )
