"""Gated RMSNorm of Mamba2: RMS-normalise ``x * silu(z)`` in groups, then scale by ``weight``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RMSNormGated"]


class RMSNormGated(nn.Module):
    """mamba-ssm's ``RMSNormGated`` with ``norm_before_gate=False``, in plain PyTorch.

    The statistics are computed in float32 (float64 stays float64) and the result is returned in
    the dtype of ``x``. Only ``weight`` is a parameter, as in mamba-ssm.

    Shapes: x, z (..., d) -> (..., d); d must be a multiple of ``group_size``.
    """

    def __init__(self, d: int, group_size: int, eps: float = 1e-5) -> None:
        super().__init__()
        if d % group_size != 0:
            raise ValueError(f"RMSNormGated: d={d} is not a multiple of group_size={group_size}")
        self.group_size = group_size
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        dtype = torch.promote_types(x.dtype, torch.float32)
        gated = x.to(dtype) * F.silu(z.to(dtype))
        grouped = gated.view(*gated.shape[:-1], -1, self.group_size)  # (..., groups, group_size)
        inv_rms = torch.rsqrt(grouped.square().mean(dim=-1, keepdim=True) + self.eps)
        normed: Tensor = (grouped * inv_rms).flatten(-2) * self.weight.to(dtype)
        return normed.to(x.dtype)
