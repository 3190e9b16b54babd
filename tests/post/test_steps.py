"""Each post-processing step on small hand-made examples, including the exact boundaries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bgb_post import (
    EVENT_DTYPE,
    PostprocessConfig,
    Runs,
    apply_duration_rule,
    closing,
    events_from_runs,
    find_runs,
    hysteresis,
    hysteresis_runs,
    max_piece_samples,
    merge_close_events,
    opening,
    postprocess,
    runs_to_mask,
)


def mask_of(text: str) -> np.ndarray:
    """'..##.' -> [F, F, T, T, F]."""
    return np.array([c == "#" for c in text])


def text_of(mask: np.ndarray) -> str:
    return "".join("#" if on else "." for on in mask)


def runs_of(*pairs: tuple[int, int]) -> Runs:
    return Runs(np.array([a for a, _ in pairs], np.int64), np.array([b for _, b in pairs]))


def pairs_of(runs: Runs) -> list[tuple[int, int]]:
    return list(zip(runs.starts.tolist(), runs.stops.tolist(), strict=True))


@pytest.mark.parametrize(
    ("text", "pairs"),
    [("....", []), ("####", [(0, 4)]), ("#..##.#", [(0, 1), (3, 5), (6, 7)]), (".#", [(1, 2)])],
)
def test_find_runs_and_back(text: str, pairs: list[tuple[int, int]]) -> None:
    runs = find_runs(mask_of(text))
    assert pairs_of(runs) == pairs
    assert text_of(runs_to_mask(runs, len(text))) == text


def test_runs_to_mask_keeps_adjacent_runs_as_one_stretch() -> None:
    assert text_of(runs_to_mask(runs_of((1, 3), (3, 4)), 6)) == ".###.."


def test_hysteresis_keeps_runs_above_tau_off_that_reach_tau_on() -> None:
    p = np.array([0.9, 0.8, 0.5, 0.8, 0.8, 0.2, 0.86, 0.77, 0.78, 0.79])
    assert text_of(hysteresis(p, tau_on=0.86, tau_off=0.78)) == "##....#..."
    assert pairs_of(hysteresis_runs(p, 0.86, 0.78)) == [(0, 2), (6, 7)]


def test_hysteresis_with_equal_thresholds_is_plain_thresholding() -> None:
    p = np.array([0.1, 0.5, 0.6, 0.4, 0.5])
    assert text_of(hysteresis(p, 0.5, 0.5)) == ".##.#"


def test_hysteresis_on_float32_compares_in_float32() -> None:
    p = np.array([0.86, 0.78, 0.7], np.float32)
    assert text_of(hysteresis(p, 0.86, 0.78)) == "##."


def test_opening_removes_runs_shorter_than_the_kernel_also_at_the_borders() -> None:
    assert text_of(opening(mask_of("##..###.####...##"), 3)) == "....###.####....."
    assert text_of(opening(mask_of("#.##"), 1)) == "#.##"


def test_closing_fills_interior_gaps_shorter_than_the_kernel_only() -> None:
    # Gaps of 1 and 3 samples are filled, the gap of 4 is not.
    assert text_of(closing(mask_of("..#.##...#....#"), 4)) == "..########....#"


def test_closing_does_not_erode_runs_touching_the_borders() -> None:
    # Zero-padded erosion would shave the border runs; on the infinite line it does not.
    assert text_of(closing(mask_of("##...##"), 3)) == "##...##"
    assert text_of(closing(mask_of("##.##"), 3)) == "#####"
    assert text_of(closing(mask_of(".#"), 5)) == ".#"


def test_merge_close_events_joins_gaps_strictly_shorter_than_the_limit() -> None:
    runs = runs_of((0, 4), (6, 8), (11, 12))  # gaps of 2 and 3 samples
    assert pairs_of(merge_close_events(runs, 2.0, merge_gap_s=1.5)) == [(0, 8), (11, 12)]
    assert pairs_of(merge_close_events(runs, 2.0, merge_gap_s=1.0)) == pairs_of(runs)
    assert len(merge_close_events(Runs.empty(), 2.0, 1.0)) == 0


def test_duration_rule_removes_events_under_the_minimum_only() -> None:
    runs = runs_of((0, 5), (10, 16))  # 5 and 6 samples at 2 Hz: 2.5 s and 3 s
    assert pairs_of(apply_duration_rule(runs, 2.0, 3.0, 600.0)) == [(10, 16)]


def test_split_cuts_long_events_into_the_fewest_equal_pieces() -> None:
    sfreq = 256.0
    n = int(1500 * sfreq)
    pieces = apply_duration_rule(runs_of((100, 100 + n)), sfreq, 3.0, 600.0, "split")
    assert (pieces.lengths / sfreq).tolist() == [500.0, 500.0, 500.0]
    assert pieces.starts[0] == 100
    np.testing.assert_array_equal(pieces.starts[1:], pieces.stops[:-1])  # no sample lost
    assert pieces.stops[-1] == 100 + n


def test_split_of_an_event_just_over_the_maximum_leaves_no_short_tail() -> None:
    pieces = apply_duration_rule(runs_of((0, 601)), 1.0, 3.0, 600.0, "split")
    assert pieces.lengths.tolist() == [300, 301]


def test_cap_keeps_the_first_max_duration_seconds() -> None:
    runs = runs_of((10, 10 + 1500), (2000, 2600))
    capped = apply_duration_rule(runs, 1.0, 3.0, 600.0, "cap")
    assert pairs_of(capped) == [(10, 610), (2000, 2600)]


def test_max_piece_samples_is_the_longest_piece_within_the_maximum() -> None:
    assert max_piece_samples(600.0, 256.0) == 153_600
    assert max_piece_samples(0.29, 100.0) == 29  # 0.29 * 100 rounds to 28.999...
    assert max_piece_samples(1.0, 3.0) == 3


def test_events_from_runs_times_and_mean_confidence() -> None:
    p = np.array([0.0, 0.5, 1.0, 0.25, 0.0])
    events = events_from_runs(p, runs_of((1, 3), (3, 4)), sfreq_hz=2.0)
    assert events.dtype == EVENT_DTYPE
    assert events["start_s"].tolist() == [0.5, 1.5]
    assert events["stop_s"].tolist() == [1.5, 2.0]
    assert events["confidence"].tolist() == [0.75, 0.25]


def burst_trace(
    sfreq: float, total_s: float, bursts: list[tuple[float, float, float]]
) -> np.ndarray:
    """A 0.05 background with bursts (onset_s, offset_s, level)."""
    p = np.full(round(total_s * sfreq), 0.05)
    for onset_s, offset_s, level in bursts:
        p[round(onset_s * sfreq) : round(offset_s * sfreq)] = level
    return p


def test_postprocess_with_defaults_finds_a_ten_second_seizure() -> None:
    p = burst_trace(256.0, 60.0, [(20.0, 30.0, 0.95), (40.0, 41.0, 0.99)])
    events = postprocess(p)
    assert events.dtype == EVENT_DTYPE
    assert events.tolist() == [(20.0, 30.0, 0.95)]


def test_postprocess_closing_bridges_a_brief_dip() -> None:
    p = burst_trace(256.0, 60.0, [(20.0, 30.0, 0.95), (25.0, 25.05, 0.1)])  # 13 samples
    assert postprocess(p)[["start_s", "stop_s"]].tolist() == [(20.0, 30.0)]


def test_postprocess_splits_a_long_seizure_by_default_and_caps_on_request() -> None:
    p = burst_trace(16.0, 2000.0, [(100.0, 1600.0, 0.9)])
    split = postprocess(p, 16.0)
    assert split[["start_s", "stop_s"]].tolist() == [
        (100.0, 600.0),
        (600.0, 1100.0),
        (1100.0, 1600.0),
    ]
    capped = postprocess(p, 16.0, PostprocessConfig(long_event_policy="cap"))
    assert capped[["start_s", "stop_s"]].tolist() == [(100.0, 700.0)]


def test_postprocess_merges_close_events_before_the_duration_rule() -> None:
    p = burst_trace(16.0, 100.0, [(10.0, 12.0, 0.9), (15.0, 17.0, 0.9)])  # two 2 s bursts
    assert postprocess(p, 16.0).size == 0
    merged = postprocess(p, 16.0, PostprocessConfig(merge_gap_s=3.5))
    assert merged[["start_s", "stop_s"]].tolist() == [(10.0, 17.0)]


def test_postprocess_of_a_quiet_trace_is_an_empty_event_array() -> None:
    events = postprocess(np.zeros(1000, np.float32))
    assert events.dtype == EVENT_DTYPE
    assert events.shape == (0,)


def test_postprocess_accepts_lists_and_integer_traces() -> None:
    assert postprocess(
        [0, 1, 1, 1, 0],
        1.0,
        PostprocessConfig(opening_samples=1, min_duration_s=1.0, max_duration_s=10.0),
    ).tolist() == [(1.0, 4.0, 1.0)]


def test_config_defaults_are_the_seed_values_and_replace_revalidates() -> None:
    cfg = PostprocessConfig()
    assert (cfg.tau_on, cfg.tau_off, cfg.opening_samples, cfg.closing_samples) == (
        0.86,
        0.78,
        11,
        31,
    )
    assert (cfg.min_duration_s, cfg.max_duration_s, cfg.long_event_policy) == (3.0, 600.0, "split")
    assert cfg.merge_gap_s is None
    assert dataclasses.replace(cfg, tau_on=0.9, tau_off=0.9).tau_off == 0.9
    with pytest.raises(ValueError, match="tau_off"):
        dataclasses.replace(cfg, tau_on=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.tau_on = 0.5  # type: ignore[misc]
