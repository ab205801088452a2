"""MATLAB .mat files as a Table: v4/v5/v7 through scipy.io, v7.3 (HDF5) through h5py.

Each numeric vector becomes a column named after its variable; a matrix gives one column per
MATLAB column (`A(:,2)`); numeric fields of structs are columns named `s.field` (nested structs
too). Cell arrays, strings, sparse, complex and 3-D arrays cannot be signals: they are listed in
the table's notes, and a file holding nothing else is an error naming them. Both libraries are
in the `import` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .progress import NullProgress, ProgressSink
from .table import PREVIEW_ROWS, Column, ImportFileError, Table, cell_text

EXTRA_HINT = "pip install 'rtoc-tui[import]'"
V73_MAGIC = b"\x89HDF\r\n\x1a\n"


def is_v73(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(520)
    return head[512:520] == V73_MAGIC or head[:8] == V73_MAGIC


def read_mat(path: str | Path, progress: ProgressSink | None = None) -> Table:
    """All importable variables of a MAT file as one Table (columns may differ in length)."""
    path = Path(path)
    progress = progress or NullProgress()
    progress.start(f"Reading {path.name}", None)
    cols: list[Column] = []
    notes: list[str] = []
    if is_v73(path):
        _read_h5(path, cols, notes)
    else:
        _read_v5(path, cols, notes)
    progress.finish()
    if not cols:
        raise ImportFileError(
            f"{path}: no numeric variables to import"
            + (f" ({'; '.join(notes)})" if notes else " (the file is empty)")
        )
    n = min(PREVIEW_ROWS, max(len(c.values) for c in cols))
    preview = [
        [cell_text(float(c.values[i])) if i < len(c.values) else "" for c in cols] for i in range(n)
    ]
    return Table("", cols, preview, notes=notes)


def _add(cols: list[Column], notes: list[str], name: str, arr: np.ndarray) -> None:
    """Columns from one numeric array, or a note why it is not one."""
    if arr.dtype.kind == "c":
        notes.append(f"{name}: complex numbers, not imported (split into real and imaginary)")
        return
    if arr.dtype.kind not in "biuf":
        notes.append(f"{name}: {arr.dtype} values, not imported")
        return
    a = np.asarray(arr)
    if a.size == 0:
        notes.append(f"{name}: empty")
        return
    if a.ndim <= 1 or sum(d > 1 for d in a.shape) <= 1:
        cols.append(Column(name, "", a.reshape(-1).astype(float, copy=False)))
        return
    if a.ndim > 2:
        notes.append(
            f"{name}: a {'x'.join(map(str, a.shape))} array, not imported (only 1-D and 2-D)"
        )
        return
    for k in range(a.shape[1]):
        cols.append(Column(f"{name}(:,{k + 1})", "", np.ascontiguousarray(a[:, k], dtype=float)))


def _read_v5(path: Path, cols: list[Column], notes: list[str]) -> None:
    try:
        import scipy.io as sio
        from scipy.io.matlab import mat_struct
    except ModuleNotFoundError:
        raise ImportFileError(f"reading MATLAB files needs scipy: {EXTRA_HINT}") from None
    try:
        data = sio.loadmat(str(path), struct_as_record=False, squeeze_me=False)
    except NotImplementedError:  # a v7.3 file without the usual header
        _read_h5(path, cols, notes)
        return
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError for broken files
        raise ImportFileError(
            f"{path}: not a readable MAT file, it is damaged or truncated ({exc})"
        ) from None

    def walk(name: str, v: Any, depth: int) -> None:
        if isinstance(v, mat_struct):
            for f in v._fieldnames:
                walk(f"{name}.{f}", getattr(v, f), depth + 1)
            return
        if isinstance(v, np.ndarray) and v.dtype.kind == "O":
            if v.size == 1 and isinstance(v.flat[0], mat_struct) and depth < 8:
                walk(name, v.flat[0], depth)
                return
            if v.size and all(isinstance(e, mat_struct) for e in v.flat):
                notes.append(f"{name}: a struct array of {v.size}, not imported")
                return
            notes.append(f"{name}: a cell array, not imported (only numeric arrays are)")
            return
        if isinstance(v, np.ndarray) and v.dtype.kind in "US":
            notes.append(f"{name}: text, not imported")
            return
        if hasattr(v, "toarray"):
            notes.append(f"{name}: a sparse matrix, not imported (use full() in MATLAB)")
            return
        if isinstance(v, np.ndarray) and v.dtype.names:
            notes.append(f"{name}: a record array, not imported")
            return
        _add(cols, notes, name, np.asarray(v))

    for key, value in data.items():
        if not key.startswith("__"):
            walk(key, value, 0)


def _read_h5(path: Path, cols: list[Column], notes: list[str]) -> None:
    try:
        import h5py
    except ModuleNotFoundError:
        raise ImportFileError(f"reading MATLAB v7.3 files needs h5py: {EXTRA_HINT}") from None
    try:
        f = h5py.File(str(path), "r")
    except OSError as exc:
        raise ImportFileError(
            f"{path}: not a readable MAT v7.3 file, it is damaged or truncated ({exc})"
        ) from None

    def cls_of(obj: Any) -> str:
        c = obj.attrs.get("MATLAB_class", b"")
        return c.decode() if isinstance(c, bytes) else str(c)

    def walk(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group):
            if cls_of(obj) not in ("", "struct"):
                notes.append(f"{name}: a MATLAB {cls_of(obj)} object, not imported")
                return
            for k in obj:
                walk(f"{name}.{k}" if name else k, obj[k])
            return
        c = cls_of(obj)
        if c == "cell" or obj.dtype.kind == "O":
            notes.append(f"{name}: a cell array, not imported (only numeric arrays are)")
            return
        if c == "char":
            notes.append(f"{name}: text, not imported")
            return
        if obj.attrs.get("MATLAB_empty", 0):
            notes.append(f"{name}: empty")
            return
        if obj.attrs.get("MATLAB_sparse", 0):
            notes.append(f"{name}: a sparse matrix, not imported (use full() in MATLAB)")
            return
        if obj.dtype.names:  # complex is stored as a {real, imag} compound
            notes.append(f"{name}: complex numbers, not imported (split into real and imaginary)")
            return
        # HDF5 holds MATLAB's column-major arrays transposed: A(:,k) is row k here
        _add(cols, notes, name, np.asarray(obj[()]).T)

    try:
        with f:
            for key in f:
                if not key.startswith("#"):  # #refs#, #subsystem#: MATLAB's own bookkeeping
                    walk(key, f[key])
    except (OSError, KeyError, ValueError) as exc:
        raise ImportFileError(f"{path}: the MAT v7.3 file is damaged ({exc})") from None
