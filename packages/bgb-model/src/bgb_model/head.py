"""Classifier head: pool electrodes per timestep, score, upsample to per-sample logits."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bgb_model.config import HeadConfig

__all__ = ["Head", "upsample_logits"]


def upsample_logits(logits: Tensor, factor: int, mode: str) -> Tensor:
    """Per-timestep to per-sample logits.

    ``"linear"`` interpolates between timestep centres (timestep t covers samples
    [t * factor, (t + 1) * factor), its value sits at the block centre; the edges hold the end
    values). ``"repeat"`` holds each value over its block.

    Shapes: logits (B, T) -> (B, T * factor).
    """
    if mode == "repeat":
        return logits.repeat_interleave(factor, dim=-1)
    if mode == "linear":
        up = F.interpolate(logits[:, None, :], scale_factor=factor, mode="linear")  # (B, 1, S)
        return up[:, 0, :]
    raise ValueError(f"upsample mode must be 'linear' or 'repeat', got {mode!r}")


class Head(nn.Module):
    """LayerNorm, then [mean, max] over electrodes, then a two-layer MLP to one logit per step.

    Mean pooling sees widespread (generalised) activity, max pooling a focal seizure on a few
    electrodes; both are invariant to electrode order.
    """

    def __init__(self, config: HeadConfig, node_width: int, total_stride: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(node_width)
        self.mlp = nn.Sequential(
            nn.Linear(2 * node_width, config.hidden), nn.GELU(), nn.Linear(config.hidden, 1)
        )
        self.total_stride = total_stride
        self.upsample = config.upsample

    def forward(self, nodes: Tensor) -> Tensor:
        """Shapes: nodes (B, T, N, D) -> per-sample logits (B, T * total_stride)."""
        normed = self.norm(nodes)  # (B, T, N, D)
        pooled = torch.cat([normed.mean(dim=2), normed.amax(dim=2)], dim=-1)  # (B, T, 2D)
        per_step = self.mlp(pooled)[..., 0]  # (B, T)
        return upsample_logits(per_step, self.total_stride, self.upsample)
