"""Centred moving average of a probability trace, the optional first step of the pipeline.

A detector's trace can peak for a second or two on an artifact as high as it does inside a
seizure; what sets a seizure apart is that it stays high for ten seconds or more. Averaging
over a window of several seconds before the thresholds lowers short peaks much more than
sustained ones (README, "Unseen corpora").

The window is the odd number of samples nearest to ``window_s * sfreq_hz`` (at least 1),
centred on each sample. Near the borders it holds fewer samples, and the mean is taken over
those that exist: nothing is assumed about the signal outside the recording.

Each sum is a difference of running sums in float64, restarted every CHUNK_SAMPLES window
positions so that no running sum covers more than CHUNK_SAMPLES + w samples. Sequential
accumulation gives the same bits on every machine, and for samples in [0, 1] its rounding
error stays below (CHUNK_SAMPLES + w)**2 * eps per sum (eps = 2**-52), so below
(CHUNK_SAMPLES + w)**2 * eps / (w // 2 + 1) per mean, whatever the recording's length:
under 1e-8 for any window of a second or more at 256 Hz.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import as_probability_trace, check_positive_seconds, check_sfreq

__all__ = ["CHUNK_SAMPLES", "moving_average", "moving_average_unchecked", "window_samples"]

CHUNK_SAMPLES = 1 << 16
"""Window positions per running sum (see the module docstring for why it is bounded)."""


def window_samples(window_s: float, sfreq_hz: float) -> int:
    """The window's length in samples: the odd integer nearest to window_s * sfreq_hz.

    A tie (an even product) goes to the longer window.
    """
    half = math.floor(check_positive_seconds(window_s, "window_s") * check_sfreq(sfreq_hz) / 2)
    return 2 * half + 1


def moving_average_unchecked(
    trace: NDArray[np.floating[Any]], length_samples: int
) -> NDArray[np.floating[Any]]:
    """``moving_average`` on a trace already checked, with the window in samples (odd, >= 1).

    Shapes: (n_samples,) -> (n_samples,), in the trace's dtype. Besides the result, it holds
    only a chunk's worth of float64 sums at a time, whatever the recording's length.
    """
    if length_samples == 1:
        return trace
    n = trace.size
    half = length_samples // 2
    out = np.empty(n, dtype=trace.dtype)
    # 1. the interior, where every window is whole: sample i averages trace[i - half : i + half + 1]
    if n >= length_samples:
        _interior_means(trace, length_samples, out[half : n - half])
    # 2. the borders, where the window holds only the samples that exist: prefix sums from
    #    either end, each over at most 2 * half samples
    border = min(half, n)
    count = np.minimum(np.arange(border) + half + 1, n)  # samples in the window of sample i
    head = np.cumsum(trace[: min(2 * half, n)], dtype=np.float64)
    out[:border] = _probabilities(head[count - 1] / count)
    tail = np.cumsum(trace[::-1][: min(2 * half, n)], dtype=np.float64)
    out[n - border :] = _probabilities(tail[count - 1] / count)[::-1]
    return out


def _interior_means(
    trace: NDArray[np.floating[Any]], length_samples: int, out: NDArray[np.floating[Any]]
) -> None:
    """Means of trace[j : j + length_samples] for every j in [0, n - length_samples], into out.

    Shapes: trace (n_samples,), out (n_samples - length_samples + 1,).
    """
    n_windows = trace.size - length_samples + 1
    running = np.empty(CHUNK_SAMPLES + length_samples, dtype=np.float64)
    running[0] = 0.0
    for first in range(0, n_windows, CHUNK_SAMPLES):
        count = min(CHUNK_SAMPLES, n_windows - first)
        span = count + length_samples - 1
        np.cumsum(trace[first : first + span], dtype=np.float64, out=running[1 : span + 1])
        sums = running[length_samples : span + 1] - running[:count]
        out[first : first + count] = _probabilities(sums / length_samples)


def _probabilities(means: NDArray[np.float64]) -> NDArray[np.float64]:
    """The means, pinned to [0, 1] in place.

    Differences of rounded sums can leave a mean of values in [0, 1] a few ulps outside that
    range (bound in the module docstring); the trace must stay a probability.
    """
    np.clip(means, 0.0, 1.0, out=means)
    return means


def moving_average(probs: ArrayLike, sfreq_hz: float, window_s: float) -> NDArray[np.floating[Any]]:
    """Centred moving average of a probability trace over ``window_s`` seconds.

    See the module docstring for the window and the borders. Shapes: (n_samples,) ->
    (n_samples,); float32 and float64 traces keep their dtype. Raises ValueError on a bad
    trace, rate or window.
    """
    trace = as_probability_trace(probs)
    return moving_average_unchecked(trace, window_samples(window_s, sfreq_hz))
