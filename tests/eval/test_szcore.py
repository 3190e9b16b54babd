"""SzCORE event scoring: the rules one by one, and count-for-count agreement with timescoring."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from timescoring.annotations import Annotation as TsAnnotation
from timescoring.scoring import EventScoring

from bgb_eval import SzcoreParams, score_szcore
from bgb_events import EVENT_DTYPE, make_events, merge_overlapping

NONE = np.empty(0, dtype=EVENT_DTYPE)


def ev(*pairs: tuple[float, float]) -> np.ndarray:
    return make_events([p[0] for p in pairs], [p[1] for p in pairs])


def counts(ref: np.ndarray, hyp: np.ndarray, duration_s: float, **params: float) -> tuple:
    score = score_szcore(ref, hyp, duration_s, SzcoreParams(**params))
    return (score.tp, score.fn, score.fp)


def timescoring_counts(
    ref: np.ndarray, hyp: np.ndarray, duration_s: float, **params: float
) -> tuple:
    n = round(duration_s * 10)

    def annotation(events: np.ndarray) -> TsAnnotation:
        pairs = list(zip(events["start_s"].tolist(), events["stop_s"].tolist(), strict=True))
        return TsAnnotation(pairs, 10, n)

    names = {
        "tolerance_start_s": "toleranceStart",
        "tolerance_end_s": "toleranceEnd",
        "min_overlap": "minOverlap",
        "max_event_duration_s": "maxEventDuration",
        "min_gap_s": "minDurationBetweenEvents",
    }
    ts_params = EventScoring.Parameters(**{names[k]: v for k, v in params.items()})
    score = EventScoring(annotation(ref), annotation(hyp), ts_params)
    return (float(score.tp), float(score.refTrue - score.tp), float(score.fp))


def test_detection_inside_tolerance_before_onset_is_a_hit() -> None:
    ref = ev((1000, 1030))
    assert counts(ref, ev((975, 985)), 3600) == (1, 0, 0)  # ends 15 s before onset
    assert counts(ref, ev((960, 969)), 3600) == (0, 1, 1)  # ends 31 s before onset


def test_detection_inside_tolerance_after_offset_is_a_hit() -> None:
    ref = ev((1000, 1030))
    assert counts(ref, ev((1080, 1100)), 3600) == (1, 0, 0)  # starts 50 s after offset
    assert counts(ref, ev((1095, 1100)), 3600) == (0, 1, 1)  # starts 65 s after offset


def test_events_closer_than_90_s_merge() -> None:
    hyp = ev((100, 110), (199.9, 210))  # gap 89.9 s: one hypothesis event
    assert counts(NONE, hyp, 3600) == (0, 0, 1)
    hyp = ev((100, 110), (200, 210))  # gap exactly 90 s: two events
    assert counts(NONE, hyp, 3600) == (0, 0, 2)


def test_events_longer_than_300_s_split() -> None:
    assert counts(ev((100, 401)), NONE, 3600) == (0, 2, 0)
    assert counts(ev((100, 400)), NONE, 3600) == (0, 1, 0)
    assert counts(NONE, ev((100, 1000)), 3600) == (0, 0, 3)


def test_one_long_detection_hits_split_pieces() -> None:
    # A 700 s seizure is 3 reference events; a detection on its first minute reaches only
    # the first piece's widened window.
    assert counts(ev((100, 800)), ev((110, 150)), 3600) == (1, 2, 0)


def test_detection_shorter_than_a_grid_step_is_a_false_alarm() -> None:
    assert counts(ev((100, 200)), ev((150.01, 150.04)), 3600) == (0, 1, 1)


def test_min_overlap_parameter() -> None:
    ref, hyp = ev((1000, 1030)), ev((1000, 1010))
    assert counts(ref, hyp, 3600, min_overlap=0.5) == (0, 1, 1)
    assert counts(ref, hyp, 3600, min_overlap=0.05) == (1, 0, 0)


@pytest.mark.parametrize(
    ("ref", "hyp", "duration_s"),
    [
        (ev((0, 10)), ev((0, 10)), 10.0),
        (ev((5.05, 9.95)), ev((0.04, 0.06), (9.96, 10.0)), 10.0),
        (ev((100, 800)), ev((50, 130), (700, 1100)), 1234.56),
        (ev((224.0071, 258.9804), (408.9508, 430.9425)), ev((230.5, 240.25)), 720.0),
    ],
)
def test_examples_match_timescoring(ref: np.ndarray, hyp: np.ndarray, duration_s: float) -> None:
    assert counts(ref, hyp, duration_s) == timescoring_counts(ref, hyp, duration_s)


durations = st.sampled_from([60.0, 600.0, 1234.56, 3600.0])
fractions = st.lists(st.floats(0.0, 1.0, allow_nan=False), max_size=14)


def _events(fraction_list: list[float], duration_s: float) -> np.ndarray:
    points = np.sort(np.asarray(fraction_list) * duration_s)
    if points.size < 2:
        return NONE
    # Quantise some times to 0.05 s to hit the grid's rounding halves.
    points = np.round(points * 20) / 20 if points.size % 3 == 0 else points
    starts, stops = points[0:-1:2], points[1::2]
    keep = starts < stops
    return merge_overlapping(make_events(starts[keep], stops[keep]))


@settings(max_examples=300, deadline=None)
@given(durations, fractions, fractions)
def test_random_events_match_timescoring(
    duration_s: float, ref_fractions: list[float], hyp_fractions: list[float]
) -> None:
    ref, hyp = _events(ref_fractions, duration_s), _events(hyp_fractions, duration_s)
    assert counts(ref, hyp, duration_s) == timescoring_counts(ref, hyp, duration_s)


@settings(max_examples=100, deadline=None)
@given(
    fractions,
    fractions,
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 0.9),
    st.floats(10, 400),
    st.floats(1, 200),
)
def test_random_parameters_match_timescoring(
    ref_fractions: list[float],
    hyp_fractions: list[float],
    before: float,
    after: float,
    min_overlap: float,
    max_duration: float,
    min_gap: float,
) -> None:
    params = {
        "tolerance_start_s": before,
        "tolerance_end_s": after,
        "min_overlap": min_overlap,
        "max_event_duration_s": max_duration,
        "min_gap_s": min_gap,
    }
    ref, hyp = _events(ref_fractions, 1800.0), _events(hyp_fractions, 1800.0)
    assert counts(ref, hyp, 1800.0, **params) == timescoring_counts(ref, hyp, 1800.0, **params)
