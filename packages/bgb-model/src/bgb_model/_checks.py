"""Cheap finiteness checks at stage boundaries, so a NaN names the stage that made it."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_finite"]


def check_finite(tensor: Tensor, stage: str) -> None:
    """Raise FloatingPointError if ``tensor`` holds NaN or inf, naming ``stage``."""
    if not bool(torch.isfinite(tensor).all()):
        n_bad = int((~torch.isfinite(tensor)).sum())
        raise FloatingPointError(
            f"non-finite values in the {stage} ({n_bad} of {tensor.numel()} entries, shape "
            f"{tuple(tensor.shape)}); no clamp hides this: inspect that stage and its input"
        )
