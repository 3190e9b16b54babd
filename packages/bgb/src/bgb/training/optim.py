"""AdamW with decay on weight matrices only, and a warm-up + cosine schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["build_optimizer", "build_scheduler", "lr_factor"]


def build_optimizer(
    model: nn.Module, learning_rate: float, weight_decay: float
) -> torch.optim.AdamW:
    """AdamW whose decay skips every parameter with fewer than two dimensions.

    That excludes biases, norm scales, and Mamba2's per-head ``A_log``, ``D`` and ``dt_bias``,
    which weight decay would pull towards meaningless values.
    """
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=learning_rate)


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    """Multiplier of the peak learning rate at optimiser step ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first ``warmup_steps`` optimiser steps, then cosine decay to
    ``min_ratio`` of the peak at ``total_steps`` (the planned steps of the run)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, min_ratio)
    )
