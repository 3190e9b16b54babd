"""Dense batched SSGConv equals torch-geometric's SSGConv on the same batched graph."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import SSGConv

from bgb_model.adjacency import pairs_to_adjacency
from bgb_model.gnn import DenseSSGConv

N = 19


def dense_to_edge_list(adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, N, N) graphs as one block-diagonal graph: edge_index (2, E), edge_weight (E,)."""
    graph, rows, cols = (adjacency != 0).nonzero(as_tuple=True)
    offset = graph * adjacency.shape[-1]
    edge_index = torch.stack([rows + offset, cols + offset])  # source, target
    return edge_index, adjacency[graph, rows, cols]


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_dense_equals_pyg(hops: int) -> None:
    torch.manual_seed(0)
    n_graphs, f_in, f_out = 24, 20, 12
    weights = torch.rand(n_graphs, N * (N - 1) // 2)
    weights[weights < 0.3] = 0.0  # sparse-ish, with some isolated pairs
    adjacency = pairs_to_adjacency(weights, N)
    adjacency[3] = 0.0  # one fully disconnected graph
    x = torch.randn(n_graphs, N, f_in)

    reference = SSGConv(f_in, f_out, alpha=0.05, K=hops)
    dense = DenseSSGConv(f_in, f_out, alpha=0.05, hops=hops)
    dense.load_state_dict(reference.state_dict())  # same parameter names and weights

    edge_index, edge_weight = dense_to_edge_list(adjacency)
    expected = reference(x.reshape(n_graphs * N, f_in), edge_index, edge_weight)
    got = dense(x, adjacency).reshape(n_graphs * N, f_out)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_gradients_reach_adjacency_and_are_finite_when_disconnected() -> None:
    adjacency = torch.zeros(2, N, N, requires_grad=True)
    x = torch.randn(2, N, 8)
    DenseSSGConv(8, 4, alpha=0.05, hops=2)(x, adjacency).square().sum().backward()
    assert adjacency.grad is not None
    assert torch.isfinite(adjacency.grad).all()
