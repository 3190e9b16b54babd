"""Row-major 2-D arrays on disk, written and read one row (or row segment) at a time.

Plain ``pwrite``/``fromfile`` instead of a writable memory map keeps the process's resident
memory at one row: pages of a shared file mapping count towards resident memory, pages
written through the file API only towards the kernel's page cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["RowFile", "npy_row_writer"]


class RowFile:
    """A (n_rows, n_cols) array of ``dtype`` at byte ``offset`` of a file opened read-write."""

    def __init__(self, path: Path, n_rows: int, n_cols: int, dtype: str, offset: int = 0):
        self.path = path
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.dtype = np.dtype(dtype)
        self.offset = offset
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        os.ftruncate(self._fd, offset + n_rows * n_cols * self.dtype.itemsize)

    def write(self, row: int, start: int, values: np.ndarray) -> None:
        """Write ``values`` (1-D) into ``row`` from column ``start`` on."""
        data = np.ascontiguousarray(values, dtype=self.dtype)
        if start + data.size > self.n_cols:
            raise ValueError(f"{self.path}: write past the end of row {row}")
        pos = self.offset + (row * self.n_cols + start) * self.dtype.itemsize
        view = memoryview(data.data).cast("B")
        while view:
            written = os.pwrite(self._fd, view, pos)
            view = view[written:]
            pos += written

    def read(self, row: int) -> np.ndarray:
        """One whole row as a fresh array."""
        pos = self.offset + row * self.n_cols * self.dtype.itemsize
        out = np.empty(self.n_cols, dtype=self.dtype)
        view = memoryview(out.data).cast("B")
        got = 0
        while got < len(view):
            n = os.preadv(self._fd, [view[got:]], pos + got)
            if n == 0:
                raise OSError(f"{self.path}: unexpected end of file in row {row}")
            got += n
        return out

    def close(self) -> None:
        """Close the file descriptor (the file stays)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RowFile:
        return self

    def __exit__(self, *exc: object) -> None:
        # A plain descriptor has no finaliser: a rejection midway must not leak it.
        self.close()


def npy_row_writer(path: Path, n_rows: int, n_cols: int, dtype: str) -> RowFile:
    """Create a ``.npy`` file of shape (n_rows, n_cols) and return a writer for its rows."""
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": (n_rows, n_cols)}
        )
        offset = f.tell()
    return RowFile(path, n_rows, n_cols, dtype, offset)
