"""SzCORE event scoring, matching ``timescoring`` 0.0.7 ``EventScoring`` count for count.

The rules, in timescoring's order (its parameter names in brackets):

1. Both event lists are placed on a 10 Hz grid of ``round(duration_s * 10)`` samples; an
   event covers samples ``round(start * 10)`` to ``round(stop * 10)`` (exclusive, Python's
   round-half-to-even).
2. Events separated by less than ``min_gap_s`` (90 s) [minDurationBetweenEvents] are
   merged, in both reference and hypothesis.
3. Events longer than ``max_event_duration_s`` (300 s) [maxEventDuration] are split into
   consecutive pieces of that length (the last one shorter); each piece counts as an event.
4. Each reference event is widened by ``tolerance_start_s`` (30 s) before and
   ``tolerance_end_s`` (60 s) after [toleranceStart, toleranceEnd], bounded by the
   recording. It is a hit when the hypothesis covers more than ``min_overlap`` [minOverlap]
   (+1e-6) of the widened window; the window of each hit is then marked as detected.
5. A hypothesis event (after merging and splitting) is a false alarm when none of its
   samples lies in a detected window (a hypothesis shorter than one grid step is always
   one).

tp is the number of hits, fn = reference events - tp, fp the number of false alarms.
This equals ``EventScoring(Annotation(ref, 10, n), Annotation(hyp, 10, n))`` with
``n = round(duration_s * 10)``. FA/24h divides by ``duration_s`` (timescoring divides by
``n / 10``; they differ by under 0.05 s per recording).

References: J. Dan et al., "SzCORE: Seizure Community Open-Source Research Evaluation
framework for the validation of electroencephalography-based automated seizure detection
algorithms", Epilepsia 2024; the ``timescoring`` package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bgb_eval._counts import MethodScore
from bgb_events import check_events

__all__ = ["SzcoreParams", "score_szcore"]

_GRID_HZ = 10  # timescoring's fixed event-scoring resolution
_OVERLAP_EPS = 1e-6  # timescoring's margin on the relative-overlap test


@dataclass(frozen=True)
class SzcoreParams:
    """SzCORE event-scoring parameters (timescoring's defaults)."""

    tolerance_start_s: float = 30.0
    """Seconds before a reference onset where a detection still counts [toleranceStart]."""
    tolerance_end_s: float = 60.0
    """Seconds after a reference offset where a detection still counts [toleranceEnd]."""
    min_overlap: float = 0.0
    """Fraction of the widened reference a detection must exceed [minOverlap]."""
    max_event_duration_s: float = 300.0
    """Events longer than this are split [maxEventDuration]."""
    min_gap_s: float = 90.0
    """Events closer than this are merged [minDurationBetweenEvents]."""


def _merge_close(events: list[tuple[float, float]], min_gap_s: float) -> list[tuple[float, float]]:
    """Merge sorted disjoint events whose gap is below ``min_gap_s``."""
    merged: list[tuple[float, float]] = []
    for start, stop in events:
        if merged and start - merged[-1][1] < min_gap_s:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _split_long(
    events: list[tuple[float, float]], max_duration_s: float
) -> list[tuple[float, float]]:
    """Split events longer than ``max_duration_s`` with timescoring's repeated addition."""
    pieces: list[tuple[float, float]] = []
    for start, stop in events:
        while stop - start > max_duration_s:
            pieces.append((start, start + max_duration_s))
            start = start + max_duration_s
        pieces.append((start, stop))
    return pieces


def _grid_span(start_s: float, stop_s: float, n_samples: int) -> tuple[int, int]:
    """Grid samples ``[round(start * 10), round(stop * 10))`` bounded like a Python slice."""
    return min(round(start_s * _GRID_HZ), n_samples), min(round(stop_s * _GRID_HZ), n_samples)


def _covered(spans: list[tuple[int, int]], first: int, last: int) -> int:
    """Samples of ``[first, last)`` inside the union of disjoint ``spans``."""
    return sum(max(0, min(b, last) - max(a, first)) for a, b in spans)


def score_szcore(
    ref: np.ndarray,
    hyp: np.ndarray,
    duration_s: float,
    params: SzcoreParams | None = None,
) -> MethodScore:
    """SzCORE event counts of one recording (see the module docstring)."""
    params = params if params is not None else SzcoreParams()
    check_events(ref, "ref", duration_s)
    check_events(hyp, "hyp", duration_s)
    return szcore_counts(ref, hyp, duration_s, params)


def szcore_counts(
    ref: np.ndarray, hyp: np.ndarray, duration_s: float, params: SzcoreParams
) -> MethodScore:
    """:func:`score_szcore` of events the caller has checked; small per-event loops, as
    recordings hold few events."""
    n_samples = round(duration_s * _GRID_HZ)
    grid_duration_s = n_samples / _GRID_HZ

    # Steps 2-3: merge close events, then split long ones.
    ref_pairs = list(zip(ref["start_s"].tolist(), ref["stop_s"].tolist(), strict=True))
    hyp_pairs = list(zip(hyp["start_s"].tolist(), hyp["stop_s"].tolist(), strict=True))
    hyp_merged = _merge_close(hyp_pairs, params.min_gap_s)
    ref_events = _split_long(_merge_close(ref_pairs, params.min_gap_s), params.max_event_duration_s)
    hyp_events = _split_long(hyp_merged, params.max_event_duration_s)

    # Step 4: hits on the widened reference windows (merged hypotheses are disjoint on the
    # grid, so their spans can be summed).
    hyp_spans = [_grid_span(a, b, n_samples) for a, b in hyp_merged]
    detected: list[tuple[int, int]] = []
    for start, stop in ref_events:
        win_start = max(0.0, start - params.tolerance_start_s)
        win_stop = min(grid_duration_s, stop + params.tolerance_end_s)
        first, last = _grid_span(win_start, win_stop, n_samples)
        relative = (_covered(hyp_spans, first, last) / _GRID_HZ) / (win_stop - win_start)
        if relative > params.min_overlap + _OVERLAP_EPS:
            detected.append((first, last))

    # Step 5: false alarms are hypotheses touching no detected window (empty spans count).
    n_false = 0
    for start, stop in hyp_events:
        first, last = _grid_span(start, stop, n_samples)
        if not any(min(b, last) > max(a, first) for a, b in detected):
            n_false += 1
    return MethodScore(
        method="szcore",
        tp=float(len(detected)),
        fn=float(len(ref_events) - len(detected)),
        fp=float(n_false),
        duration_s=float(duration_s),
    )
