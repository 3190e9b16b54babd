"""open_npy_rows: column ranges of a 2-D .npy read with positioned reads, equal to the array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_data import open_npy_rows


def _saved(tmp_path: Path, array: np.ndarray) -> Path:
    path = tmp_path / "signal.npy"
    np.save(path, array)
    return path


@settings(max_examples=50, deadline=None)
@given(
    rows=st.integers(1, 5),
    columns=st.integers(1, 300),
    cut=st.tuples(st.integers(-400, 400), st.integers(-400, 400)),
)
def test_column_ranges_equal_the_array(
    tmp_path_factory: pytest.TempPathFactory, rows: int, columns: int, cut: tuple[int, int]
) -> None:
    array = np.arange(rows * columns, dtype=np.float16).reshape(rows, columns)
    path = _saved(tmp_path_factory.mktemp("reader"), array)
    with open_npy_rows(path) as reader:
        assert reader.shape == array.shape and reader.dtype == array.dtype
        got = reader[:, cut[0] : cut[1]]
    expected = array[:, cut[0] : cut[1]]
    assert got.shape == expected.shape
    assert np.array_equal(got, expected)


def test_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2-D C-order"):
        open_npy_rows(_saved(tmp_path, np.zeros(4)))
    with open_npy_rows(_saved(tmp_path, np.zeros((2, 4)))) as reader:
        with pytest.raises(IndexError, match=r"\[:, start:stop\]"):
            reader[:, ::2]
        with pytest.raises(IndexError, match=r"\[:, start:stop\]"):
            reader[slice(0, 1), slice(0, 2)]
    path = _saved(tmp_path, np.zeros((2, 4)))
    path.write_bytes(path.read_bytes()[:-8])  # truncated
    with pytest.raises(ValueError, match="shorter than the 2 x 4 array"):
        open_npy_rows(path)
