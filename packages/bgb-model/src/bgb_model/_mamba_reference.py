"""Slow, obviously-correct Mamba2 references: one time step at a time, no chunking, no fusion.

They exist to be compared against (tests) and raced against (benchmarks), not to be used: the
loops over time make them orders of magnitude slower than ``bgb_model._ssd``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from bgb_model.mamba2 import Mamba2

__all__ = ["mamba2_step_by_step", "recurrent_scan"]


def recurrent_scan(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor) -> Tensor:
    """Selective SSM by its recurrence, per head h (state: headdim x d_state):

        state_t = exp(dt_t A_h) state_{t-1} + dt_t x_t B_t^T ;  y_t = state_t C_t + D_h x_t

    Heads use the B, C of their group (groups are contiguous blocks of heads).

    Shapes: x (b, l, h, p); dt (b, l, h) positive; A, D (h,); B, C (b, l, g, n) -> (b, l, h, p).
    """
    batch, length, nheads, headdim = x.shape
    ngroups, d_state = B.shape[2], B.shape[3]
    B_heads = B.repeat_interleave(nheads // ngroups, dim=2)  # (b, l, h, n)
    C_heads = C.repeat_interleave(nheads // ngroups, dim=2)  # (b, l, h, n)
    state = x.new_zeros(batch, nheads, headdim, d_state)
    outputs = []
    for t in range(length):
        decay = torch.exp(dt[:, t] * A)[:, :, None, None]  # (b, h, 1, 1)
        update = (dt[:, t, :, None] * x[:, t])[..., None] * B_heads[:, t, :, None, :]
        state = decay * state + update  # (b, h, p, n)
        y_t = (state * C_heads[:, t, :, None, :]).sum(dim=-1) + D[:, None] * x[:, t]
        outputs.append(y_t)
    return torch.stack(outputs, dim=1)


def mamba2_step_by_step(module: Mamba2, u: Tensor) -> Tensor:
    """The whole Mamba2 layer written out step by step with ``module``'s parameters.

    Causal conv as an explicit sum over past inputs, the recurrence above, gated RMSNorm per
    group as its formula. Computes in the dtype of ``u``.

    Shapes: u (b, l, d_model) -> (b, l, d_model).
    """
    dtype = u.dtype
    d_inner, n_groups, d_state = module.d_inner, module.ngroups, module.d_state
    length = u.shape[1]
    zxbcdt = u @ module.in_proj.weight.to(dtype).T
    z = zxbcdt[..., :d_inner]
    xBC = zxbcdt[..., d_inner : d_inner + module.conv1d.in_channels]
    dt_raw = zxbcdt[..., d_inner + module.conv1d.in_channels :]

    # Causal depthwise conv: out_t = bias + sum_k w[k] * in_{t - (K-1) + k}, zero before t = 0.
    weight = module.conv1d.weight.to(dtype)[:, 0, :]  # (conv_dim, K)
    kernel = weight.shape[1]
    bias = module.conv1d.bias
    if bias is None:
        raise ValueError("mamba2_step_by_step: Mamba2's conv1d has a bias by construction")
    conv = bias.to(dtype).expand_as(xBC).clone()
    for k in range(kernel):
        shift = kernel - 1 - k
        conv[:, shift:] += weight[:, k] * xBC[:, : length - shift]
    xBC = F.silu(conv)

    batch = u.shape[0]
    x = xBC[..., :d_inner].reshape(batch, length, module.nheads, module.headdim)
    B = xBC[..., d_inner : d_inner + n_groups * d_state].reshape(batch, length, n_groups, d_state)
    C = xBC[..., d_inner + n_groups * d_state :].reshape(batch, length, n_groups, d_state)
    dt = F.softplus(dt_raw + module.dt_bias.to(dtype))
    A = -torch.exp(module.A_log.to(dtype))
    y = recurrent_scan(x, dt, A, B, C, module.D.to(dtype)).flatten(-2)  # (b, l, d_inner)

    gated = (y * F.silu(z)).reshape(batch, length, n_groups, d_inner // n_groups)
    normed = gated / torch.sqrt(gated.pow(2).mean(dim=-1, keepdim=True) + module.norm.eps)
    y = normed.flatten(-2) * module.norm.weight.to(dtype)
    out: Tensor = y @ module.out_proj.weight.to(dtype).T
    return out
