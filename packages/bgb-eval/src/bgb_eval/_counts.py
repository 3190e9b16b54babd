"""Event counts of one scoring method and the rates derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["METHODS", "Method", "MethodScore"]

Method = Literal["ovlp", "taes", "szcore"]
METHODS: tuple[Method, ...] = ("ovlp", "taes", "szcore")

_SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class MethodScore:
    """Counts of one method over one recording or a pooled set of recordings.

    ``tp``, ``fn``, ``fp`` are whole numbers for OVLP and SzCORE and fractional for TAES.
    Rates that divide by zero are None (e.g. sensitivity when there are no seizures).
    Adding two scores pools them: counts and durations are summed.
    """

    method: Method
    tp: float
    """Hits: reference seizures detected (fractional for TAES)."""
    fn: float
    """Misses: reference seizures not detected (fractional for TAES)."""
    fp: float
    """False alarms (fractional for TAES)."""
    duration_s: float
    """Total recorded time the counts cover, in seconds."""

    @property
    def sensitivity(self) -> float | None:
        """tp / (tp + fn); None without reference seizures."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn > 0 else None

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp); None without detections or hits."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else None

    @property
    def f1(self) -> float | None:
        """2 tp / (2 tp + fp + fn); None when there are neither seizures nor detections."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator > 0 else None

    @property
    def fa_per_24h(self) -> float | None:
        """False alarms per 24 h of recording: fp / duration_s * 86400; None for no time."""
        return self.fp / self.duration_s * _SECONDS_PER_DAY if self.duration_s > 0 else None

    def __add__(self, other: MethodScore) -> MethodScore:
        if other.method != self.method:
            raise ValueError(f"cannot pool {self.method} with {other.method} counts")
        return MethodScore(
            method=self.method,
            tp=self.tp + other.tp,
            fn=self.fn + other.fn,
            fp=self.fp + other.fp,
            duration_s=self.duration_s + other.duration_s,
        )

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-ready: tp, fn, fp, sensitivity, fa_per_24h, precision, f1 (None for undefined)."""

        def count(value: float) -> float | int:
            return value if self.method == "taes" else round(value)

        return {
            "tp": count(self.tp),
            "fn": count(self.fn),
            "fp": count(self.fp),
            "sensitivity": self.sensitivity,
            "fa_per_24h": self.fa_per_24h,
            "precision": self.precision,
            "f1": self.f1,
        }
