"""Hysteresis thresholding: runs above tau_off that reach tau_on somewhere."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._runs import Runs, find_runs, runs_to_mask
from ._validate import as_probability_trace, check_thresholds

__all__ = ["hysteresis", "hysteresis_runs", "hysteresis_runs_unchecked"]


def hysteresis_runs(probs: ArrayLike, tau_on: float, tau_off: float) -> Runs:
    """Hysteresis events of a probability trace as runs of samples.

    An event is a maximal run of samples with ``p >= tau_off`` that contains at least one
    sample with ``p >= tau_on``. Comparisons are made in the trace's dtype (a float32 trace
    is compared with the thresholds rounded to float32).

    Shapes: ``probs`` (n_samples,) with values in [0, 1].
    """
    trace = as_probability_trace(probs)
    tau_on, tau_off = check_thresholds(tau_on, tau_off)
    return hysteresis_runs_unchecked(trace, tau_on, tau_off)


def hysteresis(probs: ArrayLike, tau_on: float, tau_off: float) -> NDArray[np.bool_]:
    """Hysteresis mask of a probability trace: True on the samples of every event.

    Same rule as :func:`hysteresis_runs`. Shapes: ``probs`` (n_samples,) -> (n_samples,).
    """
    trace = as_probability_trace(probs)
    tau_on, tau_off = check_thresholds(tau_on, tau_off)
    return runs_to_mask(hysteresis_runs_unchecked(trace, tau_on, tau_off), trace.size)


def hysteresis_runs_unchecked(
    trace: NDArray[np.floating[Any]], tau_on: float, tau_off: float
) -> Runs:
    """:func:`hysteresis_runs` without its checks.

    The caller vouches that ``trace`` comes from ``as_probability_trace`` and the thresholds
    from ``check_thresholds``.
    """
    as_dtype = trace.dtype.type
    candidates = find_runs(trace >= as_dtype(tau_off))
    if len(candidates) == 0:
        return candidates
    # Samples between candidate runs lie below tau_off <= tau_on, so the maximum over
    # [starts[i], starts[i + 1]) reaches tau_on exactly when run i does: one reduceat pass,
    # no slicing per run.
    peaks = np.maximum.reduceat(trace, candidates.starts)
    reaches_on = peaks >= as_dtype(tau_on)
    return Runs(candidates.starts[reaches_on], candidates.stops[reaches_on])
