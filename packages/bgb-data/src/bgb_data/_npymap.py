"""Read-only memory maps of ``.npy`` files: the header parsed once, later maps without it.

A map holds one file descriptor for as long as it lives: Python's ``mmap`` keeps a
duplicate of the descriptor it maps (Python 3.13 adds ``trackfd=False``; 3.11 has no way
round it). Closing the map, which happens when the last array viewing it is freed, closes
that descriptor. Whoever keeps maps open therefore bounds how many (see
:class:`bgb_data.WindowDataset`).
"""

from __future__ import annotations

import math
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ColumnReader", "NpyLayout", "map_array", "read_layout"]


@dataclass(frozen=True)
class NpyLayout:
    """Where the array of a ``.npy`` file lies: the file, shape, dtype, data offset."""

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]
    offset: int
    """Bytes of header before the data."""
    fortran_order: bool = False

    @property
    def data_bytes(self) -> int:
        """Bytes of array data after the header."""
        return math.prod(self.shape) * self.dtype.itemsize


def read_layout(path: Path) -> NpyLayout:
    """Parse the header of the ``.npy`` file at ``path``.

    Raises:
        OSError: the file cannot be read.
        ValueError: not a ``.npy`` file (no magic string, or an unreadable header).
    """
    with path.open("rb") as f:
        major, _ = np.lib.format.read_magic(f)
        shape, fortran_order, dtype = (
            np.lib.format.read_array_header_1_0(f)
            if major == 1
            else np.lib.format.read_array_header_2_0(f)
        )
        return NpyLayout(str(path), tuple(shape), dtype, f.tell(), bool(fortran_order))


def map_array(layout: NpyLayout) -> np.ndarray:
    """Read-only array backed by a memory map of ``layout.path`` (nothing is read or copied).

    The map, and the descriptor it holds, is released when the returned array and every
    view of it are freed.

    Raises:
        ValueError: the file is shorter than ``layout`` states, or ``layout`` is Fortran
            ordered (the cache writes C order).
    """
    path = layout.path
    if layout.fortran_order:
        raise ValueError(f"{path}: Fortran-ordered array; the cache writes C order")
    fd = os.open(path, os.O_RDONLY)
    try:
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)  # keeps its own duplicate
    except ValueError as err:  # an empty file
        raise ValueError(f"{path}: {err}; rebuild the cache") from None
    finally:
        os.close(fd)
    if len(mapped) < layout.offset + layout.data_bytes:
        size = len(mapped)
        mapped.close()
        raise ValueError(
            f"{path}: {size} bytes, but its header states {layout.offset + layout.data_bytes}; "
            "rebuild the cache"
        )
    return np.ndarray(layout.shape, dtype=layout.dtype, buffer=mapped, offset=layout.offset)


class ColumnReader:
    """A C-order 2-D ``.npy`` array of shape (rows, n), read a column range at a time with
    positioned reads, never mapped.

    Pages of a memory map that have been read count in the process's resident memory until the
    map closes, so a map read from end to end (a 24 h recording) holds the whole file. This
    reader holds one descriptor and only the columns asked for. Use it as a context manager, or
    call :meth:`close`.

    Raises:
        ValueError: the array is not 2-D, is Fortran ordered, or the file is shorter than its
            header states.
    """

    def __init__(self, path: Path) -> None:
        layout = read_layout(path)
        if len(layout.shape) != 2 or layout.fortran_order:
            raise ValueError(f"{path}: ColumnReader reads 2-D C-order arrays, got {layout}")
        if os.path.getsize(path) < layout.offset + layout.data_bytes:
            raise ValueError(f"{path}: shorter than its header states")
        self.layout = layout
        self.shape: tuple[int, int] = (layout.shape[0], layout.shape[1])
        self.dtype = layout.dtype
        self._fd = os.open(path, os.O_RDONLY)

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        """``reader[:, start:stop]``: every row, columns start to stop (step 1), as a fresh array.

        Shapes: -> (rows, stop - start), the file's dtype.
        """
        rows, columns = key
        if rows != slice(None) or columns.step not in (None, 1):
            raise IndexError("ColumnReader takes [:, start:stop] only")
        n_rows, n_columns = self.shape
        start, stop, _ = columns.indices(n_columns)
        width = max(0, stop - start)
        out = np.empty((n_rows, width), dtype=self.dtype)
        size = self.dtype.itemsize
        for row in range(n_rows):
            where = self.layout.offset + (row * n_columns + start) * size
            view = memoryview(out[row]).cast("B")
            got = os.preadv(self._fd, [view], where)
            if got != width * size:
                raise OSError(f"{self.layout.path}: short read at byte {where}")
        return out

    def close(self) -> None:
        """Release the descriptor (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ColumnReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
