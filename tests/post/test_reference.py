"""The fast pipeline agrees with a slow, obviously-correct reference written with loops.

The reference follows the definitions literally: hysteresis sample by sample, opening and
closing by enumerating every window of the structuring element on the infinite line (the
recording extended with background), and the duration rule event by event.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bgb_post import (
    PostprocessConfig,
    closing,
    hysteresis,
    max_piece_samples,
    opening,
    postprocess,
)

LEVELS = [0.0, 0.3, 0.77, 0.78, 0.8, 0.85, 0.86, 0.9, 1.0]


def ref_hysteresis(p: list[float], tau_on: float, tau_off: float) -> list[bool]:
    """True on every maximal run of p >= tau_off holding a sample p >= tau_on."""
    mask = [False] * len(p)
    i = 0
    while i < len(p):
        if p[i] < tau_off:
            i += 1
            continue
        j = i
        while j < len(p) and p[j] >= tau_off:
            j += 1
        if any(p[k] >= tau_on for k in range(i, j)):
            for k in range(i, j):
                mask[k] = True
        i = j
    return mask


def _inside(mask: list[bool], y: int) -> bool:
    return 0 <= y < len(mask) and mask[y]


def ref_opening(mask: list[bool], k: int) -> list[bool]:
    """x stays iff some window of k samples covering x lies entirely in the mask."""
    return [
        any(all(_inside(mask, y) for y in range(s, s + k)) for s in range(x - k + 1, x + 1))
        for x in range(len(mask))
    ]


def ref_closing(mask: list[bool], k: int) -> list[bool]:
    """x is set iff every window of k samples covering x meets the mask."""
    return [
        all(any(_inside(mask, y) for y in range(s, s + k)) for s in range(x - k + 1, x + 1))
        for x in range(len(mask))
    ]


def ref_runs(mask: list[bool]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i, on in enumerate(mask):
        if on and (i == 0 or not mask[i - 1]):
            runs.append((i, i + 1))
        elif on:
            runs[-1] = (runs[-1][0], i + 1)
    return runs


def ref_merge(runs: list[tuple[int, int]], sfreq: float, gap_s: float) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in runs:
        if merged and (start - merged[-1][1]) / sfreq < gap_s:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def ref_duration(
    runs: list[tuple[int, int]], sfreq: float, cfg: PostprocessConfig
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, stop in runs:
        length = stop - start
        if length / sfreq < cfg.min_duration_s:
            continue
        if length / sfreq <= cfg.max_duration_s:
            out.append((start, stop))
        elif cfg.long_event_policy == "cap":
            kept = length
            while kept / sfreq > cfg.max_duration_s:
                kept -= 1
            out.append((start, start + kept))
        else:
            n = 1
            while math.ceil(length / n) / sfreq > cfg.max_duration_s:
                n += 1
            out.extend((start + length * j // n, start + length * (j + 1) // n) for j in range(n))
    return out


def ref_postprocess(
    p: list[float], sfreq: float, cfg: PostprocessConfig
) -> list[tuple[float, float, float]]:
    mask = ref_hysteresis(p, cfg.tau_on, cfg.tau_off)
    mask = ref_closing(ref_opening(mask, cfg.opening_samples), cfg.closing_samples)
    runs = ref_runs(mask)
    if cfg.merge_gap_s is not None:
        runs = ref_merge(runs, sfreq, cfg.merge_gap_s)
    runs = ref_duration(runs, sfreq, cfg)
    return [(s / sfreq, e / sfreq, math.fsum(p[s:e]) / (e - s)) for s, e in runs]


@st.composite
def traces(draw: st.DrawFn, max_segments: int = 14) -> list[float]:
    """Piecewise-constant traces whose levels sit on and around the default thresholds."""
    level = st.one_of(st.sampled_from(LEVELS), st.floats(0.0, 1.0))
    segments = draw(
        st.lists(st.tuples(level, st.integers(1, 30)), min_size=1, max_size=max_segments)
    )
    return [value for value, length in segments for _ in range(length)]


@st.composite
def configs(draw: st.DrawFn) -> tuple[float, PostprocessConfig]:
    sfreq = draw(st.sampled_from([1.0, 3.7, 4.0, 10.0]))
    tau_off = draw(st.sampled_from([0.0, 0.5, 0.78, 0.8]))
    tau_on = draw(st.sampled_from([tau_off, 0.86, 0.9, 1.0]).filter(lambda t: t >= tau_off))
    min_s = draw(st.sampled_from([0.25, 1.0, 2.0, 3.0]))
    max_s = draw(st.sampled_from([2.0, 3.0, 5.0, 8.0, 40.0]).filter(lambda t: t >= 2 * min_s))
    assume((max_piece_samples(max_s, sfreq) // 2) / sfreq >= min_s)
    cfg = PostprocessConfig(
        tau_on=tau_on,
        tau_off=tau_off,
        opening_samples=draw(st.integers(1, 9)),
        closing_samples=draw(st.integers(1, 12)),
        min_duration_s=min_s,
        max_duration_s=max_s,
        long_event_policy=draw(st.sampled_from(["split", "cap"])),
        merge_gap_s=draw(st.sampled_from([None, 0.5, 3.0])),
    )
    return sfreq, cfg


@settings(max_examples=150, deadline=None)
@given(p=traces(), sfreq_cfg=configs())
def test_postprocess_matches_reference(
    p: list[float], sfreq_cfg: tuple[float, PostprocessConfig]
) -> None:
    sfreq, cfg = sfreq_cfg
    got = postprocess(np.array(p), sfreq, cfg)
    want = ref_postprocess(p, sfreq, cfg)
    assert got["start_s"].tolist() == [w[0] for w in want]
    assert got["stop_s"].tolist() == [w[1] for w in want]
    np.testing.assert_allclose(got["confidence"], [w[2] for w in want], rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(p=traces(), tau_off=st.sampled_from(LEVELS), tau_on=st.sampled_from(LEVELS))
def test_hysteresis_matches_reference(p: list[float], tau_off: float, tau_on: float) -> None:
    assume(tau_off <= tau_on)
    assert hysteresis(np.array(p), tau_on, tau_off).tolist() == ref_hysteresis(p, tau_on, tau_off)


@settings(max_examples=100, deadline=None)
@given(mask=st.lists(st.booleans(), min_size=1, max_size=80), k=st.integers(1, 12))
def test_morphology_matches_reference(mask: list[bool], k: int) -> None:
    array = np.array(mask)
    assert opening(array, k).tolist() == ref_opening(mask, k)
    assert closing(array, k).tolist() == ref_closing(mask, k)


def test_reference_closing_is_dilation_then_erosion() -> None:
    """The window definition of the reference agrees with erosion of a dilation on Z."""
    mask, k = [False, True, True, False, False, True, False, False, False, True], 3
    pad = 2 * k
    line = [False] * pad + mask + [False] * pad  # the infinite line, cut where all is False
    dilated = [any(line[j] for j in range(max(i - k + 1, 0), i + 1)) for i in range(len(line))]
    eroded = [all(dilated[j] for j in range(i, min(i + k, len(line)))) for i in range(len(line))]
    assert eroded[pad:-pad] == ref_closing(mask, k)
