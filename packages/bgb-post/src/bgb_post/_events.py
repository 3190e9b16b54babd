"""Events in seconds with a confidence, the output of post-processing."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bgb_events import EVENT_DTYPE

from ._runs import Runs
from ._validate import as_probability_trace, check_sfreq

__all__ = ["events_from_runs", "events_from_runs_unchecked"]


def events_from_runs(probs: ArrayLike, runs: Runs, sfreq_hz: float) -> NDArray[np.void]:
    """Runs of samples as a structured array of EVENT_DTYPE, sorted by onset.

    ``start_s = starts / sfreq_hz``, ``stop_s = stops / sfreq_hz`` (``stops`` exclusive, so
    an event of one sample lasts ``1 / sfreq_hz``), ``confidence`` = mean of ``probs`` over
    ``[start, stop)``.
    """
    trace = as_probability_trace(probs)
    sfreq = check_sfreq(sfreq_hz)
    if len(runs) and runs.stops[-1] > trace.size:
        raise ValueError(
            f"a run ends at sample {runs.stops[-1]}, beyond the trace ({trace.size} samples)"
        )
    return events_from_runs_unchecked(trace, runs, sfreq)


def events_from_runs_unchecked(
    trace: NDArray[np.floating[Any]], runs: Runs, sfreq_hz: float
) -> NDArray[np.void]:
    """Events of runs inside a checked trace, without the checks of :func:`events_from_runs`.

    The caller vouches that ``trace`` comes from ``as_probability_trace``, ``sfreq_hz`` from
    ``check_sfreq`` and that every run ends inside the trace.
    """
    events = np.empty(len(runs), EVENT_DTYPE)
    events["start_s"] = runs.starts / sfreq_hz
    events["stop_s"] = runs.stops / sfreq_hz
    events["confidence"] = _run_means(trace, runs)
    return events


def _run_means(trace: NDArray[np.floating[Any]], runs: Runs) -> NDArray[np.float64]:
    """Mean of the trace over each run, by one reduceat over the span of all runs."""
    if len(runs) == 0:
        return np.zeros(0, np.float64)
    # Boundaries alternate start, stop, start, ...; the even segments are the runs. An
    # adjacent pair (stop == next start) yields an empty odd segment, which is discarded.
    offset = runs.starts[0]
    span = trace[offset : runs.stops[-1]]
    bounds = np.column_stack((runs.starts, runs.stops)).ravel()[:-1] - offset  # (2E - 1,)
    sums = np.add.reduceat(span, bounds)[::2]
    return sums.astype(np.float64) / runs.lengths
