"""WindowDataset views into the cache and the balanced, per-epoch sampler."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bgb_data import (
    BalancedSampler,
    Manifest,
    WindowDataset,
    label_mask,
    open_labels,
    open_signal,
    window_seizure_fractions,
    window_starts,
)
from bgb_data._dataset import as_float32


def test_windows_are_views_of_the_cached_recordings(tiny_cache: Path) -> None:
    manifest = Manifest.load(tiny_cache)
    for split in ("train", "dev", "eval"):
        ds = WindowDataset(tiny_cache, split, manifest=manifest)
        expected = sum(len(window_starts(r.n_samples or 0)) for r in ds.recordings)
        assert len(ds) == expected == ds.index.shape[0] == ds.seizure_fraction.size
        for i in (0, len(ds) - 1):
            x, y = ds[i]
            rec, start = ds.index[i]
            entry = ds.recordings[rec]
            assert x.shape == (19, 15360) and x.dtype == np.float32
            assert y.shape == (15360,) and y.dtype == np.float32
            assert np.array_equal(x, open_signal(tiny_cache, entry)[:, start : start + 15360])
            assert np.array_equal(y, open_labels(tiny_cache, entry)[start : start + 15360])
            assert y.mean() == pytest.approx(ds.seizure_fraction[i], abs=1e-4)
        assert ds.index[-1, 1] + 15360 == ds.recordings[-1].n_samples  # tail covered


def test_other_window_geometry_recomputes_fractions(tiny_cache: Path) -> None:
    ds = WindowDataset(tiny_cache, "train", window_s=30.0, stride_s=5.0)
    entry = ds.recordings[0]
    starts = window_starts(entry.n_samples or 0, 7680, 1280)
    mask = label_mask(entry.seizures, entry.n_samples or 0)
    assert np.array_equal(ds.seizure_fraction[: starts.size],
                          window_seizure_fractions(mask, starts, 7680))  # fmt: skip
    with pytest.raises(ValueError, match="whole number of samples"):
        WindowDataset(tiny_cache, "train", window_s=60.001)
    with pytest.raises(ValueError, match="no recordings with status ok"):
        WindowDataset(tiny_cache, "test")


def test_dataset_pickles_without_open_maps(tiny_cache: Path) -> None:
    ds = WindowDataset(tiny_cache, "train")
    x, _ = ds[0]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._maps == {}
    assert np.array_equal(clone[0][0], x)


def test_sampler_balances_and_redraws_per_epoch(tiny_cache: Path) -> None:
    ds = WindowDataset(tiny_cache, "train")
    has_seizure = ds.seizure_fraction > 0
    assert has_seizure.any() and (~has_seizure).any()
    sampler = BalancedSampler(ds, n_per_epoch=40, seizure_share=0.25, seed=3)
    first = list(sampler)
    assert len(first) == len(sampler) == 40
    assert has_seizure[first].sum() == 10
    assert list(sampler) == first  # same (seed, epoch): same draw
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and has_seizure[second].sum() == 10
    again = BalancedSampler(ds, n_per_epoch=40, seizure_share=0.25, seed=3)
    again.set_epoch(1)
    assert list(again) == second
    assert list(BalancedSampler(ds, n_per_epoch=40, seizure_share=0.25, seed=4)) != first
    assert all(0 <= i < len(ds) for i in second)


def test_per_event_draw_gives_every_seizure_the_same_chance(
    window_cache: Callable[..., Path],
) -> None:
    """Under ``per_event`` the windows touching each seizure hold the same total weight,
    however many windows it spans; the shares and determinism of the draw are kept."""
    seizures = {0: [(10.0, 20.0)], 1: [(20.0, 110.0)], 2: [(10.0, 15.0), (60.0, 100.0)]}
    cache = window_cache(3, duration_s=120.0, window_s=10.0, seizures_of=lambda k: seizures[k])
    ds = WindowDataset(cache, "train", window_s=10.0, stride_s=2.0)
    sampler = BalancedSampler(ds, n_per_epoch=40, seizure_share=0.5, seed=3, per_event=True)
    weights = sampler.seizure_weights
    assert weights is not None and np.isclose(weights.sum(), 1.0)
    windows_of: dict[tuple[int, int], list[int]] = {}
    for position, i in enumerate(sampler.seizure_windows):
        rec, start = (int(v) for v in ds.index[i])
        begin, end = start / 256.0, (start + ds.window_n) / 256.0
        hit = [(rec, j) for j, (a, b) in enumerate(seizures[rec]) if a < end and b > begin]
        assert len(hit) == 1  # the seizures lie further apart than a window
        windows_of.setdefault(hit[0], []).append(position)
    assert len(windows_of) == 4
    counts = sorted(len(v) for v in windows_of.values())
    assert counts[0] < counts[-1]  # a uniform draw would favour the long seizures
    for positions in windows_of.values():
        assert np.isclose(weights[positions].sum(), 0.25)
    first = list(sampler)
    has_seizure = ds.seizure_fraction > 0
    assert len(first) == 40 and has_seizure[first].sum() == 20
    assert list(sampler) == first
    assert BalancedSampler(ds, n_per_epoch=40, seed=3).seizure_weights is None


def test_hard_negatives_join_every_draw_in_place_of_uniform_background(tiny_cache: Path) -> None:
    ds = WindowDataset(tiny_cache, "train")
    has_seizure = ds.seizure_fraction > 0
    background = np.flatnonzero(~has_seizure)
    assert background.size >= 3
    sampler = BalancedSampler(ds, n_per_epoch=12, seizure_share=0.75, seed=3)
    assert sampler.n_background == 3
    hard = background[[0, 2]]
    sampler.set_hard_negatives(hard.tolist())
    draws = []
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        drawn = np.array(list(sampler))
        assert drawn.size == 12 and has_seizure[drawn].sum() == 9  # the shares are kept
        chosen = drawn[~has_seizure[drawn]]
        assert set(hard.tolist()) <= set(chosen.tolist())
        assert np.unique(chosen).size == 3  # the third is drawn from the other windows
        assert list(sampler) == drawn.tolist()  # deterministic for (seed, epoch, hard)
        draws.append(drawn.tolist())
    assert draws[0] != draws[1]
    sampler.set_hard_negatives([])
    sampler.set_epoch(0)
    plain = BalancedSampler(ds, n_per_epoch=12, seizure_share=0.75, seed=3)
    assert list(sampler) == list(plain)


def test_hard_negatives_must_be_distinct_background_windows(tiny_cache: Path) -> None:
    ds = WindowDataset(tiny_cache, "train")
    sampler = BalancedSampler(ds, n_per_epoch=4, seizure_share=0.5, seed=0)
    background = sampler.background_windows
    with pytest.raises(ValueError, match="repeat"):
        sampler.set_hard_negatives([int(background[0])] * 2)
    with pytest.raises(ValueError, match="not windows without seizure"):
        sampler.set_hard_negatives([int(sampler.seizure_windows[0])])
    with pytest.raises(ValueError, match="exceed the 2 windows"):
        sampler.set_hard_negatives(background[:3].tolist())
    sampler.set_hard_negatives(background[:2].tolist())  # the whole background share
    assert sorted(i for i in sampler if not ds.seizure_fraction[i]) == background[:2].tolist()


def test_sampler_errors(tiny_cache: Path) -> None:
    ds = WindowDataset(tiny_cache, "train")
    with pytest.raises(ValueError, match="seizure_share"):
        BalancedSampler(ds, seizure_share=1.5)
    ds.seizure_fraction = np.zeros_like(ds.seizure_fraction)
    with pytest.raises(ValueError, match="no window with seizure"):
        BalancedSampler(ds)
    assert len(list(BalancedSampler(ds, seizure_share=0.0))) == len(ds)


def test_float16_lookup_conversion_is_exact() -> None:
    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16).reshape(256, 256)
    finite = np.isfinite(every)
    got = as_float32(every)
    assert got.dtype == np.float32
    assert np.array_equal(got[finite], every[finite].astype(np.float32))
    assert np.array_equal(np.isnan(got), np.isnan(every))
