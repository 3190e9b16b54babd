"""Input checks shared by the public functions: each raises ValueError saying what and where."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_bool_mask",
    "as_probability_trace",
    "check_length_samples",
    "check_positive_seconds",
    "check_sfreq",
    "check_thresholds",
]


def as_probability_trace(probs: ArrayLike, name: str = "probs") -> NDArray[np.floating[Any]]:
    """The trace as a 1-D float32/float64 array of finite values in [0, 1], else ValueError.

    float32 and float64 input is used as is (no copy); any other numeric dtype is converted
    to float64. ``name`` is what the error messages call the trace (``probs[3] is nan``).
    Shapes: (n_samples,) with n_samples >= 1.
    """
    trace = np.asarray(probs)
    if trace.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one recording), got shape {trace.shape}")
    if trace.size == 0:
        raise ValueError(f"{name} is empty: a recording needs at least one sample")
    if trace.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(trace.dtype, np.number) or trace.dtype == np.bool_):
            raise ValueError(f"{name} must be numeric, got dtype {trace.dtype}")
        trace = trace.astype(np.float64)
    # Two reductions instead of an isfinite mask: NaN propagates through min, and +-inf or
    # a logit passed by mistake falls outside [0, 1].
    low, high = trace.min(), trace.max()
    if np.isnan(low):
        first = int(np.flatnonzero(np.isnan(trace))[0])
        raise ValueError(f"probabilities must be finite, but {name}[{first}] is nan")
    if low < 0.0 or high > 1.0:
        bad = int(np.flatnonzero((trace < 0.0) | (trace > 1.0))[0])
        raise ValueError(
            f"{name}[{bad}] = {trace[bad]} lies outside [0, 1]; pass probabilities, not logits"
        )
    return trace


def as_bool_mask(mask: ArrayLike, name: str = "mask") -> NDArray[np.bool_]:
    """The mask as a 1-D bool array (no copy when it already is one)."""
    array = np.asarray(mask)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype != np.bool_:
        raise ValueError(f"{name} must have dtype bool, got {array.dtype}")
    return array


def check_sfreq(sfreq_hz: float) -> float:
    """The sampling rate as a float, which must be finite and positive."""
    return check_positive_seconds(sfreq_hz, "sfreq_hz")


def check_positive_seconds(value: float, name: str) -> float:
    """``value`` as a float, which must be a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return number


def check_length_samples(value: int, name: str) -> int:
    """``value`` as an int, which must be an integer >= 1 (a length in samples)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer number of samples, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1 sample, got {value}")
    return int(value)


def check_thresholds(tau_on: float, tau_off: float) -> tuple[float, float]:
    """The hysteresis thresholds, each in [0, 1], with ``tau_off <= tau_on``."""
    for name, value in (("tau_on", tau_on), ("tau_off", tau_off)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"{name} must be a real number, got {value!r}")
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    if tau_off > tau_on:
        raise ValueError(f"tau_off ({tau_off}) must not exceed tau_on ({tau_on})")
    return float(tau_on), float(tau_off)
