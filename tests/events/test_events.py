"""Event arrays: building, merging (against a loop reference) and the canonical check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_events import EVENT_DTYPE, check_events, make_events, merge_overlapping

# Events on a quarter-second grid, so that overlapping and touching pairs are frequent.
events_on_a_grid = st.lists(
    st.tuples(st.integers(0, 200), st.integers(1, 40), st.floats(0.0, 1.0)).map(
        lambda t: (t[0] / 4, (t[0] + t[1]) / 4, t[2])
    ),
    max_size=12,
)


def merge_by_loop(
    triples: list[tuple[float, float, float]], touching: bool = True
) -> list[tuple[float, float, float]]:
    """The reference: visit events by start and extend the last group while they overlap it
    (or touch it, with ``touching``)."""
    merged: list[tuple[float, float, float]] = []
    for start, stop, confidence in sorted(triples):
        joins = merged and (start <= merged[-1][1] if touching else start < merged[-1][1])
        if joins:
            first, last, best = merged[-1]
            merged[-1] = (first, max(last, stop), max(best, confidence))
        else:
            merged.append((start, stop, confidence))
    return merged


def test_make_events_defaults_to_full_confidence() -> None:
    events = make_events([1.0, 5.0], [2.0, 9.5])
    assert events.dtype == EVENT_DTYPE
    assert events.tolist() == [(1.0, 2.0, 1.0), (5.0, 9.5, 1.0)]
    with pytest.raises(ValueError, match="differ in length"):
        make_events([1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="confidences"):
        make_events([1.0], [2.0], [0.5, 0.5])


@settings(max_examples=200, deadline=None)
@given(triples=events_on_a_grid, touching=st.booleans())
def test_merge_overlapping_equals_the_loop_reference(
    triples: list[tuple[float, float, float]], touching: bool
) -> None:
    starts, stops, confidences = zip(*triples, strict=True) if triples else ((), (), ())
    merged = merge_overlapping(make_events(starts, stops, confidences), touching=touching)
    assert merged.tolist() == merge_by_loop(triples, touching)
    assert check_events(merged, "merged") is merged


def test_touching_events_merge_only_by_default() -> None:
    pieces = make_events([0.0, 600.0, 900.0], [600.0, 900.0, 950.0], [0.5, 0.9, 0.7])
    assert merge_overlapping(pieces).tolist() == [(0.0, 950.0, 0.9)]
    assert merge_overlapping(pieces, touching=False).tolist() == pieces.tolist()
    overlapping = make_events([0.0, 599.0], [600.0, 900.0], [0.5, 0.9])
    assert merge_overlapping(overlapping, touching=False).tolist() == [(0.0, 900.0, 0.9)]


@pytest.mark.parametrize(
    ("pairs", "duration_s", "message"),
    [
        ([(10.0, 20.0), (15.0, 30.0)], None, "event 1 starts at 15.0 s before event 0 stops"),
        ([(5.0, 5.0)], None, r"event 0 has start_s 5.0 >= stop_s 5.0"),
        ([(-1.0, 2.0)], None, "before the recording"),
        ([(1.0, 2.0), (3.0, 40.0)], 30.0, "event 1 stops at 40.0 s, after the recording end"),
        ([(1.0, np.inf)], None, "must be finite"),
    ],
)
def test_check_events_names_the_event_and_the_problem(
    pairs: list[tuple[float, float]], duration_s: float | None, message: str
) -> None:
    events = make_events(*zip(*pairs, strict=True))
    with pytest.raises(ValueError, match=message):
        check_events(events, "hyp", duration_s)


def test_check_events_wants_a_1d_event_dtype_array() -> None:
    with pytest.raises(ValueError, match="hyp: expected a structured array of EVENT_DTYPE"):
        check_events(np.zeros((2, 2)), "hyp")
    with pytest.raises(ValueError, match=r"missing fields \['stop_s'\]"):
        check_events(np.zeros(1, dtype=[("start_s", "f8")]), "hyp")
    empty = make_events([], [])
    assert check_events(empty, "hyp", 10.0) is empty
