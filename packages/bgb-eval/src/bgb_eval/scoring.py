"""Score recordings with all three methods and pool them over a set.

Pooling sums counts and recorded durations over recordings (never over windows), so
FA/24h of a set is the sum of false alarms over the sum of recorded time, times 24 h.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bgb_eval._counts import METHODS, Method, MethodScore
from bgb_eval.nedc import ovlp_counts, taes_counts
from bgb_eval.szcore import SzcoreParams, szcore_counts
from bgb_events import check_events

__all__ = [
    "RecordingScore",
    "SetScore",
    "score_method",
    "score_recording",
    "score_recordings",
]


def score_method(
    method: Method,
    ref: np.ndarray,
    hyp: np.ndarray,
    duration_s: float,
    szcore_params: SzcoreParams | None = None,
) -> MethodScore:
    """Counts of one method (``"ovlp"``, ``"taes"`` or ``"szcore"``) for one recording."""
    _check_recording(ref, hyp, duration_s)
    return method_counts(method, ref, hyp, duration_s, szcore_params)


def _check_recording(ref: np.ndarray, hyp: np.ndarray, duration_s: float) -> None:
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be positive and finite, got {duration_s}")
    check_events(ref, "ref", duration_s)
    check_events(hyp, "hyp", duration_s)


def method_counts(
    method: Method,
    ref: np.ndarray,
    hyp: np.ndarray,
    duration_s: float,
    szcore_params: SzcoreParams | None,
) -> MethodScore:
    """:func:`score_method` of events the caller has checked (no check repeated)."""
    if method == "ovlp":
        return ovlp_counts(ref, hyp, duration_s)
    if method == "taes":
        return taes_counts(ref, hyp, duration_s)
    if method == "szcore":
        params = szcore_params if szcore_params is not None else SzcoreParams()
        return szcore_counts(ref, hyp, duration_s, params)
    raise ValueError(f"unknown scoring method {method!r}; expected one of {METHODS}")


@dataclass(frozen=True)
class RecordingScore:
    """All three methods' counts for one recording."""

    duration_s: float
    ovlp: MethodScore
    taes: MethodScore
    szcore: MethodScore

    def method(self, name: Method) -> MethodScore:
        """The counts of method ``name``."""
        return {"ovlp": self.ovlp, "taes": self.taes, "szcore": self.szcore}[name]


@dataclass(frozen=True)
class SetScore:
    """Counts pooled over a set of recordings."""

    n_recordings: int
    total_duration_s: float
    ovlp: MethodScore
    taes: MethodScore
    szcore: MethodScore

    def method(self, name: Method) -> MethodScore:
        """The pooled counts of method ``name``."""
        return {"ovlp": self.ovlp, "taes": self.taes, "szcore": self.szcore}[name]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: per method {tp, fn, fp, sensitivity, fa_per_24h, precision, f1},
        ``n_recordings`` and ``total_duration_s``."""
        return {
            "ovlp": self.ovlp.to_dict(),
            "taes": self.taes.to_dict(),
            "szcore": self.szcore.to_dict(),
            "n_recordings": self.n_recordings,
            "total_duration_s": self.total_duration_s,
        }


def score_recording(
    ref_events: np.ndarray,
    hyp_events: np.ndarray,
    duration_s: float,
    *,
    szcore_params: SzcoreParams | None = None,
) -> RecordingScore:
    """Score one recording's hypothesis events against its reference events.

    Both are canonical ``EVENT_DTYPE`` arrays inside ``[0, duration_s]`` (seconds).
    """
    _check_recording(ref_events, hyp_events, duration_s)
    return RecordingScore(
        duration_s=float(duration_s),
        ovlp=ovlp_counts(ref_events, hyp_events, duration_s),
        taes=taes_counts(ref_events, hyp_events, duration_s),
        szcore=method_counts("szcore", ref_events, hyp_events, duration_s, szcore_params),
    )


def score_recordings(
    items: Iterable[tuple[np.ndarray, np.ndarray, float]],
    *,
    szcore_params: SzcoreParams | None = None,
) -> SetScore:
    """Pool the scores of ``(ref_events, hyp_events, duration_s)`` triples over a set."""
    pooled = {m: MethodScore(method=m, tp=0.0, fn=0.0, fp=0.0, duration_s=0.0) for m in METHODS}
    n_recordings = 0
    total_duration_s = 0.0
    for ref, hyp, duration_s in items:
        score = score_recording(ref, hyp, duration_s, szcore_params=szcore_params)
        for m in METHODS:
            pooled[m] = pooled[m] + score.method(m)
        n_recordings += 1
        total_duration_s += score.duration_s
    return SetScore(
        n_recordings=n_recordings,
        total_duration_s=total_duration_s,
        ovlp=pooled["ovlp"],
        taes=pooled["taes"],
        szcore=pooled["szcore"],
    )
