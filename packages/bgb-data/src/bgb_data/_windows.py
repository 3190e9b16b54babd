"""Window positions over a recording and the seizure fraction of each window.

Windows are index arithmetic over a stored recording, never copies: a window is
``signal[:, start : start + window_n]``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STRIDE_N", "WINDOW_N", "window_seizure_fractions", "window_starts"]

WINDOW_N = 15_360
"""Samples per window: 60 s at 256 Hz."""
STRIDE_N = 2_560
"""Samples between window starts: 10 s at 256 Hz."""


def window_starts(n_samples: int, window_n: int = WINDOW_N, stride_n: int = STRIDE_N) -> np.ndarray:
    """Start samples of windows covering a recording, int64 (n_windows,).

    Starts are 0, stride_n, 2 * stride_n, ... while the window fits; when that leaves a tail
    uncovered, one more window ends exactly at the last sample (it overlaps its neighbour
    by more than usual). A recording shorter than one window has no windows: ValueError.
    """
    if window_n <= 0 or stride_n <= 0:
        raise ValueError(f"window_n ({window_n}) and stride_n ({stride_n}) must be positive")
    if n_samples < window_n:
        raise ValueError(f"{n_samples} samples is shorter than one window of {window_n}")
    starts = np.arange(0, n_samples - window_n + 1, stride_n, dtype=np.int64)
    if starts[-1] + window_n < n_samples:
        starts = np.append(starts, np.int64(n_samples - window_n))
    return starts


def window_seizure_fractions(labels: np.ndarray, starts: np.ndarray, window_n: int) -> np.ndarray:
    """Fraction of seizure samples in each window, float32 (n_windows,).

    Shapes: labels (n_samples,) 0/1; starts (n_windows,).
    """
    cumulative = np.concatenate([[0], np.cumsum(labels, dtype=np.int64)])
    counts = cumulative[starts + window_n] - cumulative[starts]
    return np.asarray(counts / window_n, dtype=np.float32)
