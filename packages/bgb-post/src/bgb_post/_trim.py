"""Event edges taken from the trace before averaging."""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._runs import Runs
from ._validate import as_probability_trace

__all__ = ["trim_runs", "trim_runs_unchecked"]


def trim_runs(probs: ArrayLike, runs: Runs, level: float) -> Runs:
    """Each run narrowed to the span from its first to its last sample with ``probs >= level``.

    A run holding no such sample is kept as it is. The result is a subset of ``runs``, run
    for run, so it stays sorted and disjoint. Raises ValueError on a bad trace or level, or
    a run that ends beyond the trace.
    """
    trace = as_probability_trace(probs)
    if isinstance(level, bool) or not isinstance(level, Real) or not 0.0 <= level <= 1.0:
        raise ValueError(f"level must be a real number in [0, 1], got {level!r}")
    if len(runs) and runs.stops[-1] > trace.size:
        raise ValueError(
            f"a run ends at sample {runs.stops[-1]}, beyond the trace ({trace.size} samples)"
        )
    return trim_runs_unchecked(trace, runs, float(level))


def trim_runs_unchecked(trace: NDArray[np.floating[Any]], runs: Runs, level: float) -> Runs:
    """:func:`trim_runs` without its checks.

    The caller vouches that ``trace`` comes from ``as_probability_trace``, ``level`` lies
    in [0, 1] and every run ends inside the trace.
    """
    if len(runs) == 0:
        return runs
    above = np.flatnonzero(trace >= trace.dtype.type(level))
    # above[first[i]:past[i]] are the qualifying samples of run i (sorted indices).
    first = np.searchsorted(above, runs.starts, side="left")
    past = np.searchsorted(above, runs.stops, side="left")
    held = past > first
    starts = runs.starts.copy()
    stops = runs.stops.copy()
    starts[held] = above[first[held]]
    stops[held] = above[past[held] - 1] + 1
    return Runs(starts, stops)
