"""Edge stream: per-pair features over time -> BiMamba -> a learned symmetric adjacency.

Pair (i, j), i < j, gets the symmetric feature ``[p_i * p_j, |p_i - p_j|]`` from projected node
features ``p``, so swapping i and j cannot change its weight. A BiMamba stack runs over time for
each of the N(N-1)/2 pairs (171 for 19 electrodes); a sigmoid gives each pair a weight in (0, 1),
scattered to both (i, j) and (j, i) of an adjacency with zero diagonal. Sigmoid (not softplus)
keeps degrees bounded by N - 1, and the normalised Laplacian does not depend on a global scale.
With ``time_pool`` k > 1 the stream runs on node features averaged over k consecutive
timesteps, giving one adjacency per k timesteps.

References: Dao & Gu 2024, "Transformers are SSMs" (Mamba2/SSD); EvoBrain: Dynamic
Multi-channel EEG Graph Modeling for Time-evolving Brain Network (2025).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bgb_model._checkpoint import run_segment
from bgb_model.bimamba import BiMambaStack
from bgb_model.config import EdgeStreamConfig
from bgb_model.mamba2 import Mamba2Backend

__all__ = ["EdgeStream", "pairs_to_adjacency", "pool_time"]


def pool_time(nodes: Tensor, factor: int) -> Tensor:
    """Average every ``factor`` consecutive timesteps.

    Shapes: nodes (B, N, T, D), T a multiple of factor -> (B, N, T / factor, D).
    """
    batch, n_nodes, n_steps, width = nodes.shape
    if n_steps % factor != 0:
        raise ValueError(
            f"edge stream: {n_steps} timesteps are not a multiple of time_pool {factor}"
        )
    grouped = nodes.reshape(batch, n_nodes, n_steps // factor, factor, width)  # (B, N, T/k, k, D)
    return grouped.mean(dim=3)


def pairs_to_adjacency(weights: Tensor, n_nodes: int) -> Tensor:
    """Scatter upper-triangle pair weights into symmetric matrices with zero diagonal.

    Pairs are in ``torch.triu_indices(n_nodes, n_nodes, offset=1)`` order.

    Shapes: weights (..., P) with P = N(N-1)/2 -> (..., N, N).
    """
    rows, cols = torch.triu_indices(n_nodes, n_nodes, offset=1, device=weights.device)
    if weights.shape[-1] != rows.numel():
        raise ValueError(
            f"pairs_to_adjacency: expected {rows.numel()} pair weights for {n_nodes} nodes, "
            f"got {weights.shape[-1]}"
        )
    adjacency = weights.new_zeros(*weights.shape[:-1], n_nodes, n_nodes)  # (..., N, N)
    adjacency[..., rows, cols] = weights
    adjacency[..., cols, rows] = weights
    return adjacency


class EdgeStream(nn.Module):
    """Node features to a learned per-timestep adjacency.

    ``activation_checkpointing`` (default False, not in the state dict): in training with
    autograd recording, the pair features (projection, products, differences, embedding) are
    recomputed during backward from the node features instead of being stored; the stream's
    own BiMamba2 layers have their own switch.
    """

    def __init__(
        self, config: EdgeStreamConfig, n_nodes: int, node_width: int, backend: Mamba2Backend
    ) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.node_to_pair = nn.Linear(node_width, config.pair_width)
        self.pair_embed = nn.Linear(2 * config.pair_width, config.stream.d_model)
        self.stream = BiMambaStack.from_config(config.stream, backend)
        self.to_weight = nn.Linear(config.stream.d_model, 1)
        rows, cols = torch.triu_indices(n_nodes, n_nodes, offset=1)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("cols", cols, persistent=False)
        self.time_pool = config.time_pool
        self.activation_checkpointing = False

    def forward(self, nodes: Tensor) -> Tensor:
        """One adjacency per ``time_pool`` timesteps.

        Shapes: nodes (B, N, T, D), T a multiple of time_pool -> adjacency (B, T / time_pool,
        N, N), symmetric, zero diagonal.
        """
        if self.time_pool > 1:
            nodes = pool_time(nodes, self.time_pool)  # (B, N, T / k, D)
        batch, _, n_steps, _ = nodes.shape
        # 1. symmetric pair features
        recompute = self.activation_checkpointing and self.training
        edges = run_segment(self.pair_features, nodes, enabled=recompute)  # (B, Q, T, De)
        n_pairs, width = edges.shape[1], edges.shape[3]
        # 2. bidirectional SSM over time, one sequence per pair
        edges = self.stream(edges.reshape(batch * n_pairs, n_steps, width))  # (B*Q, T, De)
        # 3. non-negative weight per pair and timestep
        weights = torch.sigmoid(self.to_weight(edges))  # (B*Q, T, 1)
        weights = weights.reshape(batch, n_pairs, n_steps).transpose(1, 2)  # (B, T, Q)
        return pairs_to_adjacency(weights, self.n_nodes)  # (B, T, N, N)

    def pair_features(self, nodes: Tensor) -> Tensor:
        """Embedded ``[p_i * p_j, |p_i - p_j|]`` of every pair i < j.

        Shapes: nodes (B, N, T, D) -> (B, Q, T, De), Q = N(N-1)/2 in triu_indices order.
        """
        proj = self.node_to_pair(nodes)  # (B, N, T, P)
        left, right = proj[:, self.rows], proj[:, self.cols]  # (B, Q, T, P) each
        pair = torch.cat([left * right, (left - right).abs()], dim=-1)  # (B, Q, T, 2P)
        edges: Tensor = self.pair_embed(pair)  # (B, Q, T, De)
        return edges
