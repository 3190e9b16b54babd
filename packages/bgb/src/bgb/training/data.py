"""The training windows: indexed windows of the cache and the sampler that draws each epoch."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from bgb.config import RunConfig
from bgb_data import BalancedSampler, WindowDataset

__all__ = [
    "EpochPosition",
    "EpochSampler",
    "IndexedWindows",
    "make_sampler",
]

log = logging.getLogger(__name__)


class IndexedWindows(Dataset[tuple[np.ndarray, np.ndarray, int]]):
    """A window dataset whose items also carry their index, to name a batch's recordings."""

    def __init__(self, windows: WindowDataset) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        x, y = self.windows[index]
        return x, y, index

    def describe(self, index: int) -> str:
        """``recording path @ start second`` of window ``index``."""
        recording, start = self.windows.index[index]
        entry = self.windows.recordings[int(recording)]
        return f"{entry.path} @ {int(start) / 256.0:.0f} s"


class EpochSampler:
    """Uniform draw without replacement, redrawn per epoch from ``(seed, epoch)`` alone."""

    def __init__(self, n_items: int, n_per_epoch: int | None, seed: int) -> None:
        self.n_items = n_items
        self.n_per_epoch = min(n_items, n_per_epoch or n_items)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_per_epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n_items, generator=generator)[: self.n_per_epoch]
        return iter(order.tolist())


class EpochPosition:
    """The index order a run's one DataLoader reads: the epoch's draw of ``sampler``, cut to
    the epoch's ``steps_per_epoch`` batches, from a given step on.

    Resuming in the middle of an epoch sets the position to the step it stopped at; the
    indices before it are skipped without any window being read. ``sampler`` is any sampler
    with ``set_epoch`` whose draw depends only on its seed and the epoch.
    """

    def __init__(self, sampler: Any, batch_size: int, steps_per_epoch: int) -> None:
        self.sampler = sampler
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.start_step = 0

    def set_position(self, epoch: int, step_in_epoch: int) -> None:
        """Read epoch ``epoch`` (0-based) from its batch ``step_in_epoch`` on."""
        if not 0 <= step_in_epoch <= self.steps_per_epoch:
            raise ValueError(f"step {step_in_epoch} outside the epoch's {self.steps_per_epoch}")
        self.sampler.set_epoch(epoch)
        self.start_step = step_in_epoch

    def __len__(self) -> int:
        stop = min(len(self.sampler), self.steps_per_epoch * self.batch_size)
        return max(0, stop - self.start_step * self.batch_size)

    def __iter__(self) -> Iterator[int]:
        start = self.start_step * self.batch_size
        return itertools.islice(iter(self.sampler), start, start + len(self))


def make_sampler(config: RunConfig, windows: WindowDataset) -> BalancedSampler | EpochSampler:
    """The epoch sampler the config asks for: balanced by seizure share, or uniform."""

    training = config.training
    if training.balanced_sampling and not training.smoke_test:
        return BalancedSampler(
            windows,
            n_per_epoch=training.windows_per_epoch,
            seizure_share=training.seizure_share,
            seed=training.seed,
            per_event=training.seizure_draw == "event",
        )
    return EpochSampler(len(windows), training.windows_per_epoch, training.seed)
