"""The V3 dual-stream seizure detector: (B, 19, S) EEG -> (B, S) per-sample logits.

References: Dao & Gu 2024, "Transformers are SSMs" (Mamba2/SSD); Zhu & Koniusz 2021, "Simple
Spectral Graph Convolution"; EvoBrain: Dynamic Multi-channel EEG Graph Modeling for
Time-evolving Brain Network (2025), dynamic Laplacian positional encoding.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bgb_model._checks import check_finite
from bgb_model.adjacency import EdgeStream, build_stream
from bgb_model.config import DetectorConfig
from bgb_model.gnn import DenseSSGConv
from bgb_model.head import Head
from bgb_model.laplacian_pe import laplacian_pe
from bgb_model.mamba2 import Mamba2Backend
from bgb_model.tcn import ElectrodeEncoder

__all__ = ["Detector"]

logger = logging.getLogger(__name__)


class Detector(nn.Module):
    """TCN per electrode -> node BiMamba -> edge BiMamba adjacency -> Laplacian PE -> SSGConv ->
    head.

    ``backend`` picks the Mamba2 implementation ("auto", "kernel" or "torch"); it is not part of
    the config, and every backend has the same parameters, so a checkpoint runs on any of them.
    """

    def __init__(
        self, config: DetectorConfig | None = None, backend: Mamba2Backend = "auto"
    ) -> None:
        super().__init__()
        self.config = config if config is not None else DetectorConfig()
        cfg = self.config
        width = cfg.node_stream.d_model
        self.encoder = ElectrodeEncoder(cfg.tcn, cfg.n_electrodes, width)
        self.node_stream = build_stream(cfg.node_stream, backend)
        self.edge_stream = EdgeStream(cfg.edge_stream, cfg.n_electrodes, width, backend)
        self.gnn = DenseSSGConv(width + cfg.graph.pe_k, width, cfg.graph.alpha, cfg.graph.hops)
        self.head = Head(cfg.head, width, cfg.total_stride)
        logger.info(
            "Detector: %d parameters, total stride %d", self.parameter_count(), cfg.total_stride
        )

    def stages(self) -> dict[str, nn.Module]:
        """The stage modules in forward order (every parameter belongs to exactly one)."""
        return {
            "encoder": self.encoder,
            "node_stream": self.node_stream,
            "edge_stream": self.edge_stream,
            "gnn": self.gnn,
            "head": self.head,
        }

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def parameter_count_by_stage(self) -> dict[str, int]:
        """Trainable parameters per stage; the values sum to :meth:`parameter_count`."""
        return {
            name: sum(p.numel() for p in stage.parameters() if p.requires_grad)
            for name, stage in self.stages().items()
        }

    def check_input(self, x: Tensor) -> None:
        """Raise ValueError unless x is (B, n_electrodes, S) floating, S a multiple of the stride,
        and FloatingPointError if it holds NaN or inf."""
        cfg = self.config
        if x.ndim != 3 or x.shape[1] != cfg.n_electrodes:
            raise ValueError(
                f"Detector input must be (batch, {cfg.n_electrodes}, n_samples), got "
                f"{tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"Detector input must be floating point, got {x.dtype}")
        if x.shape[2] == 0 or x.shape[2] % cfg.total_stride != 0:
            raise ValueError(
                f"Detector input length {x.shape[2]} samples is not a positive multiple of the "
                f"total stride {cfg.total_stride}; crop or pad the window"
            )
        check_finite(x, "model input")

    def forward(self, x: Tensor) -> Tensor:
        """Per-sample seizure logits.

        Shapes:
            x: (B, N, S) EEG, N = 19 electrodes, S = T * 16 samples (15360 for 60 s at 256 Hz).
            returns: (B, S) logits.
        """
        self.check_input(x)
        # 1. per-electrode temporal features: node i is electrode i
        nodes = self.encoder(x)  # (B, N, T, D)
        check_finite(nodes, "TCN encoder output")
        batch, n_nodes, n_steps, width = nodes.shape
        # 2. node stream over time, one sequence per electrode
        nodes = self.node_stream(nodes.reshape(batch * n_nodes, n_steps, width))  # (B*N, T, D)
        nodes = nodes.reshape(batch, n_nodes, n_steps, width)  # (B, N, T, D)
        check_finite(nodes, "node stream output")
        # 3. edge stream: learned adjacency per timestep
        adjacency = self.edge_stream(nodes)  # (B, T, N, N)
        check_finite(adjacency, "edge stream adjacency")
        # 4. dynamic Laplacian PE (no gradient, fp32, one batched eigh)
        pe = laplacian_pe(adjacency, self.config.graph.pe_k)  # (B, T, N, k)
        # 5. SSGConv on all B*T graphs at once, residual on the node features
        per_step = nodes.transpose(1, 2)  # (B, T, N, D)
        graph_in = torch.cat([per_step, pe.to(per_step.dtype)], dim=-1)  # (B, T, N, D+k)
        graph_in = graph_in.reshape(batch * n_steps, n_nodes, -1)  # (B*T, N, D+k)
        graph_adj = adjacency.reshape(batch * n_steps, n_nodes, n_nodes)  # (B*T, N, N)
        mixed = F.gelu(self.gnn(graph_in, graph_adj))  # (B*T, N, D)
        per_step = per_step + mixed.reshape(batch, n_steps, n_nodes, width)  # (B, T, N, D)
        check_finite(per_step, "graph stage output")
        # 6. head: pool electrodes, per-step logit, upsample to samples
        return self.head(per_step)  # type: ignore[no-any-return]
