"""Per-channel signal steps: bad-channel rule, resampling, zero-phase filtering, scaling.

Every function here works on one channel (a 1-D array), so a recording of any length is
processed one row at a time in bounded memory.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from bgb_data._recipe import Recipe

__all__ = [
    "IQR_TO_SIGMA",
    "STATS_MAX_SAMPLES",
    "bad_channel_kind",
    "design_sos",
    "resample_and_filter",
    "robust_scale",
]

IQR_TO_SIGMA = 1.349
"""IQR of a standard normal distribution: IQR / 1.349 estimates the standard deviation."""

STATS_MAX_SAMPLES = 1 << 17
"""Robust statistics use every k-th sample, k = ceil(n / STATS_MAX_SAMPLES)."""


def bad_channel_kind(row_uv: np.ndarray, sfreq_hz: float, recipe: Recipe) -> str | None:
    """``"flat"``, ``"saturated"`` or None for one raw channel in microvolts.

    Flat: more than ``flat_max_fraction`` of the whole 1 s blocks have a peak-to-peak
    amplitude below ``flat_ptp_uv``. Saturated: more than ``saturated_max_fraction`` of the
    samples equal the channel's own minimum or maximum (a signal pinned at the ADC range).
    """
    block = max(int(sfreq_hz), 1)
    n_blocks = row_uv.size // block
    if n_blocks:
        blocks = row_uv[: n_blocks * block].reshape(n_blocks, block)  # (n_blocks, block)
        ptp = blocks.max(axis=1) - blocks.min(axis=1)
        if np.mean(ptp < recipe.flat_ptp_uv) > recipe.flat_max_fraction:
            return "flat"
    lo, hi = row_uv.min(), row_uv.max()
    pinned = np.count_nonzero(row_uv == lo) + np.count_nonzero(row_uv == hi)
    if pinned > recipe.saturated_max_fraction * row_uv.size:
        return "saturated"
    return None


def design_sos(recipe: Recipe) -> np.ndarray:
    """Second-order sections of the band-pass followed by the notch, at ``recipe.sfreq_hz``.

    Butterworth band-pass of order ``bandpass_order`` per edge; with forward-backward
    filtering the magnitude is squared, so the edges sit at -6 dB and the roll-off doubles.
    The 120 Hz edge is below the 128 Hz Nyquist of 256 Hz output; the resampler's
    anti-alias FIR already removes content near Nyquist, the low-pass fixes the band edge.
    """
    from scipy import signal  # imported on use: scipy.signal takes ~0.5 s to import

    sos = signal.butter(
        recipe.bandpass_order,
        [recipe.highpass_hz, recipe.lowpass_hz],
        btype="bandpass",
        fs=recipe.sfreq_hz,
        output="sos",
    )
    if recipe.notch_hz is not None:
        b, a = signal.iirnotch(recipe.notch_hz, recipe.notch_q, fs=recipe.sfreq_hz)
        sos = np.vstack([sos, signal.tf2sos(b, a)])
    return np.asarray(sos, dtype=np.float64)


def resample_factors(sfreq_in_hz: float, sfreq_out_hz: float) -> tuple[int, int]:
    """(up, down) with sfreq_out / sfreq_in = up / down in lowest terms."""
    ratio = Fraction(sfreq_out_hz).limit_denominator(10_000) / Fraction(
        sfreq_in_hz
    ).limit_denominator(10_000)
    return ratio.numerator, ratio.denominator


def n_resampled(n_in: int, up: int, down: int) -> int:
    """Samples out of ``resample_poly`` for ``n_in`` samples in: ceil(n_in * up / down)."""
    return math.ceil(n_in * up / down)


def resample_and_filter(row: np.ndarray, up: int, down: int, sos: np.ndarray) -> np.ndarray:
    """Polyphase resampling by up/down, then zero-phase SOS filtering, in float32.

    float32 halves memory traffic; the SOS form keeps the 0.5 Hz high-pass stable in single
    precision (relative error about 1e-5, far below the float16 storage step).
    """
    from scipy import signal

    x = np.asarray(row, dtype=np.float32)
    if up != 1 or down != 1:
        x = signal.resample_poly(x, up, down).astype(np.float32, copy=False)
    return np.asarray(signal.sosfiltfilt(sos.astype(np.float32), x), dtype=np.float32)


def robust_scale(row: np.ndarray) -> tuple[float, float]:
    """(median, IQR / 1.349) of a channel from every k-th sample (see STATS_MAX_SAMPLES)."""
    step = max(1, math.ceil(row.size / STATS_MAX_SAMPLES))
    q25, q50, q75 = np.percentile(row[::step], [25.0, 50.0, 75.0])
    return float(q50), float(q75 - q25) / IQR_TO_SIGMA
