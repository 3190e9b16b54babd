"""The preprocessing recipe: every step and parameter, serialisable and hashed.

A cache is reused only when the recipe hash of its files equals the hash of the recipe
asked for; the hash covers :data:`RECIPE_VERSION`, so a change to what the code does with
the same parameters also invalidates old caches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RECIPE_VERSION", "SFREQ_HZ", "Recipe"]

SFREQ_HZ = 256.0
"""Sampling rate of every prepared recording, in Hz."""

RECIPE_VERSION = 1
"""Bumped whenever the preprocessing code changes what it computes."""

_DTYPES = ("float16", "float32")


@dataclass(frozen=True)
class Recipe:
    """Preprocessing steps, applied in this order to one recording.

    1. Pick the 19 electrodes (:data:`bgb_data.ELECTRODES`); flag flat and saturated ones.
    2. Resample each channel to ``sfreq_hz`` (polyphase FIR, scipy ``resample_poly``).
    3. Zero-phase Butterworth band-pass and notch (``sosfiltfilt``).
    4. Replace missing/flat/saturated electrodes by the mean of their usable neighbours.
    5. Re-reference to the common average of the 19 electrodes.
    6. Per channel: subtract the median, divide by IQR / 1.349, clip to +-``clip``.
    7. Store as ``dtype``.
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
    notch_hz: float | None = 60.0
    """Mains notch frequency in Hz (None: no notch)."""
    notch_q: float = 30.0
    """Notch quality factor (bandwidth = notch_hz / notch_q)."""
    reference: str = "average"
    """``average`` (common average of the 19 electrodes) or ``none``."""
    max_interpolated: int = 3
    """Most electrodes (missing, flat or saturated) replaced by interpolation."""
    min_neighbours: int = 2
    """Fewest usable neighbours an interpolated electrode needs."""
    flat_ptp_uv: float = 1.0
    """A 1 s block is flat when its peak-to-peak amplitude is below this, microvolts."""
    flat_max_fraction: float = 0.5
    """A channel is flat when more than this fraction of its 1 s blocks are flat."""
    saturated_max_fraction: float = 0.01
    """A channel is saturated when more than this fraction of its samples sit at the
    channel's own minimum or maximum value."""
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
        if self.notch_hz is not None and not 0 < self.notch_hz < nyquist:
            raise ValueError(f"Recipe: notch_hz {self.notch_hz} outside (0, {nyquist})")
        if self.reference not in ("average", "none"):
            raise ValueError(f"Recipe: reference {self.reference!r} not 'average' or 'none'")
        if self.dtype not in _DTYPES:
            raise ValueError(f"Recipe: dtype {self.dtype!r} not one of {_DTYPES}")
        if self.bandpass_order < 1 or self.max_interpolated < 0 or self.min_neighbours < 1:
            raise ValueError("Recipe: bandpass_order, min_neighbours >= 1, max_interpolated >= 0")
        if self.clip <= 0 or self.min_duration_s <= 0:
            raise ValueError("Recipe: clip and min_duration_s must be positive")

    def to_dict(self) -> dict[str, Any]:
        """Every parameter plus ``version`` and the fixed design choices, JSON-ready."""
        return {
            "version": RECIPE_VERSION,
            "resampler": "scipy.signal.resample_poly (Kaiser beta 5 FIR)",
            "filter": "butterworth bandpass + iirnotch, sosfiltfilt (zero-phase)",
            "normalisation": "median / (IQR / 1.349) per channel, stats every k-th sample",
            **asdict(self),
        }

    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of :meth:`to_dict` as sorted JSON."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """Rebuild a recipe from :meth:`to_dict` output (the fixed fields are checked)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        recipe = cls(**fields)
        if recipe.to_dict() != data:
            raise ValueError(
                f"recipe {data} was written by another preprocessing version "
                f"(this code is version {RECIPE_VERSION})"
            )
        return recipe
