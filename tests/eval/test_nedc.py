"""NEDC OVLP and TAES semantics, one edge case per test, and OVLP against a brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_eval import score_ovlp, score_taes
from bgb_events import EVENT_DTYPE, make_events, merge_overlapping

DURATION_S = 3600.0
NONE = np.empty(0, dtype=EVENT_DTYPE)


def ev(*pairs: tuple[float, float]) -> np.ndarray:
    return make_events([p[0] for p in pairs], [p[1] for p in pairs])


def counts(score: object) -> tuple[float, float, float]:
    return (score.tp, score.fn, score.fp)  # type: ignore[attr-defined]


def test_exact_match() -> None:
    ref = ev((10, 20), (100, 150))
    assert counts(score_ovlp(ref, ref, DURATION_S)) == (2, 0, 0)
    assert counts(score_taes(ref, ref, DURATION_S)) == (2, 0, 0)


def test_touching_endpoints_do_not_overlap() -> None:
    ref, hyp = ev((10, 20)), ev((20, 30))
    assert counts(score_ovlp(ref, hyp, DURATION_S)) == (0, 1, 1)
    assert counts(score_taes(ref, hyp, DURATION_S)) == (0, 1, 1)


def test_one_hyp_spanning_two_refs() -> None:
    ref, hyp = ev((10, 20), (30, 40)), ev((5, 45))
    # OVLP: both references are hit and the hypothesis is no false alarm.
    assert counts(score_ovlp(ref, hyp, DURATION_S)) == (2, 0, 0)
    # TAES: over-prediction of the first (hit 1, fa capped at 1), the second a full miss.
    assert counts(score_taes(ref, hyp, DURATION_S)) == (1, 1, 1)


def test_two_hyps_on_one_ref() -> None:
    ref, hyp = ev((10, 50)), ev((15, 20), (30, 60))
    assert counts(score_ovlp(ref, hyp, DURATION_S)) == (1, 0, 0)
    taes = score_taes(ref, hyp, DURATION_S)
    # under-prediction 5/40, then post-prediction hit 20/40 and fa 10/40.
    assert taes.tp == pytest.approx(0.625)
    assert taes.fn == pytest.approx(0.375)
    assert taes.fp == pytest.approx(0.25)


def test_taes_pre_prediction_caps_false_alarm_at_one() -> None:
    taes = score_taes(ev((100, 110)), ev((50, 105)), DURATION_S)
    assert (taes.tp, taes.fn, taes.fp) == pytest.approx((0.5, 0.5, 1.0))


def test_taes_over_prediction_fraction() -> None:
    taes = score_taes(ev((100, 120)), ev((95, 130)), DURATION_S)
    assert (taes.tp, taes.fn, taes.fp) == pytest.approx((1.0, 0.0, 0.75))


def test_empty_reference() -> None:
    ovlp = score_ovlp(NONE, ev((1, 2), (5, 9)), DURATION_S)
    assert counts(ovlp) == (0, 0, 2)
    assert ovlp.sensitivity is None
    assert ovlp.fa_per_24h == pytest.approx(2 * 24)
    assert counts(score_taes(NONE, ev((1, 2), (5, 9)), DURATION_S)) == (0, 0, 2)


def test_empty_hypothesis_and_both_empty() -> None:
    assert counts(score_ovlp(ev((1, 2)), NONE, DURATION_S)) == (0, 1, 0)
    assert counts(score_taes(ev((1, 2)), NONE, DURATION_S)) == (0, 1, 0)
    both = score_ovlp(NONE, NONE, DURATION_S)
    assert counts(both) == (0, 0, 0)
    assert both.sensitivity is None and both.precision is None and both.f1 is None
    assert both.fa_per_24h == 0.0


def test_false_alarm_far_from_seizure() -> None:
    ref, hyp = ev((10, 20)), ev((12, 14), (500, 510))
    assert counts(score_ovlp(ref, hyp, DURATION_S)) == (1, 0, 1)
    taes = score_taes(ref, hyp, DURATION_S)
    assert (taes.tp, taes.fn, taes.fp) == pytest.approx((0.2, 0.8, 1.0))


def test_taes_whole_second_test_credits_a_non_overlapping_hyp_as_nedc_does() -> None:
    # The second hypothesis does not overlap in time but shares second 20 with the
    # reference: NEDC v6.0.0 scores it (post-prediction with a negative hit).
    ref, hyp = ev((10.5, 20.5)), ev((12, 18), (20.7, 30))
    assert counts(score_ovlp(ref, hyp, DURATION_S)) == (1, 0, 1)
    taes = score_taes(ref, hyp, DURATION_S)
    assert taes.tp == pytest.approx(0.6 - 0.02)
    assert taes.fn == pytest.approx(0.4 + 0.02)
    assert taes.fp == pytest.approx(0.95)


def test_bad_events_are_rejected() -> None:
    with pytest.raises(ValueError, match="sorted and disjoint"):
        score_ovlp(ev((10, 20), (15, 30)), NONE, DURATION_S)
    with pytest.raises(ValueError, match="after the recording"):
        score_taes(NONE, ev((10, 4000)), DURATION_S)
    with pytest.raises(ValueError, match="start_s"):
        score_ovlp(ev((10, 5)), NONE, DURATION_S)
    with pytest.raises(ValueError, match="EVENT_DTYPE"):
        score_ovlp(np.zeros((2, 2)), NONE, DURATION_S)


def _brute_ovlp(ref: np.ndarray, hyp: np.ndarray) -> tuple[int, int, int]:
    def overlaps(a: np.void, b: np.void) -> bool:
        return bool(b["stop_s"] > a["start_s"] and b["start_s"] < a["stop_s"])

    tp = sum(any(overlaps(r, h) for h in hyp) for r in ref)
    fp = sum(not any(overlaps(h, r) for r in ref) for h in hyp)
    return tp, len(ref) - tp, fp


times = st.lists(
    st.tuples(st.integers(0, 400), st.integers(1, 60)).map(lambda t: (t[0] / 4, (t[0] + t[1]) / 4)),
    max_size=8,
)


def _events(pairs: list[tuple[float, float]]) -> np.ndarray:
    return merge_overlapping(ev(*pairs)) if pairs else NONE


@settings(max_examples=200, deadline=None)
@given(times, times)
def test_ovlp_matches_brute_force(ref_pairs: list, hyp_pairs: list) -> None:
    ref, hyp = _events(ref_pairs), _events(hyp_pairs)
    assert counts(score_ovlp(ref, hyp, 200.0)) == _brute_ovlp(ref, hyp)


@settings(max_examples=200, deadline=None)
@given(times)
def test_taes_of_identical_events_separated_by_whole_seconds_is_perfect(pairs: list) -> None:
    events = _events([(float(int(a)), float(int(b) + 1)) for a, b in pairs])
    # Keep events whose whole-second ranges do not touch (NEDC's test would link them).
    keep = np.ones(events.size, dtype=bool)
    keep[1:] = events["start_s"][1:] >= events["stop_s"][:-1] + 2
    events = events[keep]
    taes = score_taes(events, events, 200.0)
    assert (taes.tp, taes.fn, taes.fp) == (events.size, 0, 0)
