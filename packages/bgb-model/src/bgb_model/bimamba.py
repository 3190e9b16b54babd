"""Bidirectional Mamba2: one layer reading forwards and one reading backwards, and a stack of them.

``BiMamba2`` combines its two directions by a sum: y = fwd(x) + flip(bwd(flip(x))), with flip
reversing the length axis. The output at step t therefore sees the whole sequence; each
direction alone is causal in its own reading order.

``BiMambaStack`` is ``n_layers`` pre-norm residual blocks, x = x + dropout(BiMamba2(RMSNorm(x))),
followed by a final RMSNorm (``norm_f``), as in mamba-ssm's ``MixerModel``.

With ``activation_checkpointing`` set on a ``BiMamba2`` (``Detector.set_activation_checkpointing``
does it), each direction is one recomputed segment in training: only the normalised block input
is kept. Per direction rather than per block because recomputing a whole block at once would
hold both directions' activations together, the largest single allocation of the edge stream
(benchmarks/bench_memory.py).

References: Dao & Gu 2024, "Transformers are SSMs" (Mamba2); Zhu et al. 2024, "Vision Mamba"
(bidirectional Mamba blocks).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bgb_model._checkpoint import run_segment
from bgb_model.config import StreamConfig
from bgb_model.mamba2 import Mamba2, Mamba2Backend

__all__ = ["INFERENCE_PIECE_ELEMENTS", "BiMamba2", "BiMambaBlock", "BiMambaStack"]

# Largest in_proj output, in values, that one piece of a stack computes at once without
# autograd (6 M float32 values: 24 MB, below glibc's 32 MB limit for reusing freed memory).
INFERENCE_PIECE_ELEMENTS = 6_000_000


class BiMamba2(nn.Module):
    """Sum of a forward Mamba2 and a Mamba2 (own weights) run on the time-reversed input.

    The sizes and the backend are those of both ``Mamba2`` layers (``fwd`` and ``bwd``); their
    other options keep ``Mamba2``'s defaults.

    ``activation_checkpointing`` (default False, not saved in the state dict): in training with
    autograd recording, recompute each direction during backward instead of storing its
    activations.

    Shapes: x (batch, length, d_model) -> (batch, length, d_model).
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 128,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        chunk_size: int = 256,
        backend: Mamba2Backend = "auto",
        torch_chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        sizes = (d_model, d_state, d_conv, expand, headdim, ngroups, chunk_size, backend)
        self.fwd = Mamba2(*sizes, torch_chunk_size=torch_chunk_size)
        self.bwd = Mamba2(*sizes, torch_chunk_size=torch_chunk_size)
        self.activation_checkpointing = False

    def forward(self, x: Tensor) -> Tensor:
        recompute = self.activation_checkpointing and self.training
        forwards: Tensor = run_segment(self.fwd, x, enabled=recompute)
        # the flips sit inside the segment, so both segments keep the same input tensor
        backwards: Tensor = run_segment(_reversed, self.bwd, x, enabled=recompute)
        return forwards + backwards


def _reversed(layer: nn.Module, x: Tensor) -> Tensor:
    """``layer`` read backwards in time. Shapes: x (batch, length, d) -> (batch, length, d)."""
    out: Tensor = layer(x.flip(1)).flip(1)
    return out


class BiMambaBlock(nn.Module):
    """Pre-norm residual block: x + dropout(BiMamba2(RMSNorm(x))).

    Shapes: x (batch, length, d_model) -> (batch, length, d_model).
    """

    def __init__(self, d_model: int, mixer: BiMamba2, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(d_model, eps=1e-5)
        self.mixer = mixer
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        mixed: Tensor = self.dropout(self.mixer(self.norm(x)))
        return x + mixed


class BiMambaStack(nn.Module):
    """``n_layers`` ``BiMambaBlock``s then a final RMSNorm ``norm_f``.

    ``BiMambaStack.from_config`` builds one with the sizes of a ``StreamConfig`` (the detector's
    node and edge streams).

    Args:
        d_model, d_state, headdim, d_conv, expand, chunk_size, torch_chunk_size, backend: passed
            to every Mamba2.
        n_layers: number of blocks (>= 1).
        dropout: dropout probability on each block's residual branch.

    Without autograd (``torch.no_grad``, inference mode) the batch runs through the whole
    stack a few sequences at a time (``sequences_per_piece``), which changes only the speed.

    Shapes: x (batch, length, d_model) -> (batch, length, d_model), RMS-normalised.
    """

    def __init__(
        self,
        d_model: int,
        n_layers: int,
        d_state: int,
        headdim: int,
        d_conv: int = 4,
        expand: int = 2,
        chunk_size: int = 256,
        dropout: float = 0.0,
        backend: Mamba2Backend = "auto",
        torch_chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"BiMambaStack: n_layers must be >= 1, got {n_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"BiMambaStack: dropout must be in [0, 1), got {dropout}")
        blocks = [
            BiMambaBlock(
                d_model,
                BiMamba2(
                    d_model,
                    d_state=d_state,
                    d_conv=d_conv,
                    expand=expand,
                    headdim=headdim,
                    chunk_size=chunk_size,
                    backend=backend,
                    torch_chunk_size=torch_chunk_size,
                ),
                dropout=dropout,
            )
            for _ in range(n_layers)
        ]
        self.layers = nn.ModuleList(blocks)
        self.in_proj_width = blocks[0].mixer.fwd.in_proj.out_features  # widest temporary
        self.norm_f = nn.RMSNorm(d_model, eps=1e-5)

    @classmethod
    def from_config(cls, config: StreamConfig, backend: Mamba2Backend) -> BiMambaStack:
        """A stack with every size of ``config``; ``backend`` is not part of it (see Mamba2)."""
        return cls(
            d_model=config.d_model,
            n_layers=config.n_layers,
            d_state=config.d_state,
            headdim=config.headdim,
            d_conv=config.d_conv,
            expand=config.expand,
            chunk_size=config.chunk_size,
            torch_chunk_size=config.torch_chunk_size,
            dropout=config.dropout,
            backend=backend,
        )

    def forward(self, x: Tensor) -> Tensor:
        # The residual stream stays in float32 at least (mamba-ssm's residual_in_fp32), also
        # under autocast, where a block's input would otherwise arrive in bfloat16/float16.
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        per_piece = self.sequences_per_piece(x.shape[1])
        if torch.is_grad_enabled() or per_piece >= x.shape[0]:
            return self._run(x)
        # Without autograd nothing outlives a piece, so each piece's temporaries reuse the
        # memory the previous piece freed (sequences are independent: the same function).
        return torch.cat([self._run(piece) for piece in torch.split(x, per_piece)])

    def sequences_per_piece(self, length: int) -> int:
        """How many sequences of ``length`` steps run together when no gradient is recorded.

        The widest temporary of a block is in_proj's output, ``length x in_proj width`` values
        per sequence; pieces keep it within ``INFERENCE_PIECE_ELEMENTS``. On CPU, glibc serves
        allocations above 32 MB with fresh pages every time (one page fault per 4 KB, the
        pages zeroed by the kernel), which cost the edge stream's 171 sequences more than the
        arithmetic done in them; smaller ones are reused from the allocator's free lists.
        """
        return max(1, INFERENCE_PIECE_ELEMENTS // max(1, length * self.in_proj_width))

    def _run(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        normed: Tensor = self.norm_f(x)
        return normed
