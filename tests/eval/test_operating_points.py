"""Threshold sweeps: the fast path equals bgb_post.postprocess, and the choice rules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgb_eval import (
    WIDE_PLATEAU,
    MethodScore,
    OperatingPoint,
    best_operating_point,
    config_at_threshold,
    evaluate_at_thresholds,
    plot_sensitivity_fa_curve,
    score_ovlp,
    sweep_operating_points,
)
from bgb_eval._sweep_engine import postprocess_many
from bgb_events import EVENT_DTYPE, make_events
from bgb_post import PostprocessConfig, postprocess

SFREQ_HZ = 32.0


def bursty_trace(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Low background with a few bursts of high probability (float32)."""
    trace = np.repeat(rng.random(n_samples // 16 + 1) * 0.3, 16)[:n_samples].astype(np.float32)
    for _ in range(rng.integers(0, 8)):
        start = int(rng.integers(0, n_samples))
        length = int(rng.uniform(0.2, 60) * SFREQ_HZ)
        stop = min(start + length, n_samples)
        burst = rng.uniform(0.4, 1.0) + 0.1 * rng.standard_normal(stop - start)
        trace[start:stop] = np.clip(burst, 0.0, 1.0)
    trace[0] = rng.choice([0.0, 0.95])  # sometimes a run touching the recording start
    return trace


@pytest.fixture(scope="module")
def traces() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [bursty_trace(rng, int(rng.uniform(60, 400) * SFREQ_HZ)) for _ in range(8)]


@pytest.mark.parametrize(
    "base",
    [
        PostprocessConfig(min_duration_s=1.0, max_duration_s=20.0),
        PostprocessConfig(opening_samples=1, closing_samples=40, merge_gap_s=5.0),
        PostprocessConfig(min_duration_s=0.5, max_duration_s=10.0, long_event_policy="cap"),
        PostprocessConfig(min_duration_s=1.0, smoothing_s=4.0),
        PostprocessConfig(min_duration_s=1.0, smoothing_s=4.0, trim_to_raw=True),
        PostprocessConfig(closing_samples=40, merge_gap_s=5.0, smoothing_s=2.0, trim_to_raw=True),
    ],
)
def test_postprocess_many_equals_postprocess(
    traces: list[np.ndarray], base: PostprocessConfig
) -> None:
    thresholds = [0.0, 0.05, 0.2, *np.linspace(0.3, 0.98, 12), 0.99, 1.0]
    configs = [config_at_threshold(base, t) for t in thresholds]
    fast = postprocess_many(traces, SFREQ_HZ, configs)
    assert sum(e.size for per in fast for e in per) > 20
    for config, per_recording in zip(configs, fast, strict=True):
        for trace, events in zip(traces, per_recording, strict=True):
            np.testing.assert_array_equal(events, postprocess(trace, SFREQ_HZ, config))


def test_trim_moves_edges_in_the_equality_traces(traces: list[np.ndarray]) -> None:
    """The trim configs above are not vacuous: on these traces they move event edges."""
    base = PostprocessConfig(min_duration_s=1.0, smoothing_s=4.0)
    configs = [config_at_threshold(base, t) for t in (0.4, 0.6)]
    trimmed = [replace(config, trim_to_raw=True) for config in configs]
    spread = postprocess_many(traces, SFREQ_HZ, configs)
    narrow = postprocess_many(traces, SFREQ_HZ, trimmed)
    span = [sum(float((e["stop_s"] - e["start_s"]).sum()) for e in per) for per in spread]
    kept = [sum(float((e["stop_s"] - e["start_s"]).sum()) for e in per) for per in narrow]
    assert all(k < s for k, s in zip(kept, span, strict=True))


def test_postprocess_many_rejects_bad_traces_and_mixed_configs(traces: list[np.ndarray]) -> None:
    config = PostprocessConfig()
    bad = traces[0].copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="trace 1: probabilities must be finite"):
        postprocess_many([traces[0], bad], SFREQ_HZ, [config])
    with pytest.raises(ValueError, match="differ only in tau_on"):
        postprocess_many(traces, SFREQ_HZ, [config, replace(config, min_duration_s=1.0)])


def test_config_at_threshold_keeps_the_gap() -> None:
    base = PostprocessConfig(tau_on=0.86, tau_off=0.78)
    assert config_at_threshold(base, 0.5).tau_off == pytest.approx(0.42)
    assert config_at_threshold(base, 0.05).tau_off == 0.0
    with pytest.raises(ValueError, match="threshold"):
        config_at_threshold(base, 1.5)


def _point(threshold: float, tp: float, fp: float) -> OperatingPoint:
    score = MethodScore(method="ovlp", tp=tp, fn=10 - tp, fp=fp, duration_s=86400.0)
    return OperatingPoint(threshold=threshold, tau_off=0.0, score=score)


def test_best_point_rules() -> None:
    points = [_point(0.5, 8, 12), _point(0.6, 7, 5), _point(0.7, 7, 4), _point(0.8, 3, 1)]
    # Ties on sensitivity go to the higher threshold.
    assert best_operating_point(points, 10.0) is points[2]
    assert best_operating_point(points, 12.0) is points[0]
    assert best_operating_point(points, 1.0) is points[3]
    assert best_operating_point(points, 0.5) is None


def _grid(tp_fp: list[tuple[float, float]]) -> list[OperatingPoint]:
    """Points at thresholds 0.05, 0.10, ... with the given (tp, fp) of 10 seizures a day."""
    return [_point(round(0.05 * (i + 1), 2), tp, fp) for i, (tp, fp) in enumerate(tp_fp)]


def test_wide_plateau_takes_its_middle() -> None:
    # Thresholds 0.15-0.45 all find every seizure with no false alarm: a 0.3 wide plateau.
    points = _grid([(10, 30), (10, 12)] + [(10, 0)] * 7 + [(9, 0), (6, 0)])
    chosen = best_operating_point(points, 10.0)
    assert chosen is points[5]  # the middle of points 2-8 (0.15-0.45)
    assert chosen is not None and chosen.threshold == pytest.approx(0.30)


def test_narrow_run_takes_the_highest_tied_threshold() -> None:
    # Tied at 10 of 10 over 0.10-0.25 (span 0.15 < WIDE_PLATEAU): as before, the highest.
    points = _grid([(10, 12), (10, 3), (10, 0), (10, 0), (10, 0), (8, 0), (4, 0)])
    assert best_operating_point(points, 10.0) is points[4]


def test_plateau_is_made_of_the_fewest_false_alarms() -> None:
    # Full sensitivity at 0.05-0.50 within 10 FA/24h; with one false alarm over 0.05-0.40
    # (a wide run) but none only over 0.45-0.50 (narrow): the highest tied threshold, 0.50.
    points = _grid([(10, 1)] * 8 + [(10, 0)] * 2 + [(7, 0)])
    assert best_operating_point(points, 10.0) is points[9]
    # Without the false alarm the whole 0.05-0.50 is one plateau: its lower middle, 0.25.
    clean = _grid([(10, 0)] * 10 + [(7, 0)])
    assert best_operating_point(clean, 10.0) is clean[4]


def test_equally_long_runs_take_the_lower_one() -> None:
    # Two tied runs of five points (0.05-0.25 and 0.35-0.55), split by a lower sensitivity.
    points = _grid([(10, 0)] * 5 + [(9, 0)] + [(10, 0)] * 5)
    assert best_operating_point(points, 10.0) is points[2]


def test_points_out_of_order_raise() -> None:
    points = [_point(0.6, 7, 5), _point(0.5, 8, 12)]
    with pytest.raises(ValueError, match="ascending"):
        best_operating_point(points, 10.0)


@given(
    st.lists(
        st.tuples(st.integers(0, 10), st.integers(0, 20)).map(lambda t: (float(t[0]), float(t[1]))),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([1.0, 2.5, 5.0, 10.0, 20.0]),
)
def test_chosen_point_is_one_of_the_best_within_the_target(
    tp_fp: list[tuple[float, float]], target: float
) -> None:
    points = _grid(tp_fp)
    chosen = best_operating_point(points, target)
    allowed = [p for p in points if p.fa_per_24h is not None and p.fa_per_24h <= target]
    if not allowed:
        assert chosen is None
        return
    assert chosen is not None and chosen in allowed
    best = max(p.sensitivity or 0.0 for p in allowed)
    assert chosen.sensitivity == best
    tied = [p for p in allowed if p.sensitivity == best]
    highest = max(tied, key=lambda p: p.threshold)
    if chosen is not highest:  # only the middle of a plateau of the fewest false alarms
        fewest = min(p.score.fp for p in tied)
        assert chosen.score.fp == fewest
        span = [p.threshold for p in tied if p.score.fp == fewest]
        assert max(span) - min(span) >= WIDE_PLATEAU - 1e-9
        assert min(span) < chosen.threshold < max(span)


def test_sweep_and_frozen_evaluation(traces: list[np.ndarray], tmp_path: Path) -> None:
    base = PostprocessConfig(min_duration_s=1.0, max_duration_s=20.0)
    durations = [t.size / SFREQ_HZ for t in traces]
    # References: the events at a high threshold, so the sweep has something to find.
    refs = [postprocess(t, SFREQ_HZ, config_at_threshold(base, 0.9)) for t in traces]
    thresholds = np.linspace(0.3, 1.0, 8)
    result = sweep_operating_points(
        traces, refs, durations, SFREQ_HZ, base, thresholds, targets_fa_per_24h=(1e9, 0.0)
    )
    assert [p.threshold for p in result.points] == pytest.approx(sorted(thresholds))
    for point in result.points:
        config = config_at_threshold(base, point.threshold)
        expected = MethodScore(method="ovlp", tp=0.0, fn=0.0, fp=0.0, duration_s=0.0)
        for trace, ref, duration in zip(traces, refs, durations, strict=True):
            expected = expected + score_ovlp(ref, postprocess(trace, SFREQ_HZ, config), duration)
        assert point.score == expected
    best_any = result.best[1e9]
    assert best_any is not None and best_any.sensitivity == 1.0
    assert result.best[0.0] is not None and result.best[0.0].fa_per_24h == 0.0
    frozen = result.frozen_thresholds()
    on_other = evaluate_at_thresholds(traces, refs, durations, SFREQ_HZ, base, frozen, "szcore")
    assert set(on_other) == set(frozen)
    assert all(p.score.method == "szcore" for p in on_other.values())
    png = plot_sensitivity_fa_curve(result.points, tmp_path / "curve.png", targets_fa_per_24h=(10,))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_input_checks(traces: list[np.ndarray]) -> None:
    with pytest.raises(ValueError, match="one entry per recording"):
        sweep_operating_points(traces, [], [], SFREQ_HZ, PostprocessConfig(), [0.5])
    with pytest.raises(ValueError, match=r"refs\[0\]: event 0"):
        sweep_operating_points(
            traces[:1], [make_events([5.0], [1.0])], [1e4], SFREQ_HZ, PostprocessConfig(), [0.5]
        )
    with pytest.raises(ValueError, match="empty"):
        sweep_operating_points(
            traces[:1], [make_events([], [])], [1.0], SFREQ_HZ, PostprocessConfig(), []
        )
    with pytest.raises(ValueError, match="no operating point"):
        plot_sensitivity_fa_curve([], "unused.png")
    none = np.empty(0, dtype=EVENT_DTYPE)
    with pytest.raises(ValueError, match="longer than its duration_s"):
        sweep_operating_points(
            [np.ones(64)],
            [none],
            [1.0],
            SFREQ_HZ,
            PostprocessConfig(min_duration_s=0.5, max_duration_s=2.0),
            [0.5],
        )
