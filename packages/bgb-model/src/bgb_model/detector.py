"""The dual-stream seizure detector: (B, 19, S) EEG -> (B, S) per-sample logits.

References: Dao & Gu 2024, "Transformers are SSMs" (Mamba2/SSD); Zhu & Koniusz 2021, "Simple
Spectral Graph Convolution"; EvoBrain: Dynamic Multi-channel EEG Graph Modeling for
Time-evolving Brain Network (2025), dynamic Laplacian positional encoding.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from bgb_model._checks import StageChecks
from bgb_model.adjacency import EdgeStream
from bgb_model.bimamba import BiMamba2, BiMambaStack
from bgb_model.config import DetectorConfig
from bgb_model.gnn import DenseSSGConv
from bgb_model.head import Head
from bgb_model.laplacian_pe import laplacian_pe
from bgb_model.mamba2 import Mamba2Backend
from bgb_model.tcn import TCN, ElectrodeEncoder

__all__ = ["Detector"]

logger = logging.getLogger(__name__)


class Detector(nn.Module):
    """TCN per electrode -> node BiMamba -> edge BiMamba adjacency -> Laplacian PE -> SSGConv ->
    head.

    ``backend`` picks the Mamba2 implementation ("auto", "kernel" or "torch"); it is not part of
    the config, and every backend has the same parameters, so a checkpoint runs on any of them.
    With ``config.graph.enabled`` False the graph stage (edge stream, PE, SSGConv) is absent and
    ``edge_stream`` and ``gnn`` are None.

    Activation checkpointing (:meth:`set_activation_checkpointing`, off by default) is a training
    setting of this instance, like the backend: not part of the config, not in the state dict.
    """

    def __init__(
        self, config: DetectorConfig | None = None, backend: Mamba2Backend = "auto"
    ) -> None:
        super().__init__()
        self.config = config if config is not None else DetectorConfig()
        cfg = self.config
        width = cfg.node_stream.d_model
        self.encoder = ElectrodeEncoder(cfg.tcn, cfg.n_electrodes, width)
        self.node_stream = BiMambaStack.from_config(cfg.node_stream, backend)
        self.edge_stream: EdgeStream | None = None
        self.gnn: DenseSSGConv | None = None
        if cfg.graph.enabled:
            pe_width = 0 if cfg.graph.pe == "none" else cfg.graph.pe_k
            self.edge_stream = EdgeStream(cfg.edge_stream, cfg.n_electrodes, width, backend)
            self.gnn = DenseSSGConv(width + pe_width, width, cfg.graph.alpha, cfg.graph.hops)
        self.head = Head(cfg.head, width, cfg.total_stride)
        self._activation_checkpointing = False
        logger.info(
            "Detector: %d parameters, total stride %d", self.parameter_count(), cfg.total_stride
        )

    @property
    def activation_checkpointing(self) -> bool:
        """Whether training forwards recompute activations in backward (see the setter)."""
        return self._activation_checkpointing

    def set_activation_checkpointing(self, enabled: bool) -> None:
        """Trade compute for memory in training: store fewer activations, recompute in backward.

        When on, and only in training mode with autograd recording (never in eval or under
        ``torch.no_grad``), these segments are recomputed during backward: each direction of
        every BiMamba2 block (node and edge streams), the TCN between its BatchNorms, and the
        edge stream's pair features. BatchNorm is never inside a segment, so its running
        statistics update once per forward and DDP's SyncBatchNorm issues no collective during
        backward; dropout draws the same mask when recomputed. Outputs and gradients equal the
        plain run's. Costs about one extra forward of those segments per step; see the package
        README ("Training memory") for the memory it saves.

        Raises:
            TypeError: ``enabled`` is not a bool (a string such as "false" would read as on).
        """
        if not isinstance(enabled, bool):
            raise TypeError(f"set_activation_checkpointing expects True or False, got {enabled!r}")
        self._activation_checkpointing = enabled
        for module in self.modules():
            if isinstance(module, BiMamba2 | TCN | EdgeStream):
                module.activation_checkpointing = enabled

    def stages(self) -> dict[str, nn.Module]:
        """The stage modules in forward order (every parameter belongs to exactly one)."""
        stages: dict[str, nn.Module | None] = {
            "encoder": self.encoder,
            "node_stream": self.node_stream,
            "edge_stream": self.edge_stream,
            "gnn": self.gnn,
            "head": self.head,
        }
        return {name: stage for name, stage in stages.items() if stage is not None}

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
        """Raise ValueError unless x is (B, n_electrodes, S) floating, S a multiple of the stride.

        Whether it is finite is checked with the stage outputs (one synchronisation in all).
        """
        cfg = self.config
        if x.ndim != 3 or x.shape[1] != cfg.n_electrodes:
            raise ValueError(
                f"Detector input must be (batch, {cfg.n_electrodes}, n_samples), got "
                f"{tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"Detector input must be floating point, got {x.dtype}")
        if x.shape[2] == 0 or x.shape[2] % cfg.length_multiple != 0:
            why = f"the total stride {cfg.total_stride}"
            if cfg.length_multiple != cfg.total_stride:
                why += f" times edge_stream.time_pool {cfg.edge_stream.time_pool}"
            raise ValueError(
                f"Detector input length {x.shape[2]} samples is not a positive multiple of "
                f"{cfg.length_multiple} samples ({why}); crop or pad the window"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Per-sample seizure logits.

        NaN or inf in the input or at a stage boundary raises FloatingPointError naming the
        first such stage, after the forward (one host synchronisation per call).

        Shapes:
            x: (B, N, S) EEG, N = 19 electrodes, S = T * 16 samples (15360 for 60 s at 256 Hz).
            returns: (B, S) logits.
        """
        self.check_input(x)
        checks = StageChecks()
        checks.record(x, "model input")
        # 1. per-electrode temporal features: node i is electrode i
        nodes = self.encoder(x)  # (B, N, T, D)
        checks.record(nodes, "TCN encoder output")
        batch, n_nodes, n_steps, width = nodes.shape
        # 2. node stream over time, one sequence per electrode
        nodes = self.node_stream(nodes.reshape(batch * n_nodes, n_steps, width))  # (B*N, T, D)
        nodes = nodes.reshape(batch, n_nodes, n_steps, width)  # (B, N, T, D)
        checks.record(nodes, "node stream output")
        per_step = nodes.transpose(1, 2)  # (B, T, N, D)
        # 3-5. graph stage (absent when config.graph.enabled is False)
        if self.edge_stream is not None and self.gnn is not None:
            per_step = self._graph_stage(per_step, nodes, checks)  # (B, T, N, D)
        # 6. head: pool electrodes, per-step logit, upsample to samples
        logits: Tensor = self.head(per_step)  # (B, S)
        checks.raise_first()
        return logits

    def _graph_stage(self, per_step: Tensor, nodes: Tensor, checks: StageChecks) -> Tensor:
        """Edge stream, PE and SSGConv, residual onto the node features.

        Shapes: per_step (B, T, N, D), nodes (B, N, T, D) -> (B, T, N, D).
        """
        assert self.edge_stream is not None and self.gnn is not None
        batch, n_steps, n_nodes, width = per_step.shape
        # 3. edge stream: learned adjacency per timestep (per time_pool timesteps)
        adjacency = self.edge_stream(nodes)  # (B, T', N, N), T' = T / time_pool
        checks.record(adjacency, "edge stream adjacency")
        # 4. positional encoding (no gradient, fp32, one batched eigh)
        try:
            pe = self._positional_encoding(adjacency)  # (B, T', N, k) or None
        except FloatingPointError:
            checks.raise_first()  # names the stage upstream that made the NaN
            raise
        if self.edge_stream.time_pool > 1:  # each graph holds for time_pool timesteps
            pool = self.edge_stream.time_pool
            adjacency = adjacency.repeat_interleave(pool, dim=1)  # (B, T, N, N)
            pe = None if pe is None else pe.repeat_interleave(pool, dim=1)  # (B, T, N, k)
        graph_in = per_step if pe is None else torch.cat([per_step, pe.to(per_step.dtype)], -1)
        # 5. SSGConv on all B*T graphs at once
        graph_in = graph_in.reshape(batch * n_steps, n_nodes, -1)  # (B*T, N, D+k)
        graph_adj = adjacency.reshape(batch * n_steps, n_nodes, n_nodes)  # (B*T, N, N)
        mixed = F.gelu(self.gnn(graph_in, graph_adj))  # (B*T, N, D)
        per_step = per_step + mixed.reshape(batch, n_steps, n_nodes, width)  # (B, T, N, D)
        checks.record(per_step, "graph stage output")
        return per_step

    def _positional_encoding(self, adjacency: Tensor) -> Tensor | None:
        """The configured PE. Shapes: adjacency (B, T, N, N) -> (B, T, N, k), or None."""
        graph = self.config.graph
        if graph.pe == "dynamic":
            return laplacian_pe(adjacency, graph.pe_k)  # (B, T, N, k)
        if graph.pe == "static":
            window_pe = laplacian_pe(adjacency.mean(dim=1), graph.pe_k)  # (B, N, k)
            return window_pe[:, None].expand(-1, adjacency.shape[1], -1, -1)  # (B, T, N, k)
        return None
