"""Row-major 2-D arrays on disk, written and read one row (or row segment) at a time.

Plain ``pwrite``/``fromfile`` instead of a writable memory map keeps the process's resident
memory at one row: pages of a shared file mapping count towards resident memory, pages
written through the file API only towards the kernel's page cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bgb_data._npymap import read_layout

__all__ = ["RowFile", "npy_row_writer", "open_npy_rows"]


class RowFile:
    """A (n_rows, n_cols) array of ``dtype`` at byte ``offset`` of a file.

    Opened read-write (created or resized to fit) unless ``read_only``, in which case the file
    must already hold the whole array.
    """

    def __init__(
        self,
        path: Path,
        n_rows: int,
        n_cols: int,
        dtype: str,
        offset: int = 0,
        *,
        read_only: bool = False,
    ):
        self.path = path
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.dtype = np.dtype(dtype)
        self.offset = offset
        end = offset + n_rows * n_cols * self.dtype.itemsize
        if read_only:
            if os.path.getsize(path) < end:
                raise ValueError(f"{path}: shorter than the {n_rows} x {n_cols} array it holds")
            self._fd = os.open(path, os.O_RDONLY)
        else:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            os.ftruncate(self._fd, end)

    @property
    def shape(self) -> tuple[int, int]:
        """(n_rows, n_cols)."""
        return (self.n_rows, self.n_cols)

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
        out = np.empty(self.n_cols, dtype=self.dtype)
        self._read_into(out, row, 0)
        return out

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        """``rows[:, start:stop]``: every row, a column range (step 1), as a fresh array.

        Shapes: -> (n_rows, stop - start).
        """
        rows, columns = key
        if rows != slice(None) or columns.step not in (None, 1):
            raise IndexError("RowFile takes [:, start:stop] only")
        start, stop, _ = columns.indices(self.n_cols)
        out = np.empty((self.n_rows, max(0, stop - start)), dtype=self.dtype)
        for row in range(self.n_rows):
            self._read_into(out[row], row, start)
        return out

    def _read_into(self, out: np.ndarray, row: int, start: int) -> None:
        pos = self.offset + (row * self.n_cols + start) * self.dtype.itemsize
        view = memoryview(out.data).cast("B")
        got = 0
        while got < len(view):
            n = os.preadv(self._fd, [view[got:]], pos + got)
            if n == 0:
                raise OSError(f"{self.path}: unexpected end of file in row {row}")
            got += n

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


def open_npy_rows(path: Path) -> RowFile:
    """A 2-D C-order ``.npy`` file for reading column ranges (``rows[:, start:stop]``) with
    positioned reads, never mapped.

    Pages of a memory map that have been read count in the process's resident memory until the
    map closes, so a map read from end to end (a 24 h recording) holds the whole file; this
    reader holds one descriptor and the columns asked for.

    Raises:
        ValueError: the array is not 2-D, is Fortran ordered, or the file is shorter than its
            header states.
    """
    layout = read_layout(path)
    if len(layout.shape) != 2 or layout.fortran_order:
        raise ValueError(f"{path}: expected a 2-D C-order array, got {layout}")
    n_rows, n_cols = layout.shape
    return RowFile(path, n_rows, n_cols, layout.dtype.str, layout.offset, read_only=True)
