"""Runs of samples, the interval form that every post-processing step works on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_bool_mask

__all__ = ["Runs", "find_runs", "join_runs", "runs_to_mask"]


@dataclass(frozen=True, eq=False)
class Runs:
    """Sorted, disjoint, non-empty half-open sample intervals ``[starts[i], stops[i])``.

    Both arrays hold int64 sample indices of one trace at its own rate; ``stops`` is
    exclusive, so ``stops - starts`` are the lengths in samples. Adjacent runs
    (``stops[i] == starts[i + 1]``) are allowed: they arise when a long event is split.
    """

    starts: NDArray[np.int64]
    stops: NDArray[np.int64]

    def __post_init__(self) -> None:
        starts = _as_index_array(self.starts, "starts")
        stops = _as_index_array(self.stops, "stops")
        if starts.shape != stops.shape:
            raise ValueError(
                f"Runs needs as many starts as stops, got {starts.size} and {stops.size}"
            )
        if starts.size:
            if starts[0] < 0:
                raise ValueError(f"Runs start at a negative sample index ({starts[0]})")
            empty = np.flatnonzero(stops <= starts)
            if empty.size:
                i = int(empty[0])
                raise ValueError(f"run {i} is empty or reversed: [{starts[i]}, {stops[i]})")
            overlap = np.flatnonzero(starts[1:] < stops[:-1])
            if overlap.size:
                i = int(overlap[0])
                raise ValueError(f"runs {i} and {i + 1} overlap or are out of order")
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "stops", stops)

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def lengths(self) -> NDArray[np.int64]:
        """Length of each run in samples."""
        return self.stops - self.starts

    @classmethod
    def empty(cls) -> Runs:
        """No runs."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))


def _as_index_array(values: ArrayLike, name: str) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"Runs.{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"Runs.{name} must hold integer sample indices, got {array.dtype}")
    return array.astype(np.int64, copy=False)


def find_runs(mask: ArrayLike) -> Runs:
    """The maximal runs of True in a 1-D bool mask."""
    on = as_bool_mask(mask)
    if on.size == 0:
        return Runs.empty()
    # Indices where the value changes, then every run boundary including both ends; runs
    # alternate between True and False starting with the value of the first sample.
    changes = np.flatnonzero(on[1:] != on[:-1]) + 1
    bounds = np.concatenate(([0], changes, [on.size])).astype(np.int64, copy=False)
    first = 0 if on[0] else 1
    return Runs(bounds[first:-1:2], bounds[first + 1 :: 2])


def runs_to_mask(runs: Runs, n_samples: int) -> NDArray[np.bool_]:
    """The 1-D bool mask of ``n_samples`` samples that is True exactly on ``runs``."""
    if len(runs) and runs.stops[-1] > n_samples:
        raise ValueError(f"a run ends at sample {runs.stops[-1]}, beyond n_samples={n_samples}")
    steps = np.zeros(n_samples + 1, np.int8)
    # Starts are distinct and so are stops; a start equal to the previous stop cancels.
    steps[runs.starts] += 1
    steps[runs.stops] -= 1
    return np.cumsum(steps[:-1], dtype=np.int8).astype(np.bool_)


def join_runs(runs: Runs, join: NDArray[np.bool_]) -> Runs:
    """Runs with run ``i`` and ``i + 1`` joined (gap filled) wherever ``join[i]`` is True."""
    if join.shape != (max(len(runs) - 1, 0),):
        raise ValueError(f"join needs one flag per gap ({len(runs) - 1}), got {join.shape}")
    if len(runs) == 0:
        return runs
    keep_start = np.concatenate(([True], ~join))
    keep_stop = np.concatenate((~join, [True]))
    return Runs(runs.starts[keep_start], runs.stops[keep_stop])
