"""The moving average before the thresholds: a literal reference, the error bound, the pipeline."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bgb_post import PostprocessConfig, moving_average, postprocess, window_samples

EPS = float(np.finfo(np.float64).eps)
CHUNK = 1 << 16  # bgb_post's running sums restart after this many window positions


def bound(n_samples: int, length: int) -> float:
    """The module docstring's rounding bound on one mean, for a trace of n samples in [0, 1]."""
    longest = min(n_samples, CHUNK + length)
    return longest**2 * EPS / (length // 2 + 1)


def ref_moving_average(p: list[float], length: int) -> list[float]:
    """Sample i: the exactly rounded mean of the samples within length // 2 of it."""
    half = length // 2
    out = []
    for i in range(len(p)):
        window = p[max(0, i - half) : i + half + 1]
        out.append(math.fsum(window) / len(window))
    return out


@settings(max_examples=200, deadline=None)
@given(
    p=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=120),
    length=st.sampled_from([1, 3, 5, 7, 15, 31, 241]),
)
def test_moving_average_matches_reference(p: list[float], length: int) -> None:
    got = moving_average(np.array(p), 1.0, float(length))
    want = ref_moving_average(p, length)
    np.testing.assert_allclose(got, want, rtol=0, atol=bound(len(p), length) + EPS)


def test_long_trace_matches_convolution_across_chunks() -> None:
    """A trace several chunks long against the textbook version: sums by convolution."""
    rng = np.random.default_rng(5)
    length = 2561  # 10 s at 256 Hz
    p = rng.random(3 * CHUNK + 12345)
    ones = np.ones(length)
    counts = np.convolve(np.ones(p.size), ones, mode="same")
    want = np.convolve(p, ones, mode="same") / counts
    got = moving_average(p, 256.0, 10.0)
    # the convolution's own error: one sum of at most `length` products, each exact
    tol = bound(p.size, length) + length * EPS
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@settings(max_examples=100, deadline=None)
@given(
    p=hnp.arrays(np.float64, st.integers(1, 400), elements=st.floats(0.0, 1.0)),
    length=st.sampled_from([3, 9, 51]),
)
def test_moving_average_stays_a_probability_and_is_symmetric(p: np.ndarray, length: int) -> None:
    got = moving_average(p, 1.0, float(length))
    assert got.shape == p.shape
    assert got.min() >= 0.0 and got.max() <= 1.0
    # averaging commutes with reversing time, up to the rounding of either direction
    np.testing.assert_allclose(
        moving_average(p[::-1], 1.0, float(length))[::-1],
        got,
        rtol=0,
        atol=2 * bound(p.size, length),
    )


def test_constant_trace_and_one_sample_window_are_unchanged() -> None:
    p = np.full(1000, 0.3, dtype=np.float32)
    got = moving_average(p, 256.0, 1.0)
    assert got.dtype == np.float32
    # float32 output: the float64 mean rounds back to 0.3f unless the error exceeds half an ulp
    assert np.array_equal(got, p)
    q = np.random.default_rng(0).random(50)
    assert np.array_equal(moving_average(q, 1.0, 1.0), q)


@pytest.mark.parametrize(
    ("window_s", "sfreq_hz", "expected"),
    [
        (10.0, 256.0, 2561),
        (1.0, 1.0, 1),
        (1.9, 1.0, 1),
        (2.0, 1.0, 3),
        (2.9, 1.0, 3),
        (0.01, 256, 3),
    ],
)
def test_window_is_the_nearest_odd_length(window_s: float, sfreq_hz: float, expected: int) -> None:
    assert window_samples(window_s, sfreq_hz) == expected


@pytest.mark.parametrize("window_s", [0.0, -1.0, math.nan, math.inf, True])
def test_bad_window_is_refused(window_s: float) -> None:
    with pytest.raises(ValueError, match="window_s must be"):
        moving_average(np.zeros(10), 256.0, window_s)


def test_short_peak_is_averaged_away_and_a_sustained_one_kept() -> None:
    """An artifact peaking for 2 s above a 30 s seizure's level; only the seizure survives."""
    sfreq = 16.0
    p = np.full(int(300 * sfreq), 0.05)
    p[int(50 * sfreq) : int(52 * sfreq)] = 0.97  # artifact
    p[int(200 * sfreq) : int(230 * sfreq)] = 0.8  # seizure
    plain = PostprocessConfig(tau_on=0.7, tau_off=0.6, min_duration_s=1.0)
    assert len(postprocess(p, sfreq, plain)) == 2
    smoothed = dataclasses.replace(plain, smoothing_s=10.0)
    events = postprocess(p, sfreq, smoothed)
    assert len(events) == 1
    assert 195 < events["start_s"][0] < 205 and 225 < events["stop_s"][0] < 235


@settings(max_examples=60, deadline=None)
@given(
    p=hnp.arrays(np.float64, st.integers(1, 300), elements=st.floats(0.0, 1.0)),
    smoothing_s=st.sampled_from([0.5, 2.0, 7.0]),
)
def test_pipeline_thresholds_the_average(p: np.ndarray, smoothing_s: float) -> None:
    config = PostprocessConfig(tau_on=0.5, tau_off=0.4, opening_samples=2, min_duration_s=0.5)
    got = postprocess(p, 4.0, dataclasses.replace(config, smoothing_s=smoothing_s))
    want = postprocess(moving_average(p, 4.0, smoothing_s), 4.0, config)
    assert got.tobytes() == want.tobytes()
