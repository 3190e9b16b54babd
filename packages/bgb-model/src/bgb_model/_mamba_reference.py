"""Slow, obviously-correct Mamba2 references, to compare the fast path against.

Two forms of the selective scan sit between the maths and ``bgb_model._ssd``:

- ``recurrent_scan``: the recurrence itself, one time step at a time;
- ``chunked_scan``: the chunked SSD algorithm in its textbook form, segment sums and einsums
  over whole tensors, without the fast path's factored decays, masked pairs or sliced batches.

Plus ``mamba2_step_by_step``, the whole layer written out around ``recurrent_scan``. They exist
to be compared against (tests) and raced against (benchmarks), not to be used: the loop over
time and the full (chunk x chunk) decay matrix per head make them slower than ``_ssd``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from bgb_model.mamba2 import Mamba2

__all__ = ["chunked_scan", "mamba2_step_by_step", "recurrent_scan", "segsum"]


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


def segsum(a: Tensor) -> Tensor:
    """Segment sums: out[..., t, s] = a[..., s+1] + ... + a[..., t] for s <= t, -inf for s > t.

    With ``a`` the log-decay of each step, exp(out[..., t, s]) is the decay from step s to step
    t, zero when s comes after t. Each entry is summed directly from its own terms rather than
    taken as cum_t - cum_s, so its rounding does not grow with the sums before s.

    Shapes: (..., q) -> (..., q, q).
    """
    q = a.shape[-1]
    terms = a[..., :, None].expand(*a.shape, q).tril(-1)  # [..., m, s] = a_m where m > s, else 0
    sums = terms.cumsum(dim=-2)  # [..., t, s] = sum of a_m over s < m <= t
    after = torch.ones(q, q, dtype=torch.bool, device=a.device).triu(1)  # s > t
    return sums.masked_fill(after, -math.inf)


def chunked_scan(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, chunk_size: int
) -> Tensor:
    """The scan of ``recurrent_scan`` by the chunked SSD algorithm, in its textbook form.

    Cut the sequence into chunks of Q steps. Inside a chunk the scan is a masked, attention-like
    (Q x Q) product; across chunks only the state at each chunk's end is carried, by the same
    kind of masked product over chunks. Step t of chunk c then gets
    y_t = (within-chunk sum over s <= t) + exp(decay from the chunk's start to t) C_t . state_c.

    Shapes: as ``recurrent_scan`` (x (b, l, h, p), dt (b, l, h), B and C (b, l, g, n));
    internally (b, h, c, q, ...) with c chunks of q = ``chunk_size`` steps.

    References: Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient
    Algorithms Through Structured State Space Duality", section 6 (the SSD algorithm).
    """
    length, nheads = x.shape[1], x.shape[2]
    per_group = nheads // B.shape[2]
    pad = -length % chunk_size  # zero steps after the last: causal, so no real output moves

    def chunked(per_step: Tensor) -> Tensor:  # (b, l, h, ...) -> (b, h, c, q, ...)
        padded = F.pad(per_step, (0, 0) * (per_step.dim() - 2) + (0, pad))
        return padded.reshape(padded.shape[0], -1, chunk_size, *padded.shape[2:]).movedim(3, 1)

    # 1. Inputs per head and chunk; a is each step's log-decay dt * A (<= 0).
    a = chunked(dt * A)  # (b, h, c, q)
    x_dt = chunked(x * dt[..., None])  # (b, h, c, q, p)
    B_h = chunked(B.repeat_interleave(per_group, dim=2))  # (b, h, c, q, n)
    C_h = chunked(C.repeat_interleave(per_group, dim=2))  # (b, h, c, q, n)

    # 2. Within chunks: y_t = sum_{s <= t} exp(a_{s+1} + ... + a_t) (C_t . B_s) x_dt_s.
    decay = torch.exp(segsum(a))  # (b, h, c, q_t, q_s), zero above the diagonal
    y_within = torch.einsum("bhctn,bhcsn,bhcts,bhcsp->bhctp", C_h, B_h, decay, x_dt)

    # 3. The state each chunk adds by its end: the last row of the same decays, s -> end.
    added = torch.einsum("bhcs,bhcsp,bhcsn->bhcpn", decay[..., -1, :], x_dt, B_h)

    # 4. Across chunks: state at the end of chunk i = sum_{j <= i} decay(end j -> end i) added_j,
    #    with segsum over the chunks' total log-decays; chunk i starts from the end of i - 1.
    between = torch.exp(segsum(a.sum(dim=-1)))  # (b, h, c_i, c_j)
    ends = torch.einsum("bhij,bhjpn->bhipn", between, added)  # (b, h, c, p, n)
    starts = F.pad(ends, (0, 0, 0, 0, 1, 0))[:, :, :-1]  # (b, h, c, p, n), zero for chunk 0

    # 5. From each chunk's starting state: y_t = exp(a_1 + ... + a_t) C_t . state_c.
    from_start = torch.exp(a.cumsum(dim=-1))  # (b, h, c, q)
    y_carried = torch.einsum("bhctn,bhcpn,bhct->bhctp", C_h, starts, from_start)

    # 6. Back to (b, l, h, p), padding cut off, plus the skip D x.
    y = (y_within + y_carried).movedim(1, 3).flatten(1, 2)[:, :length]  # (b, l, h, p)
    return y + D[:, None] * x


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
