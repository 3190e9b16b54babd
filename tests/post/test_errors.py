"""Bad input is refused with a ValueError that names the problem."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bgb_post import (
    PostprocessConfig,
    Runs,
    apply_duration_rule,
    closing,
    events_from_runs,
    find_runs,
    hysteresis,
    merge_close_events,
    opening,
    postprocess,
    runs_to_mask,
)


def trace_with(index: int, value: float, n: int = 10) -> np.ndarray:
    p = np.full(n, 0.1)
    p[index] = value
    return p


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (trace_with(3, np.nan), r"probs\[3\] is nan"),
        (trace_with(7, np.inf), r"probs\[7\] = inf lies outside \[0, 1\]"),
        (trace_with(0, -np.inf), r"probs\[0\] = -inf lies outside"),
        (trace_with(5, 1.5), r"probs\[5\] = 1.5 lies outside \[0, 1\]; pass probabilities"),
        (trace_with(2, -0.25), r"probs\[2\] = -0.25 lies outside"),
        (np.zeros(0), "probs is empty"),
        (np.zeros((2, 5)), r"probs must be 1-D \(one recording\), got shape \(2, 5\)"),
        (np.array(0.5), "must be 1-D"),
        (np.array(["a", "b"]), "probs must be numeric"),
    ],
)
def test_bad_traces(probs: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        postprocess(probs)
    with pytest.raises(ValueError, match=message):
        hysteresis(probs, 0.86, 0.78)


def test_nan_is_found_in_float32_traces_too() -> None:
    with pytest.raises(ValueError, match=r"probs\[4\] is nan"):
        postprocess(trace_with(4, np.nan).astype(np.float32))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tau_on": 0.7, "tau_off": 0.8}, r"tau_off \(0.8\) must not exceed tau_on \(0.7\)"),
        ({"tau_on": 1.2}, r"tau_on must lie in \[0, 1\]"),
        ({"tau_off": -0.1}, r"tau_off must lie in \[0, 1\]"),
        ({"tau_on": float("nan")}, "tau_on must lie in"),
        ({"tau_on": "0.9"}, "tau_on must be a real number"),
        ({"opening_samples": 0}, "opening_samples must be >= 1 sample, got 0"),
        ({"closing_samples": -3}, "closing_samples must be >= 1"),
        ({"closing_samples": 31.0}, "closing_samples must be an integer number of samples"),
        ({"opening_samples": True}, "opening_samples must be an integer"),
        ({"min_duration_s": 0.0}, r"min_duration_s must be finite and > 0, got 0.0"),
        ({"min_duration_s": -3.0}, "min_duration_s must be finite and > 0"),
        ({"max_duration_s": float("inf")}, "max_duration_s must be finite"),
        ({"max_duration_s": 5.0}, "max_duration_s .5.0. must be at least twice min_duration_s"),
        ({"long_event_policy": "drop"}, "long_event_policy must be one of .'split', 'cap'."),
        ({"merge_gap_s": 0.0}, "merge_gap_s must be finite and > 0"),
        ({"merge_gap_s": -1.0}, "merge_gap_s must be finite and > 0"),
        ({"smoothing_s": 0.0}, "smoothing_s must be finite and > 0"),
        ({"smoothing_s": float("nan")}, "smoothing_s must be finite and > 0"),
        ({"trim_to_raw": True}, "trim_to_raw needs smoothing_s"),
        ({"smoothing_s": 5.0, "trim_to_raw": 1}, "trim_to_raw must be true or false, got 1"),
    ],
)
def test_bad_configs(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PostprocessConfig(**fields)


@pytest.mark.parametrize("sfreq_hz", [0.0, -256.0, float("nan"), float("inf")])
def test_bad_sampling_rates(sfreq_hz: float) -> None:
    with pytest.raises(ValueError, match="sfreq_hz must be finite and > 0"):
        postprocess(np.zeros(10), sfreq_hz)


def test_config_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="config must be a PostprocessConfig, got dict"):
        postprocess(np.zeros(10), 256.0, {"tau_on": 0.9})  # type: ignore[arg-type]


def test_duration_rule_refuses_a_maximum_too_short_at_this_rate() -> None:
    # Twice the minimum in seconds, but at 1 Hz half of 7 samples is 3 samples < 3.5 s.
    cfg = PostprocessConfig(min_duration_s=3.5, max_duration_s=7.0)
    with pytest.raises(ValueError, match=r"max_duration_s=7\.0 is too short for min_duration_s"):
        postprocess(np.zeros(10), 1.0, cfg)


def test_duration_rule_refuses_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="long_event_policy must be one of"):
        apply_duration_rule(Runs.empty(), 1.0, 3.0, 600.0, "trim")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("starts", "stops", "message"),
    [
        ([0, 5], [3], "as many starts as stops"),
        ([-1], [3], "negative sample index"),
        ([4], [4], r"run 0 is empty or reversed: \[4, 4\)"),
        ([0, 2], [3, 5], "runs 0 and 1 overlap or are out of order"),
        ([0.0], [2.0], "must hold integer sample indices"),
        ([[0]], [[1]], "must be 1-D"),
    ],
)
def test_malformed_runs(starts: list[Any], stops: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Runs(np.array(starts), np.array(stops))


def test_masks_must_be_one_dimensional_bool() -> None:
    with pytest.raises(ValueError, match="mask must have dtype bool, got int64"):
        opening(np.array([0, 1, 1]), 2)
    with pytest.raises(ValueError, match="mask must be 1-D"):
        closing(np.ones((2, 2), bool), 2)
    with pytest.raises(ValueError, match="mask must have dtype bool"):
        find_runs(np.array([0.0, 1.0]))


def test_runs_beyond_the_trace() -> None:
    runs = Runs(np.array([2]), np.array([12]))
    with pytest.raises(ValueError, match="beyond n_samples=10"):
        runs_to_mask(runs, 10)
    with pytest.raises(ValueError, match=r"beyond the trace \(10 samples\)"):
        events_from_runs(np.zeros(10), runs, 1.0)


def test_merge_needs_a_positive_gap() -> None:
    with pytest.raises(ValueError, match="merge_gap_s must be finite and > 0"):
        merge_close_events(Runs.empty(), 1.0, 0.0)
