"""Dynamic Laplacian PE: batching, sign rule, degenerate graphs, errors."""

from __future__ import annotations

import pytest
import torch

from bgb_model.adjacency import pairs_to_adjacency
from bgb_model.laplacian_pe import canonicalize_signs, laplacian_pe, normalized_laplacian

N = 19


def random_adjacency(n_graphs: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(n_graphs, N * (N - 1) // 2, generator=gen)
    return pairs_to_adjacency(weights, N)


def test_batched_equals_one_graph_at_a_time() -> None:
    adjacency = random_adjacency(12).reshape(3, 4, N, N)
    batched = laplacian_pe(adjacency, 16)
    assert batched.shape == (3, 4, N, 16)
    for b in range(3):
        for t in range(4):
            single = laplacian_pe(adjacency[b, t], 16)
            # float32 eigenvectors of close eigenvalues agree to ~1e-5 between LAPACK calls
            torch.testing.assert_close(batched[b, t], single, atol=1e-4, rtol=0)


def test_eigenvectors_solve_the_laplacian() -> None:
    adjacency = random_adjacency(5).double()
    pe = laplacian_pe(adjacency, 16).double()
    lap = normalized_laplacian(adjacency)
    eigenvalues = torch.linalg.eigvalsh(lap)[:, 1:17]
    residual = lap @ pe - pe * eigenvalues[:, None, :]
    assert residual.abs().max() < 1e-4


def test_sign_rule_undoes_any_flip() -> None:
    vectors = torch.linalg.eigh(normalized_laplacian(random_adjacency(6)))[1]
    gen = torch.Generator().manual_seed(1)
    flips = torch.randint(0, 2, (6, 1, N), generator=gen) * 2.0 - 1.0
    torch.testing.assert_close(canonicalize_signs(vectors * flips), canonicalize_signs(vectors))
    canonical = canonicalize_signs(vectors)
    # the largest positive component is (up to the tie tolerance) the largest in magnitude
    assert (canonical.amax(dim=-2) >= (1 - 1e-3) * canonical.abs().amax(dim=-2)).all()


def test_sign_tie_goes_to_lowest_index() -> None:
    vector = torch.tensor([[0.0], [-0.7071], [0.7071], [0.0]])
    assert canonicalize_signs(vector)[1, 0] > 0
    assert canonicalize_signs(-vector)[1, 0] > 0


def test_pe_of_a_graph_does_not_depend_on_its_batch() -> None:
    # the same graph in a batch with others gives the same PE (the solver's sign choice is undone)
    adjacency = random_adjacency(4, seed=3)
    alone = laplacian_pe(adjacency[2:3], 16)
    together = laplacian_pe(adjacency, 16)[2:3]
    torch.testing.assert_close(alone, together, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "adjacency",
    [
        torch.zeros(N, N),  # every node isolated: L = I, fully degenerate spectrum
        pairs_to_adjacency(torch.ones(N * (N - 1) // 2), N),  # complete graph: degenerate
        torch.block_diag(torch.ones(9, 9), torch.ones(10, 10)) - torch.eye(N),  # two components
        pairs_to_adjacency(torch.full((N * (N - 1) // 2,), 1e-30), N),  # underflowing weights
    ],
    ids=["empty", "complete", "two-components", "tiny-weights"],
)
def test_degenerate_graphs_give_finite_pe(adjacency: torch.Tensor) -> None:
    pe = laplacian_pe(adjacency, 16)
    assert torch.isfinite(pe).all()
    torch.testing.assert_close(pe, laplacian_pe(adjacency, 16))  # deterministic


def test_isolated_node_row_is_identity() -> None:
    adjacency = random_adjacency(1)[0]
    adjacency[4, :] = 0.0
    adjacency[:, 4] = 0.0
    lap = normalized_laplacian(adjacency)
    torch.testing.assert_close(lap[4], torch.eye(N)[4])


def test_no_gradient_flows_through_the_pe() -> None:
    adjacency = random_adjacency(2).requires_grad_(True)
    assert not laplacian_pe(adjacency, 4).requires_grad


def test_fp32_under_autocast() -> None:
    adjacency = random_adjacency(3).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pe = laplacian_pe(adjacency, 8)
    assert pe.dtype == torch.float32


def test_non_finite_adjacency_raises_naming_the_graph() -> None:
    adjacency = random_adjacency(6).reshape(2, 3, N, N)
    adjacency[1, 2, 0, 5] = float("nan")
    with pytest.raises(FloatingPointError, match=r"graph \(1, 2\)"):
        laplacian_pe(adjacency, 16)


@pytest.mark.parametrize("k", [0, N])
def test_bad_k_raises(k: int) -> None:
    with pytest.raises(ValueError, match="k must be"):
        laplacian_pe(random_adjacency(1), k)
