"""Focal loss on per-sample seizure logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["focal_loss"]


def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float
) -> torch.Tensor:
    """Mean binary focal loss.

    ``alpha`` weighs the seizure class (``1 - alpha`` the background), ``gamma`` down-weights
    samples the model already gets right. Computed in float32 at least, whatever the autocast
    dtype (float64 logits stay float64).

    Shapes:
        logits, targets: (B, n_samples); targets are 0/1.

    References:
        Lin et al. 2017, "Focal Loss for Dense Object Detection".
    """
    dtype = torch.promote_types(logits.dtype, torch.float32)
    logits = logits.to(dtype)
    targets = targets.to(dtype)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_true = p * targets + (1 - p) * (1 - targets)
    alpha_true = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_true * (1 - p_true) ** gamma * cross_entropy).mean()
