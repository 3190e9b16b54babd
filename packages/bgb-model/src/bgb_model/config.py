"""Typed, frozen configuration of the detector: default sizes, a small variant, plain-data I/O.

The config is nested (``tcn``, ``node_stream``, ``edge_stream``, ``graph``, ``head``) and holds
only architecture sizes, so a checkpoint can store it as plain data (``to_dict``) and rebuild the
same network anywhere (``from_dict``). Which Mamba2 backend runs is a runtime choice passed to
:class:`bgb_model.Detector`, not part of the config, so a GPU checkpoint loads on CPU unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

__all__ = [
    "DetectorConfig",
    "EdgeStreamConfig",
    "GraphConfig",
    "HeadConfig",
    "StreamConfig",
    "TCNConfig",
]

N_ELECTRODES = 19
"""The 19 electrodes of the 10-20 system, in bgb_data's channel order."""


@dataclass(frozen=True)
class TCNConfig:
    """Per-electrode dilated temporal convolution network (shared weights across electrodes)."""

    channels: tuple[int, ...] = (8, 8, 16, 16, 32, 32, 64, 64)
    """Output channels of each conv layer, per electrode. The original design's TCN read all
    19 electrodes at once with widths [64, 128, 256, 512]; run once per electrode, those
    widths cost 19 times as much (20 GFLOP per 60 s window). An eighth of them per electrode,
    two layers each, costs 2.2 GFLOP with dense convs (packages/bgb-model/README.md, "TCN
    size")."""
    strides: tuple[int, ...] = (2, 2, 2, 2, 1, 1, 1, 1)
    """Stride of each layer. Placed early so the wide layers run at the low rate (1/16)."""
    dilations: tuple[int, ...] = (1, 1, 1, 1, 1, 2, 4, 8)
    """Dilation of each layer, in samples of that layer's input rate."""
    kernel_size: int = 7
    """Temporal kernel size of every conv (odd, so padding keeps lengths exact)."""
    separable: bool = False
    """Depthwise-separable convs (depthwise kernel then pointwise 1x1) after the first layer,
    instead of dense convs. At the default widths, dense convs run a forward pass as fast on
    CPU (oneDNN) with six times the parameters, and train 2-5x faster, so they are the
    default."""
    final_pool: int = 1
    """Average-pooling factor after the convs; the total stride is prod(strides) * final_pool.
    1 in the default (progressive striding); 16 with all strides 1 gives the full-rate variant."""

    @property
    def total_stride(self) -> int:
        """Input samples per output timestep."""
        return math.prod(self.strides) * self.final_pool


@dataclass(frozen=True)
class StreamConfig:
    """A stack of bidirectional Mamba2 pre-norm residual blocks over time."""

    d_model: int = 64
    """Feature width of the stream (for the node stream: the node feature width)."""
    n_layers: int = 6
    """Number of bidirectional blocks."""
    d_state: int = 16
    """SSM state size per head."""
    headdim: int = 8
    """Mamba2 head dimension; d_model * expand must be divisible by it."""
    d_conv: int = 4
    """Mamba2 causal depthwise conv width (mamba-ssm's kernels support 2 to 4)."""
    expand: int = 2
    """Inner width multiplier of Mamba2."""
    chunk_size: int = 256
    """Chunk length of mamba-ssm's kernel scan (backend "kernel"): a speed and memory knob, the
    output does not depend on it. 256 is mamba-ssm's default."""
    torch_chunk_size: int = 32
    """Chunk length of the pure-PyTorch scan (backend "torch", any device). Also speed and memory
    only; with small heads that path is several times faster and far lighter in training with 16
    to 32 than with 256 (its intra-chunk term grows with length * chunk length; measured in
    benchmarks/bench_mamba2.py)."""
    dropout: float = 0.0
    """Dropout on each block's residual branch."""


@dataclass(frozen=True)
class EdgeStreamConfig:
    """Edge features for the 171 electrode pairs, their BiMamba stream, and the edge weight."""

    pair_width: int = 16
    """Width of the per-node projection that pair features are built from; a pair's feature is
    [p_i * p_j, |p_i - p_j|] (2 * pair_width wide, symmetric in i and j)."""
    stream: StreamConfig = field(
        default_factory=lambda: StreamConfig(d_model=16, n_layers=2, d_state=8, headdim=4)
    )
    """The per-edge BiMamba stack (seed: d_model 16, 2 layers, headdim 4, d_state 8)."""
    time_pool: int = 1
    """Timesteps per edge-stream step. The pair features are built from node features averaged
    over this many consecutive timesteps, and each adjacency (and its positional encoding) holds
    for all of them. 1, the original design, gives every timestep its own adjacency; larger
    values divide the cost of the edge stream and of the PE by this factor, for a graph that
    changes more slowly. Window lengths must be a multiple of ``time_pool`` timesteps."""


@dataclass(frozen=True)
class GraphConfig:
    """Dynamic Laplacian positional encoding and the SSGConv graph layer."""

    enabled: bool = True
    """False removes the graph stage (edge stream, PE and SSGConv): node features go straight
    from the node stream to the head. For ablations."""
    pe: Literal["dynamic", "static", "none"] = "dynamic"
    """Positional encoding fed to SSGConv with the node features. "dynamic": each timestep's
    spectral signature of its own learned graph (bgb_model.laplacian_pe); "static": the
    signature of the window's time-averaged graph, the same at every step; "none": no PE."""
    pe_k: int = 16
    """Width of the PE: the number of spectral windows over the Laplacian's range [0, 2]."""
    alpha: float = 0.05
    """SSGConv teleport weight: out = alpha * x + (1 - alpha) / K * sum_k S^k x."""
    hops: int = 2
    """SSGConv K, the number of propagation hops averaged."""


@dataclass(frozen=True)
class HeadConfig:
    """Per-timestep classifier over pooled electrodes, then upsampling to per-sample logits."""

    hidden: int = 64
    """Hidden width of the two-layer MLP on the pooled [mean, max] electrode features."""
    upsample: Literal["linear", "repeat"] = "linear"
    """"linear": interpolate between timestep centres; "repeat": hold each value for its stride."""


_C = TypeVar("_C")


@dataclass(frozen=True)
class DetectorConfig:
    """All sizes of the dual-stream detector; the defaults are the original design's."""

    tcn: TCNConfig = field(default_factory=TCNConfig)
    """Per-electrode temporal encoder."""
    node_stream: StreamConfig = field(default_factory=StreamConfig)
    """Per-electrode BiMamba stack (seed: d_model 64, 6 layers, headdim 8, d_state 16)."""
    edge_stream: EdgeStreamConfig = field(default_factory=EdgeStreamConfig)
    """Per-pair stream producing the learned adjacency."""
    graph: GraphConfig = field(default_factory=GraphConfig)
    """Dynamic Laplacian PE and SSGConv."""
    head: HeadConfig = field(default_factory=HeadConfig)
    """Per-timestep classifier and upsampling."""
    n_electrodes: int = N_ELECTRODES
    """Input channels, one per electrode, in bgb_data's 10-20 order."""

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def total_stride(self) -> int:
        """Input samples per model timestep (16 with the defaults)."""
        return self.tcn.total_stride

    @property
    def length_multiple(self) -> int:
        """Input lengths must be a multiple of this many samples: the total stride, times the
        edge stream's ``time_pool`` when the graph stage is on."""
        pool = self.edge_stream.time_pool if self.graph.enabled else 1
        return self.total_stride * pool

    @classmethod
    def small(cls) -> DetectorConfig:
        """Same architecture, small sizes: for tests and the CPU demo."""
        return cls(
            tcn=TCNConfig(channels=(8, 8, 16, 16, 32, 32, 32, 32)),
            node_stream=StreamConfig(
                d_model=16, n_layers=2, d_state=8, headdim=8, chunk_size=16, torch_chunk_size=16
            ),
            edge_stream=EdgeStreamConfig(
                pair_width=8,
                stream=StreamConfig(
                    d_model=8, n_layers=1, d_state=4, headdim=4, chunk_size=16, torch_chunk_size=16
                ),
            ),
            graph=GraphConfig(pe_k=8),
            head=HeadConfig(hidden=16),
        )

    def to_dict(self) -> dict[str, Any]:
        """Nested plain data (dicts, lists, numbers, strings) for checkpoints and YAML."""
        plain: dict[str, Any] = _to_plain(dataclasses.asdict(self))
        return plain

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        """Rebuild from :meth:`to_dict` output; missing keys take defaults, unknown keys raise.

        Raises:
            ValueError: an unknown key (named with its dotted path) or a value of the wrong kind.
        """
        return _build(cls(), data, "")


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _to_plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_to_plain(item) for item in value]
    return value


def _build(defaults: _C, data: Any, where: str) -> _C:
    """Replace fields of dataclass ``defaults`` from a mapping, strictly, recursing into
    nested sections (so a partial section keeps that section's own defaults).

    ``where`` is the dotted path of ``defaults``, for error messages.
    """
    if not isinstance(data, dict):
        raise ValueError(f"model config '{where or '<root>'}': expected a mapping, got {data!r}")
    known = [f.name for f in dataclasses.fields(defaults)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{where}.{name}".lstrip(".")
        if name not in known:
            raise ValueError(f"unknown model config key '{path}'; known keys here: {known}")
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(default, value, path)
        elif isinstance(default, tuple):
            if not isinstance(value, list | tuple):
                raise ValueError(f"model config '{path}': expected a list, got {value!r}")
            kwargs[name] = tuple(value)
        elif _same_kind(default, value):
            kwargs[name] = value
        else:
            raise ValueError(
                f"model config '{path}': expected {type(default).__name__}, got {value!r}"
            )
    return dataclasses.replace(defaults, **kwargs)  # type: ignore[type-var]


def _same_kind(default: Any, value: Any) -> bool:
    """Whether ``value`` may replace ``default`` (ints are accepted for floats, bools never)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


def _validate(cfg: DetectorConfig) -> None:
    """Reject inconsistent sizes with the offending key named."""
    tcn = cfg.tcn
    n_layers = len(tcn.channels)
    if n_layers == 0 or len(tcn.strides) != n_layers or len(tcn.dilations) != n_layers:
        raise ValueError(
            f"tcn.channels, tcn.strides and tcn.dilations must have the same non-zero length, "
            f"got {len(tcn.channels)}, {len(tcn.strides)}, {len(tcn.dilations)}"
        )
    if tcn.kernel_size < 1 or tcn.kernel_size % 2 == 0:
        raise ValueError(f"tcn.kernel_size must be odd and positive, got {tcn.kernel_size}")
    for name, values in (("channels", tcn.channels), ("strides", tcn.strides)):
        if any(not isinstance(v, int) or v < 1 for v in values):
            raise ValueError(f"tcn.{name} must be positive integers, got {values}")
    if any(not isinstance(v, int) or v < 1 for v in tcn.dilations) or tcn.final_pool < 1:
        raise ValueError("tcn.dilations and tcn.final_pool must be positive integers")
    for name, stream in (
        ("node_stream", cfg.node_stream),
        ("edge_stream.stream", cfg.edge_stream.stream),
    ):
        inner = stream.d_model * stream.expand
        if inner % stream.headdim != 0:
            raise ValueError(
                f"{name}: d_model * expand = {inner} is not divisible by headdim {stream.headdim}"
            )
        if stream.chunk_size < 1 or stream.torch_chunk_size < 1:
            raise ValueError(f"{name}: chunk_size and torch_chunk_size must be >= 1")
        if stream.n_layers < 1:
            raise ValueError(f"{name}.n_layers must be >= 1, got {stream.n_layers}")
    if not isinstance(cfg.edge_stream.time_pool, int) or cfg.edge_stream.time_pool < 1:
        raise ValueError(
            f"edge_stream.time_pool must be a positive integer, got {cfg.edge_stream.time_pool!r}"
        )
    if cfg.graph.pe_k < 1:
        raise ValueError(f"graph.pe_k must be >= 1 (spectral windows), got {cfg.graph.pe_k}")
    if cfg.graph.pe not in ("dynamic", "static", "none"):
        raise ValueError(f"graph.pe must be 'dynamic', 'static' or 'none', got {cfg.graph.pe!r}")
    if not 0.0 <= cfg.graph.alpha <= 1.0 or cfg.graph.hops < 1:
        raise ValueError(
            f"graph.alpha must be in [0, 1] and graph.hops >= 1, got {cfg.graph.alpha}, "
            f"{cfg.graph.hops}"
        )
    if cfg.head.upsample not in ("linear", "repeat"):
        raise ValueError(f"head.upsample must be 'linear' or 'repeat', got {cfg.head.upsample!r}")
    if cfg.n_electrodes < 2:
        raise ValueError(f"n_electrodes must be >= 2, got {cfg.n_electrodes}")
