"""Invariants of post-processing, checked on generated traces (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bgb_post import (
    PostprocessConfig,
    closing,
    find_runs,
    hysteresis_runs,
    opening,
    postprocess,
)

# Smooth-ish traces: random walks squashed into [0, 1], so runs of every length occur.
steps = hnp.arrays(np.float64, st.integers(1, 400), elements=st.floats(-1.5, 1.5))
thresholds = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(sorted)
masks = hnp.arrays(np.bool_, st.integers(1, 200))


def squash(walk_steps: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.cumsum(walk_steps)))


@settings(max_examples=60, deadline=None)
@given(
    walk=steps,
    sfreq=st.sampled_from([1.0, 4.0, 256.0]),
    policy=st.sampled_from(["split", "cap"]),
    merge_gap_s=st.sampled_from([None, 2.0]),
)
def test_events_are_sorted_disjoint_inside_and_long_enough(
    walk: np.ndarray, sfreq: float, policy: str, merge_gap_s: float | None
) -> None:
    p = squash(walk)
    cfg = PostprocessConfig(
        tau_on=0.7,
        tau_off=0.6,
        opening_samples=3,
        closing_samples=5,
        min_duration_s=4.0 / sfreq,
        max_duration_s=40.0 / sfreq,
        long_event_policy=policy,  # type: ignore[arg-type]
        merge_gap_s=None if merge_gap_s is None else merge_gap_s / sfreq,
    )
    events = postprocess(p, sfreq, cfg)
    start, stop = events["start_s"], events["stop_s"]
    assert np.all(start >= 0.0)
    assert np.all(stop <= p.size / sfreq)
    assert np.all(start < stop)
    assert np.all(stop[:-1] <= start[1:])
    n_samples = np.rint((stop - start) * sfreq)
    assert np.all(n_samples / sfreq >= cfg.min_duration_s)
    assert np.all(n_samples / sfreq <= cfg.max_duration_s)
    for event in events:
        inside = p[round(event["start_s"] * sfreq) : round(event["stop_s"] * sfreq)]
        slack = 1e-12  # the mean of equal values can round one ulp past them
        assert inside.min() - slack <= event["confidence"] <= inside.max() + slack


@settings(max_examples=80, deadline=None)
@given(walk=steps, taus=thresholds)
def test_hysteresis_events_are_maximal_runs_above_tau_off_reaching_tau_on(
    walk: np.ndarray, taus: list[float]
) -> None:
    tau_off, tau_on = taus
    p = squash(walk)
    runs = hysteresis_runs(p, tau_on, tau_off)
    for start, stop in zip(runs.starts, runs.stops, strict=True):
        assert np.all(p[start:stop] >= tau_off)
        assert np.any(p[start:stop] >= tau_on)
        assert start == 0 or p[start - 1] < tau_off
        assert stop == p.size or p[stop] < tau_off
    # Every sample reaching tau_on lies in an event.
    covered = np.zeros(p.size, bool)
    for start, stop in zip(runs.starts, runs.stops, strict=True):
        covered[start:stop] = True
    assert np.all(covered[p >= tau_on])


@settings(max_examples=80, deadline=None)
@given(walk=steps, taus=thresholds, raise_by=st.floats(0.0, 1.0))
def test_raising_tau_on_never_adds_an_event(
    walk: np.ndarray, taus: list[float], raise_by: float
) -> None:
    tau_off, tau_on = taus
    p = squash(walk)
    before = hysteresis_runs(p, tau_on, tau_off)
    after = hysteresis_runs(p, min(tau_on + raise_by, 1.0), tau_off)
    pairs_before = set(zip(before.starts.tolist(), before.stops.tolist(), strict=True))
    pairs_after = set(zip(after.starts.tolist(), after.stops.tolist(), strict=True))
    assert pairs_after <= pairs_before


@settings(max_examples=100, deadline=None)
@given(mask=masks, k=st.integers(1, 40))
def test_opening_and_closing_are_idempotent_and_ordered(mask: np.ndarray, k: int) -> None:
    opened, closed = opening(mask, k), closing(mask, k)
    np.testing.assert_array_equal(opening(opened, k), opened)
    np.testing.assert_array_equal(closing(closed, k), closed)
    assert np.all(mask[opened])  # opening only removes samples
    assert np.all(closed[mask])  # closing only adds samples
    runs = find_runs(opened)
    assert np.all(runs.lengths >= k)
