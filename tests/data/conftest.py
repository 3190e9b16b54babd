"""Fixtures for bgb_data tests: small EDF files and a tiny synthetic corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bgb_data import (
    ELECTRODES,
    generate_corpus,
    label_mask,
    window_seizure_fractions,
    window_starts,
    write_edf,
)

TUSZ_ORDER = ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
              "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ")  # fmt: skip

MakeEdf = Callable[..., Path]


def eeg_like(rng: np.random.Generator, n_channels: int, n: int, sfreq_hz: float) -> np.ndarray:
    """Smooth random EEG-like signals in microvolts (integrated noise plus 10 Hz)."""
    t = np.arange(n) / sfreq_hz
    walk = np.cumsum(rng.standard_normal((n_channels, n)), axis=1)
    walk -= walk.mean(axis=1, keepdims=True)
    walk *= 20.0 / walk.std(axis=1, keepdims=True)
    alpha = 10.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6, (n_channels, 1)))
    return walk + alpha + 5.0 * rng.standard_normal((n_channels, n))


@pytest.fixture
def eeg_signals() -> Callable[..., np.ndarray]:
    """:func:`eeg_like` as a fixture: ``eeg_signals(rng, n_channels, n, sfreq_hz)``, uV."""
    return eeg_like


@pytest.fixture
def make_edf(tmp_path: Path) -> MakeEdf:
    """Write an EDF with TUSZ-style channels (or given labels) and return its path."""

    def make(
        name: str = "rec.edf",
        *,
        sfreq_hz: int = 256,
        duration_s: int = 70,
        labels: list[str] | None = None,
        signals: np.ndarray | None = None,
        seed: int = 0,
        extras: bool = True,
        physical_max_uv: np.ndarray | float | None = None,
    ) -> Path:
        if labels is None:
            labels = [f"EEG {n}-REF" for n in TUSZ_ORDER]
            if extras:
                labels += ["EEG A1-REF", "EEG A2-REF", "EEG EKG1-REF", "PHOTIC-REF"]
        n = sfreq_hz * duration_s
        if signals is None:
            signals = eeg_like(np.random.default_rng(seed), len(labels), n, sfreq_hz)
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_edf(path, signals, labels, sfreq_hz, physical_max_uv=physical_max_uv)
        return path

    return make


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three patients, about six minutes of synthetic EEG in TUSZ layout (read-only use)."""
    out = tmp_path_factory.mktemp("corpus")
    generate_corpus(out, hours=0.1, seed=7, recording_minutes=(1.6, 2.4),
                    seizures_per_hour=30.0, no_seizure_share=0.0)  # fmt: skip
    return out


def electrode_rows(labels: list[str]) -> list[int]:
    """Indices of the 19 electrodes among TUSZ-style labels, in ELECTRODES order."""
    upper = [label.split()[-1].split("-")[0] for label in labels]
    return [upper.index(e.upper()) for e in ELECTRODES]


@pytest.fixture(scope="session")
def tiny_cache(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny corpus built into a cache (read-only use)."""
    from bgb_data import build_cache

    cache = tmp_path_factory.mktemp("cache")
    summary = build_cache(tiny_corpus, cache)
    assert summary.n_skipped == 0
    return cache


def write_window_cache(
    cache_dir: Path,
    n_recordings: int,
    *,
    duration_s: float = 8.0,
    window_s: float = 4.0,
    seizures_of: Callable[[int], list[tuple[float, float]]] | None = None,
) -> Path:
    """Write a cache of ``n_recordings`` short random recordings straight in the cache's
    format (``.npy`` arrays under ``recordings/``, a manifest saved by :class:`Manifest`),
    all in the train split, windows of ``window_s`` without overlap; return ``cache_dir``.

    Building real recordings costs ~50 ms each; this costs well under 1 ms, so tests can
    afford the thousand recordings that open-file limits need. Every third recording has a
    seizure from 2 s to 5 s, unless ``seizures_of(k)`` gives recording k's seizures; signals
    differ per recording (seeded by its position).
    """
    from bgb_data import Manifest, Recipe, RecordingEntry

    sfreq_hz = 256.0
    n = round(duration_s * sfreq_hz)
    window_n = round(window_s * sfreq_hz)
    recipe = Recipe()
    entries = []
    for k in range(n_recordings):
        stem = f"recordings/edf/train/p{k:05d}/s001_2010/01_tcp_ar/p{k:05d}_s001_t000"
        seizures = seizures_of(k) if seizures_of else [(2.0, 5.0)] if k % 3 == 0 else []
        labels = label_mask(seizures, n, sfreq_hz)
        signal = np.random.default_rng(k).standard_normal((len(ELECTRODES), n))
        (cache_dir / stem).parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_dir / f"{stem}.signal.npy", signal.astype(np.float16))
        np.save(cache_dir / f"{stem}.labels.npy", labels)
        starts = window_starts(n, window_n, window_n)
        entries.append(
            RecordingEntry(
                path=f"edf/train/p{k:05d}/s001_2010/01_tcp_ar/p{k:05d}_s001_t000.edf",
                split="train", patient=f"p{k:05d}", session="s001_2010", montage="01_tcp_ar",
                status="ok", reason=None, message=None, recipe_hash=recipe.hash(),
                source_size=0, source_mtime_ns=0, sfreq_in_hz=sfreq_hz, duration_s=duration_s,
                n_samples=n, seizures=seizures, signal_file=f"{stem}.signal.npy",
                label_file=f"{stem}.labels.npy",
                window_seizure_fraction=window_seizure_fractions(labels, starts, window_n).tolist(),
            )
        )  # fmt: skip
    manifest = Manifest(
        recipe=recipe.to_dict(), recipe_hash=recipe.hash(), data_root=str(cache_dir),
        sfreq_hz=sfreq_hz, window_n=window_n, stride_n=window_n, recordings=entries,
    )  # fmt: skip
    manifest.save(cache_dir)
    return cache_dir


@pytest.fixture
def window_cache(tmp_path: Path) -> Callable[..., Path]:
    """:func:`write_window_cache` into a fresh folder: ``window_cache(n_recordings, ...)``."""

    def make(n_recordings: int, **kwargs: Any) -> Path:
        return write_window_cache(tmp_path / "window-cache", n_recordings, **kwargs)

    return make
