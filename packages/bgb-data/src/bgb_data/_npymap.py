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

__all__ = ["NpyLayout", "map_array", "read_layout"]


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
