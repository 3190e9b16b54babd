"""Edge stream: symmetric, non-negative adjacency with zero diagonal."""

from __future__ import annotations

import pytest
import torch

from bgb_model import EdgeStream, EdgeStreamConfig, StreamConfig, pairs_to_adjacency


def test_pairs_to_adjacency_places_each_pair_twice() -> None:
    weights = torch.arange(1.0, 4.0)  # 3 nodes -> pairs (0,1), (0,2), (1,2)
    expected = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    torch.testing.assert_close(pairs_to_adjacency(weights, 3), expected)


def test_pairs_to_adjacency_rejects_wrong_count() -> None:
    with pytest.raises(ValueError, match="expected 171 pair weights"):
        pairs_to_adjacency(torch.ones(170), 19)


def test_edge_stream_gives_symmetric_nonnegative_adjacency() -> None:
    torch.manual_seed(0)
    config = EdgeStreamConfig(
        pair_width=4, stream=StreamConfig(d_model=8, n_layers=1, d_state=4, headdim=4)
    )
    stream = EdgeStream(config, n_nodes=19, node_width=6, backend="torch")
    adjacency = stream(torch.randn(2, 19, 32, 6))
    assert adjacency.shape == (2, 32, 19, 19)
    torch.testing.assert_close(adjacency, adjacency.transpose(-1, -2), rtol=0, atol=0)
    assert (adjacency >= 0).all()
    assert (torch.diagonal(adjacency, dim1=-2, dim2=-1) == 0).all()
    off_diagonal = adjacency[..., ~torch.eye(19, dtype=torch.bool)]
    assert (off_diagonal > 0).all()
