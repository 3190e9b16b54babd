"""bgb_model: the dual-stream EEG seizure detector (TCN, BiMamba2, dynamic-Laplacian GNN).

Entry points: ``Detector(DetectorConfig())`` maps (B, 19, S) EEG at 256 Hz to (B, S) per-sample
logits; ``Mamba2`` is a drop-in for mamba-ssm's layer with an exact pure-PyTorch backend.
"""

from bgb_model.adjacency import EdgeStream, pairs_to_adjacency
from bgb_model.bimamba import BiMamba2, BiMambaStack
from bgb_model.compiled import compile_mamba_layers, cpp_compiler
from bgb_model.config import (
    DetectorConfig,
    EdgeStreamConfig,
    GraphConfig,
    HeadConfig,
    StreamConfig,
    TCNConfig,
)
from bgb_model.detector import Detector
from bgb_model.gnn import DenseSSGConv, gcn_norm_dense
from bgb_model.head import Head, upsample_logits
from bgb_model.laplacian_pe import laplacian_pe, normalized_laplacian
from bgb_model.mamba2 import Mamba2, mamba_kernel_available
from bgb_model.tcn import TCN, ElectrodeEncoder, TCNBlock

__all__ = [
    "TCN",
    "BiMamba2",
    "BiMambaStack",
    "DenseSSGConv",
    "Detector",
    "DetectorConfig",
    "EdgeStream",
    "EdgeStreamConfig",
    "ElectrodeEncoder",
    "GraphConfig",
    "Head",
    "HeadConfig",
    "Mamba2",
    "StreamConfig",
    "TCNBlock",
    "TCNConfig",
    "compile_mamba_layers",
    "cpp_compiler",
    "gcn_norm_dense",
    "laplacian_pe",
    "mamba_kernel_available",
    "normalized_laplacian",
    "pairs_to_adjacency",
    "upsample_logits",
]
