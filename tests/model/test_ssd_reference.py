"""The textbook chunked SSD (``chunked_scan``) equals the recurrence and the fast ``_ssd`` path.

Tolerance, derived rather than tuned. Every output of the scan is a sum of products,

    y_t = sum_{s <= t} exp(z_ts) dt_s x_s (C_t . B_s) + D x_t,   z_ts = sum_{s < m <= t} dt_m A,

and the three implementations only evaluate it in different orders, all in float64. For a sum of
products evaluated in any order, the rounding error is at most gamma_K = K u / (1 - K u) times
the same sum taken over absolute values (Higham, "Accuracy and Stability of Numerical
Algorithms", 2002, section 3.1), u = 2^-53, K the number of roundings on the longest path:

- at most d_state for C . B, length for the sum over s, and a handful (8) for the products,
  chunk states and the skip term;
- the exponent z_ts: a direct sum of at most ``length`` terms of one sign, or a difference of
  two partial sums each at most Z = the largest total |dt A| of a sequence, so its absolute
  error is at most 2 length u Z, which exp turns into the same relative error of the factor.

So K = length + d_state + 8 + 2 length Z, and two evaluations differ by at most 2 gamma_K times
the absolute-value sum, which ``recurrent_scan`` computes exactly enough on |x|, |B|, |C|, |D|.
A real mistake (a decay off by one step, a wrong group, a missed chunk) moves outputs by a
relative amount many orders of magnitude above this bound; the tests also check the bound stays
below 1e-8 relative, so it cannot silently become vacuous.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_model._mamba_reference import chunked_scan, recurrent_scan, segsum
from bgb_model._ssd import FACTORED_MAX_LOG_DECAY, ssd_chunk_scan

F64 = torch.float64
UNIT_ROUNDOFF = torch.finfo(F64).eps / 2


def scan_inputs(
    seed: int,
    batch: int,
    length: int,
    nheads: int,
    headdim: int,
    ngroups: int,
    d_state: int,
    dt_scale: float = 3.0,
) -> tuple[torch.Tensor, ...]:
    """x, dt, A, B, C, D in float64; dt = softplus(dt_scale * noise), A from -0.1 to -16."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, nheads, headdim, generator=gen, dtype=F64)
    noise = torch.randn(batch, length, nheads, generator=gen, dtype=F64)
    dt = torch.nn.functional.softplus(dt_scale * noise)
    log_a = torch.empty(nheads, dtype=F64).uniform_(math.log(0.1), math.log(16), generator=gen)
    A = -torch.exp(log_a)
    B = torch.randn(batch, length, ngroups, d_state, generator=gen, dtype=F64)
    C = torch.randn(batch, length, ngroups, d_state, generator=gen, dtype=F64)
    D = torch.randn(nheads, generator=gen, dtype=F64)
    return x, dt, A, B, C, D


def rounding_bound(inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """2 gamma_K times the sum of absolute values of each output's terms (module docstring).

    Shapes: as ``recurrent_scan``'s output, (b, l, h, p).
    """
    x, dt, A, B, C, D = inputs
    length, d_state = x.shape[1], B.shape[3]
    largest_log_decay = (dt * A).abs().sum(dim=1).max().item()  # Z
    roundings = length + d_state + 8 + 2 * length * largest_log_decay  # K
    gamma = roundings * UNIT_ROUNDOFF / (1 - roundings * UNIT_ROUNDOFF)
    assert 2 * gamma < 1e-8, "inputs so large the bound says little: shrink dt or the length"
    magnitude = recurrent_scan(x.abs(), dt, A, B.abs(), C.abs(), D.abs())
    return 2 * gamma * magnitude


def assert_within_rounding(
    actual: torch.Tensor, expected: torch.Tensor, inputs: tuple[torch.Tensor, ...]
) -> None:
    bound = rounding_bound(inputs)
    excess = (actual - expected).abs() / bound
    assert actual.shape == expected.shape
    assert bool((excess <= 1).all()), f"off by up to {excess.max().item():.3g} x the bound"


def test_segsum_is_the_direct_sum_below_the_diagonal_and_minus_inf_above() -> None:
    a = torch.randn(2, 7, dtype=F64)
    sums = segsum(a)
    for t in range(7):
        for s in range(7):
            if s <= t:
                torch.testing.assert_close(sums[:, t, s], a[:, s + 1 : t + 1].sum(dim=-1))
            else:
                assert bool((sums[:, t, s] == -math.inf).all())


@pytest.mark.parametrize(
    ("length", "chunk_size", "nheads", "ngroups"),
    [
        (64, 16, 4, 1),  # a whole number of chunks
        (37, 8, 6, 3),  # ragged last chunk, three groups of two heads
        (37, 16, 4, 4),  # one head per group
        (50, 1, 2, 2),  # one step per chunk
        (5, 64, 4, 2),  # shorter than one chunk
        (130, 32, 8, 2),
    ],
)
def test_chunked_reference_equals_recurrence_and_fast_path(
    length: int, chunk_size: int, nheads: int, ngroups: int
) -> None:
    inputs = scan_inputs(length, 2, length, nheads, 3, ngroups, 5)
    reference = chunked_scan(*inputs, chunk_size=chunk_size)
    assert_within_rounding(reference, recurrent_scan(*inputs), inputs)
    assert_within_rounding(ssd_chunk_scan(*inputs, chunk_size=chunk_size), reference, inputs)


def test_equals_fast_path_where_it_mixes_factored_and_masked_chunks() -> None:
    chunk = 8
    inputs = scan_inputs(3, 2, 45, 4, 3, 2, 5, dt_scale=1.0)
    x, dt, A, B, C, D = inputs
    dt[:, 16:24, 1] = 200.0 / A.abs()[1]  # one head, one chunk: far past the factored bound
    inputs = (x, dt, A, B, C, D)
    totals = (dt * A)[:, :40].unflatten(1, (-1, chunk)).sum(dim=2).abs()  # (b, c, h)
    past_bound = totals > FACTORED_MAX_LOG_DECAY[F64]
    assert bool(past_bound.any()) and not bool(past_bound.all())  # both forms run
    reference = chunked_scan(*inputs, chunk_size=chunk)
    assert_within_rounding(reference, recurrent_scan(*inputs), inputs)
    assert_within_rounding(ssd_chunk_scan(*inputs, chunk_size=chunk), reference, inputs)


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 40),
    chunk_size=st.integers(1, 16),
    heads_per_group=st.integers(1, 3),
    ngroups=st.integers(1, 3),
    headdim=st.integers(1, 3),
    d_state=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_chunked_reference_property(
    length: int,
    chunk_size: int,
    heads_per_group: int,
    ngroups: int,
    headdim: int,
    d_state: int,
    seed: int,
) -> None:
    nheads = heads_per_group * ngroups
    inputs = scan_inputs(seed, 2, length, nheads, headdim, ngroups, d_state)
    reference = chunked_scan(*inputs, chunk_size=chunk_size)
    assert_within_rounding(reference, recurrent_scan(*inputs), inputs)
    assert_within_rounding(ssd_chunk_scan(*inputs, chunk_size=chunk_size), reference, inputs)
