"""Dynamic Laplacian PE (spectral signatures): reference, stability bound, invariances, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_model.adjacency import pairs_to_adjacency
from bgb_model.laplacian_pe import (
    laplacian_pe,
    normalized_laplacian,
    spectral_windows,
    window_lipschitz,
    window_width,
)

N = 19
N_PAIRS = N * (N - 1) // 2
FLOAT32_UNIT = 2.0**-24


def random_adjacency(n_graphs: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(n_graphs, N_PAIRS, generator=gen)
    return pairs_to_adjacency(weights, N)


def reference_pe(adjacency: torch.Tensor, k: int) -> torch.Tensor:
    """The definition, without an eigendecomposition: diag(g_j(L)) for the Gaussian windows
    g_j(x) = exp(-(x - c_j)^2 / (2 s^2)), i.e. diag(expm(-(L - c_j I)^2 / (2 s^2))), float64."""
    lap = normalized_laplacian(adjacency.double())
    eye = torch.eye(lap.shape[-1], dtype=torch.float64)
    width = window_width(k)
    columns = []
    for centre in torch.linspace(0.0, 2.0, k, dtype=torch.float64):
        shifted = lap - centre * eye
        columns.append(torch.linalg.matrix_exp(-(shifted @ shifted) / (2 * width**2)))
    return torch.stack([c.diagonal(dim1=-2, dim2=-1) for c in columns], dim=-1)


def float32_bound(k: int, laplacian_change: float) -> float:
    """Largest change of a float32 PE entry when L moves by ``laplacian_change`` (Frobenius).

    ||g(L) - g(L')||_F <= Lip(g) ||L - L'||_F for symmetric matrices. The float32 solver
    returns the exact decomposition of a matrix within N * u * ||L||_2 (||L||_2 <= 2) of its
    input, which counts once for each of the two PEs compared; the final products and sums add
    N * u relative to entries at most 1.
    """
    backward_error = N * FLOAT32_UNIT * 2.0
    return window_lipschitz(k) * (laplacian_change + 2 * backward_error) + 2 * N * FLOAT32_UNIT


@pytest.mark.parametrize("k", [1, 8, 16])
def test_equals_the_matrix_function_reference(k: int) -> None:
    adjacency = random_adjacency(6)
    adjacency[2, 4, :] = adjacency[2, :, 4] = 0.0  # an isolated node
    expected = reference_pe(adjacency, k)
    torch.testing.assert_close(laplacian_pe(adjacency.double(), k), expected, atol=1e-12, rtol=0)
    got32 = laplacian_pe(adjacency, k).double()
    assert (got32 - expected).abs().max() <= float32_bound(k, 0.0)


@st.composite
def graphs(draw: st.DrawFn) -> torch.Tensor:
    """Adjacencies of the kinds a learned sigmoid graph takes, degenerate spectra included."""
    kind = draw(st.sampled_from(["uniform-ish", "random", "sparse", "blocks"]))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    if kind == "uniform-ish":  # near-complete, eigenvalues in a tight cluster (as at init)
        level = draw(st.floats(0.05, 0.95))
        spread = draw(st.sampled_from([0.0, 1e-7, 1e-4, 1e-2]))
        weights = level + spread * (torch.rand(N_PAIRS, generator=gen) - 0.5)
    elif kind == "random":
        weights = torch.rand(N_PAIRS, generator=gen)
    elif kind == "sparse":  # many exact zeros, isolated nodes possible
        keep = torch.rand(N_PAIRS, generator=gen) < draw(st.floats(0.02, 0.5))
        weights = torch.where(keep, torch.rand(N_PAIRS, generator=gen) + 1e-6, 0.0)
    else:  # two or three dense blocks joined by weak edges: a degenerate low spectrum
        labels = torch.randint(0, draw(st.integers(2, 3)), (N,), generator=gen)
        same = labels[:, None] == labels[None, :]
        dense = torch.where(same, 0.9, draw(st.sampled_from([0.0, 1e-6, 1e-3])))
        rows, cols = torch.triu_indices(N, N, offset=1)
        weights = dense[rows, cols]
    return pairs_to_adjacency(weights.float(), N)


@settings(max_examples=60, deadline=None)
@given(adjacency=graphs(), k=st.sampled_from([8, 16]), perturbation_seed=st.integers(0, 1000))
def test_relative_perturbation_moves_the_pe_within_the_bound(
    adjacency: torch.Tensor, k: int, perturbation_seed: int
) -> None:
    delta = 1e-6
    gen = torch.Generator().manual_seed(perturbation_seed)
    noise = torch.rand(N, N, generator=gen) * 2 - 1
    perturbed = adjacency * (1 + delta * (noise + noise.T) / 2)  # symmetric, zeros stay zero
    change = (laplacian_pe(perturbed, k) - laplacian_pe(adjacency, k)).abs().max().item()
    # the perturbation as it reaches L, measured exactly (float64), and its a-priori bound:
    # each entry of D^-1/2 A D^-1/2 moves by at most 2 delta relative, and ||S||_F <= sqrt(N)
    lap_change = torch.linalg.matrix_norm(
        normalized_laplacian(perturbed.double()) - normalized_laplacian(adjacency.double())
    ).item()
    assert lap_change <= 2 * delta * math.sqrt(N) * (1 + 1e-6)
    bound = float32_bound(k, lap_change)
    assert bound < 1e-3  # the target, met with room by the analysis
    assert change <= bound, (change, bound)


def test_degenerate_spectrum_has_the_analytic_signature() -> None:
    # complete graph, equal weights: eigenvalue 0 (vector 1/sqrt(N)) and N/(N-1) with
    # multiplicity N-1, where any basis is as good as another; the PE cannot depend on it
    adjacency = pairs_to_adjacency(torch.full((N_PAIRS,), 0.3), N)
    windows = spectral_windows(torch.tensor([0.0, N / (N - 1)]), 16)  # (2, 16)
    expected = windows[0] / N + windows[1] * (N - 1) / N  # every node alike
    pe = laplacian_pe(adjacency, 16)
    torch.testing.assert_close(pe, expected.expand(N, 16), atol=float32_bound(16, 0.0), rtol=0)


def test_isolated_node_reads_eigenvalue_one() -> None:
    adjacency = random_adjacency(1)[0]
    adjacency[4, :] = adjacency[:, 4] = 0.0
    lap = normalized_laplacian(adjacency)
    torch.testing.assert_close(lap[4], torch.eye(N)[4])
    expected = spectral_windows(torch.tensor([1.0]), 16)[0]
    torch.testing.assert_close(laplacian_pe(adjacency, 16)[4], expected, atol=1e-5, rtol=0)


def test_relabelling_nodes_relabels_the_pe() -> None:
    adjacency = random_adjacency(5, seed=2)
    order = torch.randperm(N, generator=torch.Generator().manual_seed(4))
    relabelled = adjacency[:, order][:, :, order]
    torch.testing.assert_close(
        laplacian_pe(relabelled, 16), laplacian_pe(adjacency, 16)[:, order],
        atol=float32_bound(16, 0.0), rtol=0,
    )  # fmt: skip


def test_batched_equals_one_graph_at_a_time() -> None:
    adjacency = random_adjacency(12).reshape(3, 4, N, N)
    batched = laplacian_pe(adjacency, 16)
    assert batched.shape == (3, 4, N, 16)
    for b in range(3):
        for t in range(4):
            single = laplacian_pe(adjacency[b, t], 16)
            torch.testing.assert_close(batched[b, t], single, atol=float32_bound(16, 0), rtol=0)


def test_entries_are_a_smoothed_spectral_measure() -> None:
    pe = laplacian_pe(random_adjacency(8, seed=1), 16)
    assert pe.min() >= 0 and pe.max() <= 1 + 1e-6


@pytest.mark.parametrize(
    "adjacency",
    [
        torch.zeros(N, N),  # every node isolated: L = I
        torch.block_diag(torch.ones(9, 9), torch.ones(10, 10)) - torch.eye(N),  # two components
        pairs_to_adjacency(torch.full((N_PAIRS,), 1e-30), N),  # underflowing weights
    ],
    ids=["empty", "two-components", "tiny-weights"],
)
def test_degenerate_graphs_give_finite_pe(adjacency: torch.Tensor) -> None:
    pe = laplacian_pe(adjacency, 16)
    assert torch.isfinite(pe).all()
    torch.testing.assert_close(pe, reference_pe(adjacency, 16).float(), atol=1e-5, rtol=0)


def test_no_gradient_flows_through_the_pe() -> None:
    adjacency = random_adjacency(2).requires_grad_(True)
    assert not laplacian_pe(adjacency, 4).requires_grad


def test_fp32_under_autocast_and_float64_kept() -> None:
    adjacency = random_adjacency(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert laplacian_pe(adjacency.bfloat16(), 8).dtype == torch.float32
    assert laplacian_pe(adjacency.double(), 8).dtype == torch.float64


def test_non_finite_adjacency_is_not_hidden() -> None:
    adjacency = random_adjacency(6).reshape(2, 3, N, N)
    adjacency[1, 2, 0, 5] = adjacency[1, 2, 5, 0] = float("nan")
    try:
        pe = laplacian_pe(adjacency, 16)
    except FloatingPointError as error:  # the solver refused: the graph is named
        assert "graph (1, 2)" in str(error)
    else:  # the solver returned: the NaN reaches that graph's PE, and only that graph's
        assert not torch.isfinite(pe[1, 2]).all()
        assert torch.isfinite(pe.flatten(0, 1)[:5]).all()


@pytest.mark.parametrize(("k", "match"), [(0, "k must be"), (-3, "k must be")])
def test_bad_k_raises(k: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        laplacian_pe(random_adjacency(1), k)


def test_non_square_raises() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., N, N\)"):
        laplacian_pe(torch.zeros(3, 4), 2)
