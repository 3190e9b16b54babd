"""Per-channel signal steps: bad-channel rules, resampling, zero-phase filtering, scaling.

Every function here but :func:`amplitude_outliers` works on one channel (a 1-D array), so a
recording of any length is processed one row at a time in bounded memory;
:func:`amplitude_outliers` compares one number per channel (:func:`typical_ptp_uv`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

import numpy as np

from bgb_data._recipe import Recipe

__all__ = [
    "IQR_TO_SIGMA",
    "STATS_MAX_SAMPLES",
    "amplitude_outliers",
    "bad_channel_kind",
    "design_sos",
    "resample_and_filter",
    "robust_scale",
    "typical_ptp_uv",
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
    ptp = _block_ptp_uv(row_uv, sfreq_hz)
    if ptp.size and np.mean(ptp < recipe.flat_ptp_uv) > recipe.flat_max_fraction:
        return "flat"
    lo, hi = row_uv.min(), row_uv.max()
    pinned = np.count_nonzero(row_uv == lo) + np.count_nonzero(row_uv == hi)
    if pinned > recipe.saturated_max_fraction * row_uv.size:
        return "saturated"
    return None


def _block_ptp_uv(row_uv: np.ndarray, sfreq_hz: float) -> np.ndarray:
    """(n_blocks,) peak-to-peak of each whole 1 s block of one channel (a partial tail is
    left out), in the row's unit."""
    block = max(int(sfreq_hz), 1)
    n_blocks = row_uv.size // block
    blocks = row_uv[: n_blocks * block].reshape(n_blocks, block)  # (n_blocks, block)
    return np.asarray(blocks.max(axis=1) - blocks.min(axis=1)) if n_blocks else np.zeros(0)


def typical_ptp_uv(row_uv: np.ndarray, sfreq_hz: float) -> float:
    """Median over the whole 1 s blocks of one channel of their peak-to-peak, microvolts.

    The median ignores anything that covers under half the recording (blinks, pops, muscle
    bursts, seizures); it is what the channel looks like most of the time.

    Raises:
        ValueError: the row holds less than one whole 1 s block.
    """
    ptp = _block_ptp_uv(row_uv, sfreq_hz)
    if not ptp.size:
        raise ValueError(f"typical_ptp_uv: {row_uv.size} samples at {sfreq_hz} Hz, under 1 s")
    return float(np.median(ptp))


def amplitude_outliers(typical_uv: Mapping[str, float], recipe: Recipe) -> tuple[str, ...]:
    """Electrodes whose typical amplitude is far beyond both EEG and the other electrodes.

    ``typical_uv`` maps each usable electrode to its :func:`typical_ptp_uv` (after
    filtering). An electrode is an outlier when its value exceeds ``amplitude_ptp_uv`` and
    ``amplitude_ratio`` times the median of the values of the other electrodes; with no
    other electrode there is nothing to compare with and nothing is flagged.
    """
    names = list(typical_uv)
    values = np.array([typical_uv[n] for n in names], dtype=np.float64)  # (n_electrodes,)
    out = []
    for i, name in enumerate(names):
        others = np.delete(values, i)
        if not others.size or values[i] <= recipe.amplitude_ptp_uv:
            continue
        if values[i] > recipe.amplitude_ratio * float(np.median(others)):
            out.append(name)
    return tuple(out)


def design_sos(recipe: Recipe) -> np.ndarray:
    """Second-order sections of the band-pass, then one notch per ``recipe.notch_hz``.

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
    for notch_hz in recipe.notch_hz:
        b, a = signal.iirnotch(notch_hz, recipe.notch_q, fs=recipe.sfreq_hz)
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
