"""Event edges from the trace before averaging: trim_runs, the pipeline step, its wrapper."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bgb_post import (
    PostprocessConfig,
    Runs,
    find_runs,
    moving_average,
    postprocess,
    postprocess_averaged,
    trim_runs,
)

traces = hnp.arrays(np.float64, st.integers(1, 300), elements=st.floats(0.0, 1.0))


def ref_trim(p: np.ndarray, runs: Runs, level: float) -> list[tuple[int, int]]:
    """Sample by sample: the first and last qualifying sample of each run, else the run."""
    out = []
    for start, stop in zip(runs.starts.tolist(), runs.stops.tolist(), strict=True):
        held = [i for i in range(start, stop) if p[i] >= level]
        out.append((held[0], held[-1] + 1) if held else (start, stop))
    return out


@settings(max_examples=200, deadline=None)
@given(p=traces, mask_seed=st.integers(0, 2**32 - 1), level=st.floats(0.0, 1.0))
def test_trim_matches_reference(p: np.ndarray, mask_seed: int, level: float) -> None:
    mask = np.random.default_rng(mask_seed).random(p.size) < 0.6
    runs = find_runs(mask)
    got = trim_runs(p, runs, level)
    assert list(zip(got.starts.tolist(), got.stops.tolist(), strict=True)) == ref_trim(
        p, runs, level
    )
    # a subset of each run; outside the kept span, the run's samples lie below the level
    for (a, b), (c, d) in zip(
        zip(runs.starts, runs.stops, strict=True),
        zip(got.starts, got.stops, strict=True),
        strict=True,
    ):
        assert a <= c < d <= b
        if (p[a:b] >= level).any():
            assert p[c] >= level and p[d - 1] >= level
            assert (p[a:c] < level).all() and (p[d:b] < level).all()


def test_trim_compares_in_the_traces_dtype() -> None:
    # 0.7 rounds up in float32; a float32 sample holding it reaches the level 0.7
    p = np.array([0.1, 0.7, 0.7, 0.1], dtype=np.float32)
    got = trim_runs(p, Runs(np.array([0]), np.array([4])), 0.7)
    assert (got.starts[0], got.stops[0]) == (1, 3)


def test_trim_errors() -> None:
    runs = Runs(np.array([0]), np.array([5]))
    with pytest.raises(ValueError, match="beyond the trace"):
        trim_runs(np.zeros(4), runs, 0.5)
    for level in (1.5, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="level must be a real number in"):
            trim_runs(np.zeros(8), runs, level)  # type: ignore[arg-type]


def box_seizure(sfreq: float) -> np.ndarray:
    """600 s of low background with one 30 s seizure at 200-230 s and a 1 s artifact at 400 s."""
    p = np.full(int(600 * sfreq), 0.02)
    p[int(200 * sfreq) : int(230 * sfreq)] = 0.9
    p[int(400 * sfreq) : int(401 * sfreq)] = 0.99
    return p


def test_average_finds_the_event_and_the_raw_trace_places_its_edges() -> None:
    sfreq = 16.0
    p = box_seizure(sfreq)
    config = PostprocessConfig(tau_on=0.39, tau_off=0.31, smoothing_s=20.0)
    spread = postprocess(p, sfreq, config)
    trimmed = postprocess(p, sfreq, dataclasses.replace(config, trim_to_raw=True))
    assert len(spread) == len(trimmed) == 1  # the artifact is averaged away either way
    # the average crosses 0.39 about 1.3 s before the onset and 0.31 3.1 s after the offset
    assert spread["start_s"][0] < 199.0 and spread["stop_s"][0] > 232.0
    assert (trimmed["start_s"][0], trimmed["stop_s"][0]) == (200.0, 230.0)
    # the confidence still reads the average, over the trimmed samples
    start, stop = int(200 * sfreq), int(230 * sfreq)
    want = moving_average(p, sfreq, 20.0)[start:stop].mean()
    assert trimmed["confidence"][0] == pytest.approx(want, rel=1e-12)


def test_trim_comes_before_the_duration_rule() -> None:
    """An averaged event held up by a 2 s burst alone shrinks to it, under min_duration_s."""
    sfreq = 16.0
    p = np.full(int(120 * sfreq), 0.3)
    p[int(60 * sfreq) : int(62 * sfreq)] = 0.95
    config = PostprocessConfig(tau_on=0.35, tau_off=0.32, smoothing_s=20.0, min_duration_s=3.0)
    assert len(postprocess(p, sfreq, config)) == 1
    assert len(postprocess(p, sfreq, dataclasses.replace(config, trim_to_raw=True))) == 0


@settings(max_examples=80, deadline=None)
@given(p=traces, smoothing_s=st.sampled_from([0.5, 2.0, 7.0]), trim=st.booleans())
def test_postprocess_averaged_is_postprocess_after_the_average(
    p: np.ndarray, smoothing_s: float, trim: bool
) -> None:
    config = PostprocessConfig(
        tau_on=0.5,
        tau_off=0.4,
        opening_samples=2,
        min_duration_s=0.5,
        smoothing_s=smoothing_s,
        trim_to_raw=trim,
    )
    want = postprocess(p, 4.0, config)
    got = postprocess_averaged(moving_average(p, 4.0, smoothing_s), p, 4.0, config)
    assert got.tobytes() == want.tobytes()


def test_postprocess_averaged_errors() -> None:
    p = np.random.default_rng(0).random(100)
    smoothed = PostprocessConfig(smoothing_s=2.0)
    with pytest.raises(ValueError, match="needs a config with smoothing_s"):
        postprocess_averaged(p, p, 4.0, PostprocessConfig())
    with pytest.raises(ValueError, match="raw is None"):
        postprocess_averaged(p, None, 4.0, dataclasses.replace(smoothed, trim_to_raw=True))
    with pytest.raises(ValueError, match="raw has 99 samples and averaged 100"):
        postprocess_averaged(p, p[:-1], 4.0, smoothed)
    with pytest.raises(ValueError, match=r"raw\[3\] is nan|but raw\[3\] is nan"):
        bad = p.copy()
        bad[3] = np.nan
        postprocess_averaged(p, bad, 4.0, smoothed)
    with pytest.raises(ValueError, match="config must be a PostprocessConfig"):
        postprocess_averaged(p, p, 4.0, {"smoothing_s": 2.0})  # type: ignore[arg-type]
    # without the trim, raw is not needed
    assert postprocess_averaged(p, None, 4.0, smoothed).tobytes() == (
        postprocess_averaged(p, p, 4.0, smoothed).tobytes()
    )
