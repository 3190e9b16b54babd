"""Chunked state-space-duality (SSD) scan in pure PyTorch: the CPU backend of Mamba2.

Per head h the recurrence is

    state_t = exp(dt_t * A_h) * state_{t-1} + dt_t * x_t B_t^T      (headdim x d_state)
    y_t     = state_t C_t + D_h * x_t

The chunked form computes it without a loop over time steps. With cum the cumulative log-decay
(cumsum of dt * A) inside a chunk of Q steps, the output at step l of a chunk is

    y_l = exp(cum_l) C_l . state_in  +  sum_{s <= l} (C_l . B_s) exp(cum_l - cum_s) x_dt_s

where state_in is the state entering the chunk (one short loop over chunks carries it).

Intra-chunk decay, two forms of the same function:

- factored (fast): with a per-chunk, per-head reference m = cum_last / 2,
  exp(cum_l - cum_s) = exp(cum_l - m) * exp(m - cum_s), so the sum becomes
  exp(cum_l - m) * [tril(C B^T) @ (exp(m - cum_s) x_dt_s)]: the masked (Q x Q) matrix is
  shared by every head of a group, one matmul per chunk with a (Q x heads*headdim) right-hand
  side and no (heads, Q, Q) tensor. Every factor lies in [exp(-|cum_last|/2), exp(|cum_last|/2)],
  so it is exact up to rounding while a chunk's total log-decay |cum_last| stays within
  ``_FACTORED_MAX_LOG_DECAY`` (60 in float32: factors within [1e-13, 1e13], far from overflow
  and from subnormals, also in the backward pass).
- masked (always safe): the per-head (Q x Q) decay exp(cum_l - cum_s), masked to -inf above the
  diagonal before the exponential, so no factor ever exceeds 1.

Each chunk uses the factored form when all its heads are within the bound and the masked form
otherwise (large dt * A, as training can reach), so the output never depends on the choice.

Compute happens in float32 (float64 stays float64) with autocast off, whatever the input dtype.

References: Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient Algorithms
Through Structured State Space Duality", section 6 (the SSD algorithm).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ssd_chunk_scan"]

# Largest total log-decay |cumsum(dt * A)| over one chunk for which the factored form is used:
# the factors exp(+-|total| / 2) then stay many orders of magnitude inside the dtype's range.
_FACTORED_MAX_LOG_DECAY = {torch.float32: 60.0, torch.float64: 600.0}

# Sequences are processed a few at a time so that every temporary stays small: on CPU, fresh
# allocations of tens of MB cost more in page faults than the arithmetic done in them, while
# small ones are reused from the allocator's free lists.
_TARGET_SLICE_ELEMENTS = 1 << 21


def ssd_chunk_scan(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor,
    chunk_size: int,
) -> Tensor:
    """Run the selective SSM over whole sequences with the chunked SSD algorithm.

    ``dt`` is the step size after softplus (positive); ``A`` is negative. Heads are split into
    ``ngroups`` contiguous groups, each sharing one B and one C (mamba-ssm's convention).

    Shapes:
        x: (batch, length, nheads, headdim); dt: (batch, length, nheads); A, D: (nheads,);
        B, C: (batch, length, ngroups, d_state) -> y: (batch, length, nheads, headdim),
        in the compute dtype (float32, or float64 for float64 input).
    """
    nheads = x.shape[2]
    ngroups = B.shape[2]
    if chunk_size < 1:
        raise ValueError(f"ssd_chunk_scan: chunk_size must be >= 1, got {chunk_size}")
    if nheads % ngroups != 0:
        raise ValueError(f"ssd_chunk_scan: nheads={nheads} not divisible by ngroups={ngroups}")
    dtype = torch.promote_types(x.dtype, torch.float32)
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, dt, A, B, C, D = (t.to(dtype) for t in (x, dt, A, B, C, D))
        length, headdim = x.shape[1], x.shape[3]
        chunk = min(chunk_size, length)
        padded = math.ceil(length / chunk) * chunk
        per_sequence = padded * (nheads * headdim + ngroups * chunk)
        slice_size = max(1, _TARGET_SLICE_ELEMENTS // per_sequence)
        # split/unbind rather than indexing: their backward is one cat, where each slice's
        # backward would write a zero tensor the size of the whole input.
        pieces = (torch.split(t, slice_size) for t in (x, dt, B, C))
        parts = [
            _scan(x_i, dt_i, B_i, C_i, A, D, chunk)
            for x_i, dt_i, B_i, C_i in zip(*pieces, strict=True)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)


def _scan(x: Tensor, dt: Tensor, B: Tensor, C: Tensor, A: Tensor, D: Tensor, chunk: int) -> Tensor:
    """SSD for a few sequences. Shapes as in ``ssd_chunk_scan``."""
    batch, length, nheads, headdim = x.shape
    ngroups, d_state = B.shape[2], B.shape[3]

    # 1. Pad to a whole number of chunks. Padded steps come after every real step and the scan
    #    is causal, so they cannot change a real output; they are cut off at the end. x, B and C
    #    arrive as strided slices of the conv output: one contiguous copy serves every use.
    pad = -length % chunk
    if pad:
        x, dt, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, dt, B, C))
    x, B, C = x.contiguous(), B.contiguous(), C.contiguous()
    n_chunks = (length + pad) // chunk
    flat = batch * n_chunks  # every chunk of every sequence, processed at once

    # 2. Cumulative log-decay within each chunk; which chunks may use the factored form.
    cum = (dt * A).view(flat, chunk, nheads).cumsum(dim=1)  # (k, Q, h)
    bound = _FACTORED_MAX_LOG_DECAY[cum.dtype]
    safe = cum[:, -1].amin(dim=-1) >= -bound  # (k,): cum is non-increasing, the last is lowest
    unsafe = (~safe).nonzero().squeeze(1) if not bool(safe.all()) else None
    # Unsafe chunks get zero exponents in the factored form (finite, gradients too); their
    # factored terms are replaced by the masked form's below.
    cum_f = cum if unsafe is None else torch.where(safe[:, None, None], cum, 0.0)
    chunks = (
        x.view(flat, chunk, nheads, headdim),
        dt.reshape(flat, chunk, nheads),
        B.view(flat, chunk, ngroups, d_state),
        C.view(flat, chunk, ngroups, d_state),
    )

    # 3. Within chunks: the right-hand side of the factored form and the state each chunk adds.
    factored = _Factored(cum_f, *chunks)
    added = factored.added_state()  # (k, h, p, n), the true one times exp(-mid)
    if unsafe is not None:
        added = added.index_copy(
            0, unsafe, _added_state_masked(cum[unsafe], *_pick(chunks, unsafe))
        )

    # 4. Across chunks: the state entering each, times exp(mid) (= 1 for unsafe chunks).
    states_in = _states_entering_chunks(
        added.view(batch, n_chunks, nheads, headdim, d_state),
        torch.exp(cum[:, -1]).view(batch, n_chunks, nheads),
        torch.exp(factored.mid[:, 0]).view(batch, n_chunks, nheads),
    ).view(flat, nheads, headdim, d_state)

    # 5. Outputs of every chunk: the entering state plus the intra-chunk sum.
    y = factored.outputs(states_in)  # (k, Q, h, p)
    if unsafe is not None:
        masked = _outputs_masked(cum[unsafe], *_pick(chunks, unsafe), states_in[unsafe])
        y = y.index_copy(0, unsafe, masked)
    y = y.view(batch, n_chunks * chunk, nheads, headdim)[:, :length]
    return torch.addcmul(y, x[:, :length], D[:, None])


def _pick(
    chunks: tuple[Tensor, Tensor, Tensor, Tensor], index: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The chunks at ``index`` of each of (x, dt, B, C)."""
    x, dt, B, C = chunks
    return x[index], dt[index], B[index], C[index]


class _Factored:
    """The factored intra-chunk form, exp(cum_l - cum_s) = exp(cum_l - mid) exp(mid - cum_s).

    Built from cum (k, Q, h), x (k, Q, h, p), dt (k, Q, h), B and C (k, Q, g, n); mid is
    cum_last / 2 per chunk and head, so every factor lies within exp(+-|cum_last| / 2).
    """

    def __init__(self, cum: Tensor, x: Tensor, dt: Tensor, B: Tensor, C: Tensor) -> None:
        n_chunks, chunk, nheads, headdim = x.shape
        ngroups, d_state = B.shape[2], B.shape[3]
        self.shape = (n_chunks, chunk, nheads, headdim)
        self.ngroups = ngroups
        self.width = nheads // ngroups * headdim  # heads * headdim of one group
        self.mid = cum[:, -1:] / 2  # (k, 1, h)
        self.left = torch.exp(cum - self.mid)  # (k, Q, h)
        right = torch.exp(self.mid - cum) * dt  # (k, Q, h)
        # For ngroups == 1 every reshape below is a view; otherwise the group axis moves up.
        rhs = (x * right[..., None]).view(n_chunks, chunk, ngroups, self.width)
        self.rhs = rhs.transpose(1, 2).reshape(-1, chunk, self.width)  # (k*g, Q, hg*p)
        self.B = B.transpose(1, 2).reshape(-1, chunk, d_state)  # (k*g, Q, n)
        self.C = C.transpose(1, 2).reshape(-1, chunk, d_state)  # (k*g, Q, n)

    def added_state(self) -> Tensor:
        """sum_s exp(mid - cum_s) x_dt_s B_s^T = exp(-mid) * (state the chunk adds by its end).

        Shapes: -> (k, h, p, n).
        """
        n_chunks, _, nheads, headdim = self.shape
        added = torch.bmm(self.rhs.transpose(1, 2), self.B)  # (k*g, hg*p, n)
        return added.view(n_chunks, nheads, headdim, -1)

    def outputs(self, states_in: Tensor) -> Tensor:
        """exp(cum_l - mid) [C_l . state_in + tril(C B^T) @ (exp(mid - cum_s) x_dt_s)].

        ``states_in`` is the entering state times exp(mid) (as the scan returns it).
        Shapes: states_in (k, h, p, n) -> (k, Q, h, p).
        """
        n_chunks, chunk = self.shape[:2]
        states = states_in.view(n_chunks * self.ngroups, self.width, -1)  # (k*g, hg*p, n)
        scores = torch.bmm(self.C, self.B.transpose(1, 2)).tril()  # (k*g, Q, Q), all heads
        inner = torch.baddbmm(torch.bmm(self.C, states.transpose(1, 2)), scores, self.rhs)
        inner = inner.view(n_chunks, self.ngroups, chunk, self.width).transpose(1, 2)
        return inner.reshape(self.shape) * self.left[..., None]  # (k, Q, h, p)


def _added_state_masked(cum: Tensor, x: Tensor, dt: Tensor, B: Tensor, C: Tensor) -> Tensor:
    """State each chunk adds by its end, sum_s exp(cum_last - cum_s) x_dt_s B_s^T (factors <= 1).

    Shapes: cum, dt (k, Q, h); x (k, Q, h, p); B, C (k, Q, g, n) -> (k, h, p, n).
    """
    n_chunks, chunk, nheads, headdim = x.shape
    ngroups = B.shape[2]
    weight = torch.exp(cum[:, -1:] - cum) * dt  # (k, Q, h)
    x_to_end = (x * weight[..., None]).view(n_chunks, chunk, ngroups, -1)  # (k, Q, g, hg*p)
    added = x_to_end.permute(0, 2, 3, 1) @ B.transpose(1, 2)  # (k, g, hg*p, n)
    return added.reshape(n_chunks, nheads, headdim, -1)


def _states_entering_chunks(added: Tensor, decay: Tensor, scale: Tensor) -> Tensor:
    """State entering each chunk, zero for the first, one recurrence step per chunk.

    Chunk k adds added_k * scale_k to the state, and its entering state is returned times
    scale_k (the factored form's units; scale is 1 for chunks in the masked form).
    Shapes: added (b, c, h, p, n); decay = exp(cum_last), scale (b, c, h) -> (b, c, h, p, n).
    """
    # unbind, not added[:, k]: the backward of one indexing per chunk would be quadratic.
    added_k = (added * scale[..., None, None]).unbind(1)  # c x (b, h, p, n), true units
    decay_k = decay[..., None, None].unbind(1)
    scale_k = scale[..., None, None].unbind(1)
    state = torch.zeros_like(added_k[0])
    entering = [state]
    # One step per chunk: measured faster on CPU than the (c x c) matrix form at c <= 60.
    for k in range(len(added_k) - 1):
        state = torch.addcmul(added_k[k], state, decay_k[k])
        entering.append(state * scale_k[k + 1])
    return torch.stack(entering, dim=1)


def _outputs_masked(
    cum: Tensor, x: Tensor, dt: Tensor, B: Tensor, C: Tensor, states_in: Tensor
) -> Tensor:
    """exp(cum_l) C_l . state_in + sum_{s <= l} (C_l . B_s) exp(cum_l - cum_s) x_dt_s.

    The per-head (Q x Q) decay is masked before the exponential, so no factor exceeds 1.
    Shapes: cum, dt (k, Q, h); x (k, Q, h, p); B, C (k, Q, g, n); states_in (k, h, p, n)
    -> (k, Q, h, p).
    """
    n_chunks, chunk, nheads, headdim = x.shape
    ngroups, d_state = B.shape[2], B.shape[3]
    heads_per_group = nheads // ngroups
    B_g = B.transpose(1, 2)  # (k, g, Q, n)
    C_g = C.transpose(1, 2)  # (k, g, Q, n)

    cum_h = cum.transpose(1, 2)  # (k, h, Q)
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=cum.device).tril()
    decay = (cum_h[..., :, None] - cum_h[..., None, :]).masked_fill(~causal, -math.inf).exp()
    scores = C_g @ B_g.transpose(-1, -2)  # (k, g, Q, Q)
    weights = decay.view(n_chunks, ngroups, heads_per_group, chunk, chunk) * scores[:, :, None]
    x_dt = (x * dt[..., None]).transpose(1, 2)  # (k, h, Q, p)
    y_diag = weights.view(n_chunks, nheads, chunk, chunk) @ x_dt  # (k, h, Q, p)

    states = states_in.view(n_chunks, ngroups, heads_per_group * headdim, d_state)
    y_off = C_g @ states.transpose(-1, -2)  # (k, g, Q, hg*p)
    y_off = y_off.transpose(1, 2).reshape(n_chunks, chunk, nheads, headdim)
    return y_off * cum.exp()[..., None] + y_diag.transpose(1, 2)
