"""Per-electrode temporal encoder: a strided dilated TCN with weights shared across electrodes.

Each electrode is encoded as its own single-channel sequence, so node i of the graph stands for
electrode i (a projection mixing electrodes would make the graph's nodes meaningless). A learned
electrode embedding added to the node features lets the shared weights know which electrode a
sequence came from.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from bgb_model._checkpoint import run_segment
from bgb_model.config import TCNConfig

__all__ = ["TCN", "ElectrodeEncoder", "TCNBlock"]


class TCNBlock(nn.Module):
    """Conv (dense, or depthwise then pointwise) -> BatchNorm -> GELU, residual when shapes allow.

    Padding is ``dilation * (kernel_size - 1) // 2`` on both sides (non-causal: the detector
    sees the whole window), so a length divisible by ``stride`` becomes ``length / stride``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        dilation: int,
        separable: bool,
    ) -> None:
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.conv: nn.Module
        if separable and in_channels > 1:
            self.conv = nn.Sequential(
                nn.Conv1d(
                    in_channels,
                    in_channels,
                    kernel_size,
                    stride=stride,
                    dilation=dilation,
                    padding=padding,
                    groups=in_channels,
                    bias=False,  # the pointwise conv's bias follows
                ),
                nn.Conv1d(in_channels, out_channels, 1, bias=False),  # BatchNorm has the bias
            )
        else:
            self.conv = nn.Conv1d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                dilation=dilation,
                padding=padding,
                bias=False,
            )
        self.norm = nn.BatchNorm1d(out_channels)
        self.act = nn.GELU()
        self.residual = in_channels == out_channels and stride == 1

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (N, C_in, L) -> (N, C_out, L / stride)."""
        return self.finish(self.norm(self.conv(x)), x if self.residual else None)

    def finish(self, normed: Tensor, block_in: Tensor | None) -> Tensor:
        """GELU of the normalised conv output, plus ``block_in`` (the block's input, given
        exactly when the block is residual).

        Shapes: normed (N, C_out, L_out), block_in (N, C_out, L_out) or None -> (N, C_out, L_out).
        """
        y: Tensor = self.act(normed)
        return y if block_in is None else block_in + y


class TCN(nn.Module):
    """Stack of :class:`TCNBlock` reaching the total stride, then optional average pooling.

    ``activation_checkpointing`` (default False, not in the state dict): in training with
    autograd recording, the stack runs as segments cut at every BatchNorm, each segment (GELU,
    residual, next block's convs) recomputed during backward. BatchNorm itself is never
    recomputed (see ``bgb_model._checkpoint``), so what stays stored per block is the BatchNorm's
    input and output, plus the block input of a residual block: about two thirds of the plain
    stack's activations (benchmarks/bench_memory.py).

    References: Bai, Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional and
    Recurrent Networks for Sequence Modeling" (dilated TCN).
    """

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        widths = (1, *config.channels)
        self.blocks = nn.Sequential(
            *(
                TCNBlock(
                    widths[i],
                    widths[i + 1],
                    config.kernel_size,
                    config.strides[i],
                    config.dilations[i],
                    config.separable,
                )
                for i in range(len(config.channels))
            )
        )
        self.pool: nn.Module = (
            nn.AvgPool1d(config.final_pool) if config.final_pool > 1 else nn.Identity()
        )
        self.total_stride = config.total_stride
        self.out_channels = config.channels[-1]
        self.activation_checkpointing = False

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (N, 1, S) with S divisible by total_stride -> (N, C_last, S / total_stride)."""
        if self.activation_checkpointing and self.training and torch.is_grad_enabled():
            return self.pool(self._cut_at_norms(x))  # type: ignore[no-any-return]
        return self.pool(self.blocks(x))  # type: ignore[no-any-return]

    def _cut_at_norms(self, x: Tensor) -> Tensor:
        """The blocks as recomputed segments between BatchNorms; the same function as
        ``self.blocks(x)``.

        Shapes: x (N, 1, S) -> (N, C_last, S / prod(strides)).
        """
        blocks: list[TCNBlock] = list(self.blocks)  # type: ignore[arg-type]
        # 1. the first conv reads the model input, which is kept anyway: nothing to recompute
        block_in, conv_out = x, blocks[0].conv(x)  # (N, 1, S), (N, C_0, S / s_0)
        for block, following in itertools.pairwise(blocks):
            # 2. BatchNorm outside every segment: it runs (and counts its statistics) once
            normed = block.norm(conv_out)  # (N, C_i, L_i)
            residual = block_in if block.residual else None
            # 3. GELU, residual and the next block's conv, recomputed in backward
            block_in, conv_out = run_segment(
                _norm_to_next_conv, block, following, normed, residual, enabled=True
            )  # (N, C_i, L_i), (N, C_i+1, L_i+1)
        # 4. the last block's GELU: a segment here would only add its input to what is kept
        last = blocks[-1]
        return last.finish(last.norm(conv_out), block_in if last.residual else None)


def _norm_to_next_conv(
    block: TCNBlock, following: TCNBlock, normed: Tensor, residual: Tensor | None
) -> tuple[Tensor, Tensor]:
    """``block``'s output from its normalised conv output, and ``following``'s conv of it.

    Shapes: normed (N, C_i, L_i), residual None or (N, C_i, L_i) -> (N, C_i, L_i) block output,
    (N, C_i+1, L_i+1) conv output of the next block.
    """
    out = block.finish(normed, residual)  # (N, C_i, L_i)
    next_conv: Tensor = following.conv(out)
    return out, next_conv


class ElectrodeEncoder(nn.Module):
    """Raw EEG to node features: TCN per electrode, projection to node width, electrode embedding.

    Node i's features depend only on input channel i (and embedding row i).
    """

    def __init__(self, config: TCNConfig, n_electrodes: int, node_width: int) -> None:
        super().__init__()
        self.tcn = TCN(config)
        self.project = nn.Conv1d(self.tcn.out_channels, node_width, 1)  # per timestep, per node
        self.electrode_embedding = nn.Parameter(torch.randn(n_electrodes, node_width) * 0.02)

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, E, S) -> node features (B, E, T, D), T = S / total_stride."""
        batch, n_electrodes, n_samples = x.shape
        # 1. each electrode is a separate single-channel sequence
        seq = x.reshape(batch * n_electrodes, 1, n_samples)  # (B*E, 1, S)
        # 2. shared temporal encoder
        feats = self.project(self.tcn(seq))  # (B*E, D, T)
        # 3. back to per-electrode nodes, time before feature
        nodes = feats.reshape(batch, n_electrodes, feats.shape[1], feats.shape[2])  # (B, E, D, T)
        nodes = nodes.transpose(2, 3)  # (B, E, T, D)
        # 4. electrode identity
        embedding = self.electrode_embedding[None, :, None, :]  # (1, E, 1, D)
        out: Tensor = nodes + embedding
        return out
