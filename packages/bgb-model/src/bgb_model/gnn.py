"""SSGConv over many small dense graphs at once: batched matmuls instead of message passing.

For 19-node graphs, one timestep's graph is a 19 x 19 matrix; all B*T of them form a
(B*T, 19, 19) tensor and each propagation hop is one batched matmul. torch-geometric's
``SSGConv`` on the equivalent block-diagonal sparse graph computes the same function (the tests
check it with shared weights); this form is far faster here (see benchmarks/bench_model.py).

References: Zhu & Koniusz 2021, "Simple Spectral Graph Convolution" (ICLR); torch-geometric's
``SSGConv`` and ``gcn_norm``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["DenseSSGConv", "gcn_norm_dense"]


def gcn_norm_dense(adjacency: Tensor) -> Tensor:
    """``D^-1/2 (A + I) D^-1/2`` with ``D`` the degrees of ``A + I`` (torch-geometric's gcn_norm
    with self loops of weight 1).

    The adjacency must have a zero diagonal (as the detector's learned adjacency does), so adding
    ``I`` equals torch-geometric's "add remaining self loops". Every degree is then >= 1.

    Shapes: adjacency (..., N, N) -> (..., N, N).
    """
    eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
    with_loops = adjacency + eye  # (..., N, N)
    inv_sqrt = with_loops.sum(dim=-1).rsqrt()  # (..., N)
    return inv_sqrt[..., :, None] * with_loops * inv_sqrt[..., None, :]


class DenseSSGConv(nn.Module):
    """SSGConv on dense batched graphs; parameter names match torch-geometric's (``lin.*``).

    ``out = lin(alpha * x + (1 - alpha) / K * sum_{k=1..K} S^k x)``, ``S = gcn_norm_dense(A)``.
    Computed as one filter matrix per graph, ``P = alpha I + (1 - alpha) / K sum_k S^k`` (cheap:
    N x N), applied with a single batched matmul on the narrower side of ``lin``; the same
    function as propagating the features hop by hop, in fewer passes over (G, N, F) tensors.
    """

    def __init__(self, in_channels: int, out_channels: int, alpha: float, hops: int) -> None:
        super().__init__()
        self.alpha = alpha
        self.hops = hops
        self.lin = nn.Linear(in_channels, out_channels)

    def spectral_filter(self, adjacency: Tensor) -> Tensor:
        """``P = alpha I + (1 - alpha) / K sum_{k=1..K} S^k``. Shapes: (G, N, N) -> (G, N, N)."""
        propagator = gcn_norm_dense(adjacency)  # (G, N, N)
        power, total = propagator, propagator
        for _ in range(self.hops - 1):  # a loop over hops, not over graphs
            power = torch.bmm(power, propagator)  # (G, N, N)
            total = total + power
        eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
        return (1.0 - self.alpha) / self.hops * total + self.alpha * eye

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        """Shapes: x (G, N, F_in), adjacency (G, N, N) zero diagonal -> (G, N, F_out)."""
        # 1. filter matrix per graph (symmetric normalisation with self loops inside)
        filt = self.spectral_filter(adjacency).to(x.dtype)  # (G, N, N)
        # 2. P x W^T + b: the node mixing commutes with the per-node weight, so mix the narrower
        weight, bias = self.lin.weight, self.lin.bias
        if weight.shape[0] <= weight.shape[1]:
            mixed = torch.bmm(filt, F.linear(x, weight))  # (G, N, F_out)
        else:
            mixed = F.linear(torch.bmm(filt, x), weight)  # (G, N, F_out)
        return mixed + bias
