"""The preprocessing recipe: every step and parameter, serialisable and hashed.

A cache is reused only when the recipe hash of its files equals the hash of the recipe
asked for; the hash covers :data:`RECIPE_VERSION`, so a change to what the code does with
the same parameters also invalidates old caches.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RECIPE_VERSION", "SFREQ_HZ", "Recipe"]

SFREQ_HZ = 256.0
"""Sampling rate of every prepared recording, in Hz."""

RECIPE_VERSION = 2
"""Bumped whenever the preprocessing code changes what it computes."""

_DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class Recipe:
    """Preprocessing steps, applied in this order to one recording.

    1. Pick the 19 electrodes (:data:`bgb_data.ELECTRODES`); flag flat and saturated ones
       on the channel as read (microvolts, input rate):

       - ``flat``: more than ``flat_max_fraction`` of the whole 1 s blocks have a
         peak-to-peak below ``flat_ptp_uv``;
       - ``saturated``: more than ``saturated_max_fraction`` of the samples sit at the
         channel's own minimum or maximum.

    2. Resample each other channel to ``sfreq_hz`` (polyphase FIR, scipy ``resample_poly``).
    3. Zero-phase Butterworth band-pass and one notch per ``notch_hz`` (``sosfiltfilt``).
    4. Flag amplitude outliers on the filtered channels (so DC offsets, drifts and mains
       never count), before any mixing (the common average would spread them into every
       channel): ``amplitude`` when the channel's typical amplitude (median over its whole
       1 s blocks of the peak-to-peak, microvolts; blind to anything covering under half
       the recording) exceeds both ``amplitude_ptp_uv`` and ``amplitude_ratio`` times the
       median of that statistic over the other usable electrodes.
    5. Replace missing, flat, saturated and amplitude-outlier electrodes (at most
       ``max_interpolated`` together) by the mean of their usable neighbours.
    6. Re-reference to the common average of the 19 electrodes.
    7. Per channel: subtract the median, divide by IQR / 1.349, clip to +-``clip``.
    8. Store as ``dtype``.
    """

    sfreq_hz: float = SFREQ_HZ
    """Output sampling rate in Hz."""
    highpass_hz: float = 0.5
    """Band-pass lower edge (-6 dB after forward-backward filtering), Hz."""
    lowpass_hz: float = 120.0
    """Band-pass upper edge (-6 dB after forward-backward filtering), Hz; below Nyquist."""
    bandpass_order: int = 2
    """Butterworth order per band edge of the one-way design; forward-backward filtering
    doubles it (2 -> 24 dB/octave, like a 4th-order filter, with no phase shift)."""
    notch_hz: tuple[float, ...] = (50.0, 60.0)
    """Mains notch frequencies in Hz, one IIR notch each (empty: no notch). Both mains
    frequencies by default, so recordings from 50 Hz and 60 Hz countries alike lose their
    line noise. Stored as a list in :meth:`to_dict`."""
    notch_q: float = 30.0
    """Notch quality factor (bandwidth = frequency / notch_q: 1.7 Hz at 50, 2 Hz at 60)."""
    reference: str = "average"
    """``average`` (common average of the 19 electrodes) or ``none``."""
    max_interpolated: int = 3
    """Most electrodes (missing, flat, saturated or amplitude outliers together) replaced by
    interpolation."""
    min_neighbours: int = 2
    """Fewest usable neighbours an interpolated electrode needs."""
    flat_ptp_uv: float = 1.0
    """A 1 s block is flat when its peak-to-peak amplitude is below this, microvolts."""
    flat_max_fraction: float = 0.5
    """A channel is flat when more than this fraction of its 1 s blocks are flat."""
    saturated_max_fraction: float = 0.01
    """A channel is saturated when more than this fraction of its samples sit at the
    channel's own minimum or maximum value."""
    amplitude_ptp_uv: float = 1000.0
    """Absolute limit of the amplitude rule: a channel is an outlier only when its typical
    1 s peak-to-peak after filtering exceeds this, microvolts (scalp EEG, even high-voltage
    paediatric delta, stays below about 500)."""
    amplitude_ratio: float = 10.0
    """Relative limit of the amplitude rule: a channel is an outlier only when its typical
    1 s peak-to-peak also exceeds this many times the median of the other usable
    electrodes (scalp fields are smooth: neighbours a few cm apart see similar
    amplitudes)."""
    clip: float = 20.0
    """Clip normalised values to +-clip (robust standard deviations)."""
    min_duration_s: float = 60.0
    """Recordings shorter than this are rejected (one 60 s window)."""
    dtype: str = "float16"
    """Storage dtype of the prepared signal."""

    def __post_init__(self) -> None:
        nyquist = self.sfreq_hz / 2
        if not 0 < self.highpass_hz < self.lowpass_hz < nyquist:
            raise ValueError(
                f"Recipe: need 0 < highpass_hz ({self.highpass_hz}) < lowpass_hz "
                f"({self.lowpass_hz}) < Nyquist ({nyquist})"
            )
        object.__setattr__(self, "notch_hz", _notch_frequencies(self.notch_hz, nyquist))
        if self.reference not in ("average", "none"):
            raise ValueError(f"Recipe: reference {self.reference!r} not 'average' or 'none'")
        if self.dtype not in _DTYPES:
            raise ValueError(f"Recipe: dtype {self.dtype!r} not one of {_DTYPES}")
        if self.bandpass_order < 1 or self.max_interpolated < 0 or self.min_neighbours < 1:
            raise ValueError("Recipe: bandpass_order, min_neighbours >= 1, max_interpolated >= 0")
        if self.clip <= 0 or self.min_duration_s <= 0:
            raise ValueError("Recipe: clip and min_duration_s must be positive")
        if not (0 < self.amplitude_ptp_uv < math.inf and 1 < self.amplitude_ratio < math.inf):
            raise ValueError(
                f"Recipe: need amplitude_ptp_uv ({self.amplitude_ptp_uv}) > 0 and "
                f"amplitude_ratio ({self.amplitude_ratio}) > 1, both finite"
            )

    def to_dict(self) -> dict[str, Any]:
        """Every parameter plus ``version`` and the fixed design choices, JSON-ready."""
        return {
            "version": RECIPE_VERSION,
            "resampler": "scipy.signal.resample_poly (Kaiser beta 5 FIR)",
            "filter": "butterworth bandpass + iirnotch per notch_hz, sosfiltfilt (zero-phase)",
            "amplitude_statistic": "median over 1 s blocks of peak-to-peak, after filtering",
            "normalisation": "median / (IQR / 1.349) per channel, stats every k-th sample",
            **asdict(self),
            "notch_hz": list(self.notch_hz),  # JSON has no tuples; from_dict reads lists
        }

    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of :meth:`to_dict` as sorted JSON."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """Rebuild a recipe from :meth:`to_dict` output (the fixed fields are checked)."""
        if data.get("version") != RECIPE_VERSION:
            raise ValueError(
                f"recipe {data} was written by preprocessing version {data.get('version')} "
                f"(this code is version {RECIPE_VERSION}); rebuild the cache"
            )
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        recipe = cls(**fields)
        if recipe.to_dict() != data:
            raise ValueError(
                f"recipe {data} was written by another preprocessing version "
                f"(this code is version {RECIPE_VERSION})"
            )
        return recipe


def _notch_frequencies(value: object, nyquist_hz: float) -> tuple[float, ...]:
    """``notch_hz`` as a tuple of floats, each in (0, Nyquist) and none twice."""
    if not isinstance(value, tuple | list) or not all(
        isinstance(f, int | float) and not isinstance(f, bool) for f in value
    ):
        raise ValueError(
            f"Recipe: notch_hz must be a tuple of frequencies in Hz such as (50.0, 60.0), "
            f"or () for no notch; got {value!r}"
        )
    freqs = tuple(float(f) for f in value)
    outside = [f for f in freqs if not 0 < f < nyquist_hz]
    if outside:
        raise ValueError(f"Recipe: notch_hz {outside} outside (0, {nyquist_hz}) Hz (Nyquist)")
    if len(set(freqs)) != len(freqs):
        raise ValueError(f"Recipe: notch_hz {freqs} names a frequency twice")
    return freqs
