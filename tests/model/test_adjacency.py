"""Edge stream: symmetric, non-negative adjacency with zero diagonal."""

from __future__ import annotations

import pytest
import torch

from bgb_model import EdgeStream, EdgeStreamConfig, StreamConfig, pairs_to_adjacency
from bgb_model.adjacency import pool_time


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


def test_pool_time_averages_consecutive_steps() -> None:
    nodes = torch.arange(24.0).reshape(1, 2, 6, 2)  # (B, N, T, D)
    pooled = pool_time(nodes, 3)
    assert pooled.shape == (1, 2, 2, 2)
    torch.testing.assert_close(pooled[0, 1, 1], nodes[0, 1, 3:].mean(dim=0), rtol=0, atol=0)
    with pytest.raises(ValueError, match="5 timesteps are not a multiple of time_pool 2"):
        pool_time(nodes[:, :, :5], 2)


def test_time_pooled_edge_stream_equals_the_plain_one_on_pooled_nodes() -> None:
    stream_config = StreamConfig(d_model=8, n_layers=1, d_state=4, headdim=4)
    plain_config = EdgeStreamConfig(pair_width=4, stream=stream_config)
    pooled_config = EdgeStreamConfig(pair_width=4, stream=stream_config, time_pool=4)
    torch.manual_seed(0)
    plain = EdgeStream(plain_config, n_nodes=19, node_width=6, backend="torch")
    pooled = EdgeStream(pooled_config, n_nodes=19, node_width=6, backend="torch")
    pooled.load_state_dict(plain.state_dict())  # time_pool adds no parameters
    nodes = torch.randn(2, 19, 32, 6)
    coarse = nodes.reshape(2, 19, 8, 4, 6).mean(dim=3)  # (B, N, T / 4, D)
    torch.testing.assert_close(pooled(nodes), plain(coarse), rtol=0, atol=0)
