"""Chunked state-space-duality (SSD) scan in pure PyTorch: the CPU backend of Mamba2.

Per head h the recurrence is

    state_t = exp(dt_t * A_h) * state_{t-1} + dt_t * x_t B_t^T      (headdim x d_state)
    y_t     = state_t C_t + D_h * x_t

The chunked form computes it without a loop over time steps. With cum the cumulative log-decay
(cumsum of dt * A) inside a chunk of Q steps, the output at step l of a chunk is

    y_l = exp(cum_l) C_l . state_in  +  sum_{s <= l} (C_l . B_s) exp(cum_l - cum_s) x_dt_s

where state_in is the state entering the chunk. The entering states of all chunks come from one
batched matmul with the (chunks x chunks) matrix of decays between chunk ends (built from
direct segment sums, masked to -inf before the exponential, so every factor is at most 1).

Intra-chunk decay, two forms of the same function:

- factored (fast): with a per-chunk, per-head reference m = cum_last / 2,
  exp(cum_l - cum_s) = exp(cum_l - m) * exp(m - cum_s), so the sum becomes
  exp(cum_l - m) * [tril(C B^T) @ (exp(m - cum_s) x_dt_s)]: the masked (Q x Q) matrix is
  shared by every head of a group, one matmul per chunk with a (Q x heads*headdim) right-hand
  side and no (heads, Q, Q) tensor. Every factor lies in [exp(-|cum_last|/2), exp(|cum_last|/2)],
  so it is exact up to rounding while a chunk's total log-decay |cum_last| stays within
  ``FACTORED_MAX_LOG_DECAY`` (80 in float32: factors within [4e-18, 3e17], far from overflow
  and from subnormals, also in the backward pass).
- masked (always safe): the (Q x Q) decay exp(cum_l - cum_s) of one head, masked to -inf above
  the diagonal before the exponential, so no factor ever exceeds 1.

Each (chunk, head) pair uses the factored form when its total log-decay is within the bound and
the masked form otherwise (large dt * A, as training can reach), so the output never depends on
the choice; only the heads past the bound pay for the masked form.

Compute happens in float32 (float64 stays float64) with autocast off, whatever the input dtype.

The same algorithm without these refinements (one (Q x Q) decay matrix per head, segment sums
and einsums) is ``bgb_model._mamba_reference.chunked_scan``; tests hold this path to it and to
the step-by-step recurrence within a derived float64 rounding bound.

References: Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient Algorithms
Through Structured State Space Duality", section 6 (the SSD algorithm).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FACTORED_MAX_LOG_DECAY", "ssd_chunk_scan"]

# Largest total log-decay |cumsum(dt * A)| over one chunk for which the factored form is used:
# the factors exp(+-|total| / 2) then stay many orders of magnitude inside the dtype's range.
FACTORED_MAX_LOG_DECAY = {torch.float32: 80.0, torch.float64: 600.0}

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
        B, C: (batch, length, ngroups, d_state) -> y: (batch, length, nheads, headdim), in the
        compute dtype (float32, or float64 for float64 input).
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
        if slice_size >= x.shape[0]:
            return _scan(x, dt, B, C, A, D, chunk)
        # split rather than indexing: its backward is one cat, where each slice's backward
        # would write a zero tensor the size of the whole input.
        pieces = (torch.split(t, slice_size) for t in (x, dt, B, C))
        parts = [
            _scan(x_i, dt_i, B_i, C_i, A, D, chunk)
            for x_i, dt_i, B_i, C_i in zip(*pieces, strict=True)
        ]
        return torch.cat(parts, dim=0)


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

    # 2. Cumulative log-decay within each chunk; which (chunk, head) pairs may use the
    #    factored form. cum is non-increasing, so its last step is the lowest.
    cum = (dt * A).view(flat, chunk, nheads).cumsum(dim=1)  # (k, Q, h)
    last = cum[:, -1]  # (k, h)
    bound = FACTORED_MAX_LOG_DECAY[cum.dtype]
    safe = last >= -bound  # (k, h)
    unsafe = _unsafe_pairs(safe)  # flat (k*h) indices, or None
    # Unsafe pairs get zero exponents in the factored form (finite, gradients too); their
    # factored terms are replaced by the masked form's below.
    cum_f = cum if unsafe is None else torch.where(safe[:, None, :], cum, 0.0)
    chunks = (
        x.view(flat, chunk, nheads, headdim),
        dt.reshape(flat, chunk, nheads),
        B.view(flat, chunk, ngroups, d_state),
        C.view(flat, chunk, ngroups, d_state),
    )
    masked = None if unsafe is None else _MaskedPairs(unsafe, cum, *chunks)

    # 3. Within chunks: the right-hand side of the factored form and the state each chunk adds.
    factored = _Factored(cum_f, *chunks)
    scale = torch.exp(factored.mid[:, 0])  # (k, h); 1 for unsafe pairs
    added = factored.added_state() * scale[..., None, None]  # (k, h, p, n), true units
    if masked is not None:
        added = masked.put(added, masked.added_state())

    # 4. Across chunks: the true state entering each chunk, from all chunks at once.
    states_in = _states_entering_chunks(
        added.view(batch, n_chunks, nheads, headdim * d_state), last.view(batch, n_chunks, nheads)
    ).view(flat, nheads, headdim, d_state)

    # 5. Outputs of every chunk: the entering state plus the intra-chunk sum.
    y = factored.outputs(states_in * scale[..., None, None])  # (k, Q, h, p)
    if masked is not None:
        y = masked.put(y.transpose(1, 2), masked.outputs(states_in)).transpose(1, 2)
    y = y.reshape(batch, n_chunks * chunk, nheads, headdim)[:, :length]
    return torch.addcmul(y, x[:, :length], D[:, None])


def _find_unsafe_pairs(safe: Tensor) -> Tensor | None:
    """Flat indices of the (chunk, head) pairs past the factored form's bound, None if none.

    A data-dependent branch: under ``torch.compile`` it runs eagerly between two compiled
    graphs (``bgb_model.compile_mamba_layers``). Shapes: safe (k, h) bool -> (P,) int64.
    """
    if bool(safe.all()):
        return None
    return (~safe).view(-1).nonzero().squeeze(1)


_pairs_between_graphs: Callable[[Tensor], Tensor | None] | None = None
"""``_find_unsafe_pairs`` behind ``torch.compiler.disable``, once :func:`prepare_for_compile`
has run. Not made at import: wrapping imports torch's compiler (torch._dynamo), seconds of
start-up that every process importing the model would pay, compiling or not."""


def prepare_for_compile() -> None:
    """Keep the scan's data-dependent branch out of compiled graphs (before ``torch.compile``)."""
    global _pairs_between_graphs
    if _pairs_between_graphs is None:
        _pairs_between_graphs = cast(
            Callable[[Tensor], Tensor | None],
            torch.compiler.disable(_find_unsafe_pairs),  # type: ignore[no-untyped-call]  # stub
        )


def _unsafe_pairs(safe: Tensor) -> Tensor | None:
    wrapped = _pairs_between_graphs
    return _find_unsafe_pairs(safe) if wrapped is None else wrapped(safe)


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

        ``states_in`` is the entering state times exp(mid).
        Shapes: states_in (k, h, p, n) -> (k, Q, h, p).
        """
        n_chunks, chunk = self.shape[:2]
        states = states_in.view(n_chunks * self.ngroups, self.width, -1)  # (k*g, hg*p, n)
        scores = torch.bmm(self.C, self.B.transpose(1, 2)).tril()  # (k*g, Q, Q), all heads
        inner = torch.baddbmm(torch.bmm(self.C, states.transpose(1, 2)), scores, self.rhs)
        inner = inner.view(n_chunks, self.ngroups, chunk, self.width).transpose(1, 2)
        return inner.reshape(self.shape) * self.left[..., None]  # (k, Q, h, p)


class _MaskedPairs:
    """The masked intra-chunk form for the (chunk, head) pairs past the factored form's bound.

    ``pairs`` indexes the flattened (k, h) grid. Every decay factor is exp of a non-positive
    number, so nothing can overflow however large dt * A is.
    """

    def __init__(
        self, pairs: Tensor, cum: Tensor, x: Tensor, dt: Tensor, B: Tensor, C: Tensor
    ) -> None:
        nheads, ngroups = x.shape[2], B.shape[2]
        self.pairs = pairs
        chunk_of, head_of = pairs // nheads, pairs % nheads
        group_of = head_of // (nheads // ngroups)
        self.cum = cum[chunk_of, :, head_of]  # (P, Q)
        self.x_dt = x[chunk_of, :, head_of] * dt[chunk_of, :, head_of][..., None]  # (P, Q, p)
        self.B = B[chunk_of, :, group_of]  # (P, Q, n)
        self.C = C[chunk_of, :, group_of]  # (P, Q, n)

    def added_state(self) -> Tensor:
        """sum_s exp(cum_last - cum_s) x_dt_s B_s^T. Shapes: -> (P, p, n)."""
        weight = torch.exp(self.cum[:, -1:] - self.cum)  # (P, Q), each <= 1
        return (self.x_dt * weight[..., None]).transpose(1, 2) @ self.B

    def outputs(self, states_in: Tensor) -> Tensor:
        """exp(cum_l) C_l . state_in + sum_{s <= l} (C_l . B_s) exp(cum_l - cum_s) x_dt_s.

        Shapes: states_in (k, h, p, n), the true entering states -> (P, Q, p).
        """
        chunk = self.cum.shape[1]
        causal = torch.ones(chunk, chunk, dtype=torch.bool, device=self.cum.device).tril()
        diff = self.cum[:, :, None] - self.cum[:, None, :]  # (P, Q, Q)
        decay = diff.masked_fill(~causal, -math.inf).exp()
        scores = self.C @ self.B.transpose(1, 2)  # (P, Q, Q)
        states = states_in.flatten(0, 1)[self.pairs]  # (P, p, n)
        y_off = (self.C @ states.transpose(1, 2)) * self.cum.exp()[..., None]  # (P, Q, p)
        return torch.baddbmm(y_off, decay * scores, self.x_dt)

    def put(self, grid: Tensor, values: Tensor) -> Tensor:
        """``grid`` (k, h, ...) with the pairs' entries replaced by ``values`` (P, ...)."""
        flat = grid.flatten(0, 1).index_copy(0, self.pairs, values.to(grid.dtype))
        return flat.view(grid.shape)


def _segment_sums(values: Tensor) -> Tensor:
    """out[..., i, j] = sum_{j < m <= i} values[..., m] for j <= i, and -inf for j > i.

    Each entry is a direct sum (not a difference of two long cumulative sums), so it keeps full
    precision however long the sequence. Shapes: (..., c) -> (..., c, c).
    """
    count = values.shape[-1]
    below = torch.ones(count, count, dtype=torch.bool, device=values.device).tril(-1)
    spread = values[..., :, None].expand(*values.shape, count).masked_fill(~below, 0.0)
    sums = spread.cumsum(dim=-2)  # (..., c, c)
    lower = torch.ones(count, count, dtype=torch.bool, device=values.device).tril()
    return sums.masked_fill(~lower, -math.inf)


def _states_entering_chunks(added: Tensor, last: Tensor) -> Tensor:
    """True state entering each chunk: zero for the first, then

        state_c = sum_{j < c} exp(last_{j+1} + ... + last_{c-1}) added_j,

    as one batched matmul with the (c - 1) x (c - 1) lower-triangular decay matrix.
    Shapes: added (b, c, h, p*n) in true units; last, the log-decay of each chunk (b, c, h)
    -> (b, c, h, p*n).
    """
    if added.shape[1] == 1:
        return torch.zeros_like(added)
    # decay[b, h, i, j] = exp(sum_{j < m <= i} last_m): from the end of chunk j to the end of i
    decay = torch.exp(_segment_sums(last[:, :-1].transpose(1, 2)))  # (b, h, c-1, c-1)
    sources = added[:, :-1].transpose(1, 2)  # (b, h, c-1, p*n)
    states = (decay @ sources).transpose(1, 2)  # (b, c-1, h, p*n): entering chunks 1..c-1
    return torch.cat([torch.zeros_like(added[:, :1]), states], dim=1)
