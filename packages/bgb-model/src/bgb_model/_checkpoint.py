"""Activation checkpointing of one model segment: keep its inputs, recompute the rest in backward.

Why segments never contain BatchNorm: a recomputed BatchNorm in training mode would update its
running statistics a second time, and under DistributedDataParallel the trainer's
SyncBatchNorm1d all-reduces its statistics in forward, so recomputing it inside backward would
issue collectives while DDP's own gradient all-reduces are in flight (a deadlock risk when ranks
interleave them differently). Callers therefore cut their segments at BatchNorm layers
(``bgb_model.tcn.TCN``) and checkpoint only modules without one.

Dropout inside a segment draws the same mask when recomputed: ``preserve_rng_state`` saves the
CPU and CUDA generator states before the forward and restores them for the recomputation.
Autocast state is likewise restored by ``torch.utils.checkpoint``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch.utils.checkpoint import checkpoint

__all__ = ["run_segment"]

_Out = TypeVar("_Out")


def run_segment(function: Callable[..., _Out], *args: object, enabled: bool) -> _Out:
    """``function(*args)``, recomputed during backward when ``enabled`` and autograd records.

    With ``enabled`` False, or under ``torch.no_grad`` / inference mode, this is a plain call:
    no wrapper, no saved RNG state, no overhead. ``function`` must not contain BatchNorm (see
    the module docstring) and must compute the same function when called again.
    """
    if not (enabled and torch.is_grad_enabled()):
        return function(*args)
    result: _Out = checkpoint(function, *args, use_reentrant=False, preserve_rng_state=True)
    return result
