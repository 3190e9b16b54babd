"""Windows of a cache as a map-style dataset, and a balanced sampler redrawn every epoch.

Both are plain Python objects (no torch import): ``torch.utils.data.DataLoader`` accepts a
dataset with ``__len__``/``__getitem__`` and any iterable of indices as ``sampler``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bgb_data._labels import label_mask
from bgb_data._manifest import Manifest, RecordingEntry
from bgb_data._npymap import NpyLayout, map_array, read_layout
from bgb_data._windows import window_seizure_fractions, window_starts

__all__ = [
    "DEFAULT_MAX_OPEN_RECORDINGS",
    "BalancedSampler",
    "WindowDataset",
    "as_float32",
]

DEFAULT_MAX_OPEN_RECORDINGS = 64
"""Recordings a :class:`WindowDataset` keeps mapped per process: 128 file descriptors (two
arrays each), an eighth of the usual soft limit of 1,024, leaving the rest to torch,
DataLoader queues and the tensors in flight between processes. A larger set buys little
under random sampling: on TUSZ (~3,700 training recordings) even 1,000 open recordings
would serve barely a quarter of the reads without reopening, and a reopen (two maps, their
first-touch page faults, unmapping the evicted pair) costs about 110 us against about
230 us for reading the 60 s window itself (benchmarks/bench_loader.py)."""


class WindowDataset:
    """Every window (default 60 s, stride 10 s, tail covered) of one split's recordings.

    ``dataset[i]`` is ``(x, y)``: x float32 (19, window_n), y float32 (window_n,) 0/1,
    read from the memory-mapped cache (no stored copies of overlapping windows).

    At most ``max_open_recordings`` recordings stay mapped in a process, each holding two
    file descriptors (signal and labels); opening one more releases the least recently
    read, closing its descriptors. Maps are not pickled: each DataLoader worker opens its
    own. Not thread-safe: give each thread its own dataset.

    Attributes:
        recordings: the manifest entries used (status ``ok``, this split), in order.
        index: int64 (n_windows, 2) of (recording position in ``recordings``, start sample).
        seizure_fraction: float32 (n_windows,) seizure share of each window's samples.
        max_open_recordings: the bound on recordings mapped at once in this process.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        split: str,
        window_s: float = 60.0,
        stride_s: float = 10.0,
        manifest: Manifest | None = None,
        max_open_recordings: int = DEFAULT_MAX_OPEN_RECORDINGS,
    ) -> None:
        if max_open_recordings < 1:
            raise ValueError(f"max_open_recordings {max_open_recordings} must be >= 1")
        self.cache_dir = Path(cache_dir)
        self.manifest = manifest if manifest is not None else Manifest.load(self.cache_dir)
        self.window_n = _samples(window_s, self.manifest.sfreq_hz, "window_s")
        self.stride_n = _samples(stride_s, self.manifest.sfreq_hz, "stride_s")
        self.max_open_recordings = max_open_recordings
        self.recordings: list[RecordingEntry] = self.manifest.select(split=split, status="ok")
        if not self.recordings:
            raise ValueError(f"{self.cache_dir}: no recordings with status ok in split {split!r}")
        index, fractions = [], []
        for r, entry in enumerate(self.recordings):
            n = _n_samples(entry)
            starts = window_starts(n, self.window_n, self.stride_n)
            index.append(np.stack([np.full(starts.size, r, dtype=np.int64), starts], axis=1))
            fractions.append(self._fractions(entry, starts, n))
        self.index = np.concatenate(index)  # (n_windows, 2)
        self.seizure_fraction = np.concatenate(fractions)
        # recording position -> (signal, labels) maps, least recently read first
        self._maps: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        # recording position -> header layouts, so a reopen after eviction parses nothing
        self._layouts: dict[int, tuple[NpyLayout, NpyLayout]] = {}

    def _fractions(self, entry: RecordingEntry, starts: np.ndarray, n: int) -> np.ndarray:
        """Manifest fractions when the geometry matches, else from the seizure intervals."""
        if (self.window_n, self.stride_n) == (self.manifest.window_n, self.manifest.stride_n):
            stored = np.asarray(entry.window_seizure_fraction, dtype=np.float32)
            if stored.size != starts.size:
                raise ValueError(
                    f"{self.cache_dir}: {entry.path} has {stored.size} window fractions in "
                    f"the manifest, expected {starts.size}; rebuild the cache"
                )
            return stored
        mask = label_mask(entry.seizures, n, self.manifest.sfreq_hz)
        return window_seizure_fractions(mask, starts, self.window_n)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rec, start = (int(v) for v in self.index[i])
        signal, labels = self._open(rec)
        stop = start + self.window_n
        x = as_float32(signal[:, start:stop])  # (19, window_n)
        y = np.array(labels[start:stop], dtype=np.float32)  # (window_n,)
        return x, y

    @property
    def n_open_recordings(self) -> int:
        """Recordings mapped in this process now (at most ``max_open_recordings``)."""
        return len(self._maps)

    def close(self) -> None:
        """Release every open map now (later reads reopen what they need)."""
        self._maps.clear()

    def _open(self, rec: int) -> tuple[np.ndarray, np.ndarray]:
        maps = self._maps.get(rec)
        if maps is not None:
            self._maps.move_to_end(rec)
            return maps
        if len(self._maps) >= self.max_open_recordings:
            # Nothing else refers to the evicted arrays (reads return copies), so freeing
            # them here unmaps both files and closes their descriptors.
            self._maps.popitem(last=False)
        signal_layout, labels_layout = self._layout(rec)
        maps = (map_array(signal_layout), map_array(labels_layout))
        self._maps[rec] = maps
        return maps

    def _layout(self, rec: int) -> tuple[NpyLayout, NpyLayout]:
        """Header layouts of a recording's two arrays, read and checked on first use."""
        layouts = self._layouts.get(rec)
        if layouts is None:
            entry = self.recordings[rec]
            n = _n_samples(entry)
            layouts = (
                _checked_layout(self.cache_dir, entry.signal_file, (19, n), _SIGNAL_DTYPES),
                _checked_layout(self.cache_dir, entry.label_file, (n,), (np.dtype(np.uint8),)),
            )
            self._layouts[rec] = layouts
        return layouts

    def __getstate__(self) -> dict[str, Any]:
        # Memory maps are reopened in each DataLoader worker, not pickled.
        state = self.__dict__.copy()
        state["_maps"] = OrderedDict()
        return state


_SIGNAL_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))


def _checked_layout(
    cache_dir: Path, relative: str | None, shape: tuple[int, ...], dtypes: tuple[np.dtype[Any], ...]
) -> NpyLayout:
    """The layout of a cache array, which must have the shape and a dtype the entry implies."""
    if relative is None:
        raise ValueError(f"{cache_dir}: a manifest entry with status ok names no array file")
    path = cache_dir / relative
    layout = read_layout(path)
    if layout.shape != shape or layout.dtype not in dtypes or layout.fortran_order:
        order = "Fortran" if layout.fortran_order else "C"
        raise ValueError(
            f"{path}: holds {layout.dtype} {layout.shape} ({order} order), the manifest "
            f"implies {' or '.join(map(str, dtypes))} {shape} (C order); rebuild the cache"
        )
    return layout


_FLOAT16_TO_32 = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
"""Every float16 bit pattern as float32: a table lookup converts faster than astype."""


def as_float32(block: np.ndarray) -> np.ndarray:
    """A float32 copy of a float16 or float32 block (exact)."""
    if block.dtype == np.float16:
        # A uint16 index always lies inside the 65,536-entry table, so "wrap" never wraps:
        # it only skips the bounds check of the default mode (a quarter of the read time).
        return np.take(_FLOAT16_TO_32, block.view(np.uint16), mode="wrap")
    return np.array(block, dtype=np.float32)


def _samples(seconds: float, sfreq_hz: float, name: str) -> int:
    n = seconds * sfreq_hz
    if n <= 0 or not math.isclose(n, round(n)):
        raise ValueError(f"{name} {seconds} s is not a positive whole number of samples")
    return round(n)


def _n_samples(entry: RecordingEntry) -> int:
    if entry.n_samples is None:
        raise ValueError(f"{entry.path}: manifest entry with status ok has no n_samples")
    return entry.n_samples


class BalancedSampler:
    """Indices of a window dataset, redrawn each epoch with a fixed seizure share.

    Each epoch draws ``n_per_epoch`` indices (default ``len(dataset)``):
    ``round(seizure_share * n)`` from windows containing seizure (fraction > 0), the rest
    from windows without, each without replacement when there are enough windows and with
    replacement otherwise, then shuffled. Deterministic for (seed, epoch) and the hard
    negatives set by :meth:`set_hard_negatives`, which every draw includes among its
    windows without seizure until they are set again.

    With ``per_event``, windows with seizure are drawn so that every seizure is equally likely
    to be in a drawn window, whatever its length: each such window has the weight
    ``sum over the seizures it overlaps of 1 / (windows overlapping that seizure)``. Drawn
    uniformly instead, a 5-minute seizure fills about 20 times as many draws as a 10 s one.
    """

    def __init__(
        self,
        dataset: WindowDataset,
        n_per_epoch: int | None = None,
        seizure_share: float = 0.5,
        seed: int = 0,
        per_event: bool = False,
    ) -> None:
        if not 0.0 <= seizure_share <= 1.0:
            raise ValueError(f"seizure_share {seizure_share} outside [0, 1]")
        self.n_per_epoch = len(dataset) if n_per_epoch is None else n_per_epoch
        if self.n_per_epoch < 1:
            raise ValueError(f"n_per_epoch {self.n_per_epoch} must be >= 1")
        fractions = np.asarray(dataset.seizure_fraction)
        self.seizure_windows = np.flatnonzero(fractions > 0)
        self.background_windows = np.flatnonzero(fractions == 0)
        self.n_seizure = round(seizure_share * self.n_per_epoch)
        if self.n_seizure and not self.seizure_windows.size:
            raise ValueError("seizure_share > 0 but the dataset has no window with seizure")
        if self.n_per_epoch - self.n_seizure and not self.background_windows.size:
            raise ValueError("seizure_share < 1 but the dataset has no window without seizure")
        self.seizure_weights = _event_weights(dataset, self.seizure_windows) if per_event else None
        self.seed = seed
        self.epoch = 0
        self.hard_negatives = np.empty(0, dtype=np.int64)

    @property
    def n_background(self) -> int:
        """Windows without seizure in each epoch's draw."""
        return self.n_per_epoch - self.n_seizure

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose draw the next iteration yields."""
        self.epoch = epoch

    def set_hard_negatives(self, indices: Sequence[int]) -> None:
        """Windows without seizure that each following draw includes; the rest of its
        background share is drawn as usual from the other windows without seizure.

        Raises:
            ValueError: an index is repeated, is not a window without seizure, or there are
                more of them than the background share of an epoch.
        """
        hard = np.asarray(indices, dtype=np.int64).reshape(-1)
        if np.unique(hard).size != hard.size:
            raise ValueError("hard negatives must not repeat a window")
        if hard.size > self.n_background:
            raise ValueError(
                f"{hard.size} hard negatives exceed the {self.n_background} windows without "
                "seizure of an epoch"
            )
        outside = np.setdiff1d(hard, self.background_windows)
        if outside.size:
            raise ValueError(
                f"hard negatives {outside[:5].tolist()} are not windows without seizure"
            )
        self.hard_negatives = hard

    def __len__(self) -> int:
        return self.n_per_epoch

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        hard = self.hard_negatives
        rest = self.background_windows
        if hard.size:
            rest = np.setdiff1d(rest, hard) if rest.size > hard.size else rest
        drawn = np.concatenate(
            [
                _draw(rng, self.seizure_windows, self.n_seizure, self.seizure_weights),
                hard,
                _draw(rng, rest, self.n_background - hard.size),
            ]
        )
        rng.shuffle(drawn)
        return iter(drawn.tolist())


def _draw(
    rng: np.random.Generator, pool: np.ndarray, n: int, weights: np.ndarray | None = None
) -> np.ndarray:
    if n == 0:
        return np.empty(0, dtype=np.int64)
    return rng.choice(pool, size=n, replace=n > pool.size, p=weights)


def _event_weights(dataset: WindowDataset, windows: np.ndarray) -> np.ndarray:
    """Draw probabilities of ``windows`` (each overlapping some seizure) under which every
    seizure of the dataset is equally likely to be drawn. Shapes: (n,) -> (n,) float64."""
    sfreq = dataset.manifest.sfreq_hz
    overlaps: list[list[tuple[int, int]]] = []  # per window: (recording, seizure number)
    counts: dict[tuple[int, int], int] = {}
    for i in windows:
        rec, start = (int(v) for v in dataset.index[i])
        # one sample of slack either side: the labels round interval ends to samples
        begin, end = (start - 1) / sfreq, (start + dataset.window_n + 1) / sfreq
        seizures = dataset.recordings[rec].seizures
        hit = [(rec, j) for j, (a, b) in enumerate(seizures) if a < end and b > begin]
        for key in hit:
            counts[key] = counts.get(key, 0) + 1
        overlaps.append(hit)
    if any(not hit for hit in overlaps):
        raise ValueError("a window marked as holding seizure overlaps none of its seizures")
    weights = np.array([sum(1.0 / counts[key] for key in hit) for hit in overlaps])
    return np.asarray(weights / weights.sum())
