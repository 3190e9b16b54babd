"""Bidirectional Mamba2: one layer reading forwards and one reading backwards, and a stack of them.

``BiMamba2`` combines its two directions by a sum: y = fwd(x) + flip(bwd(flip(x))), with flip
reversing the length axis. The output at step t therefore sees the whole sequence; each
direction alone is causal in its own reading order.

``BiMambaStack`` is ``n_layers`` pre-norm residual blocks, x = x + dropout(BiMamba2(RMSNorm(x))),
followed by a final RMSNorm (``norm_f``), as in mamba-ssm's ``MixerModel``.

References: Dao & Gu 2024, "Transformers are SSMs" (Mamba2); Zhu et al. 2024, "Vision Mamba"
(bidirectional Mamba blocks).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bgb_model.mamba2 import Mamba2, Mamba2Backend

__all__ = ["BiMamba2", "BiMambaBlock", "BiMambaStack"]


class BiMamba2(nn.Module):
    """Sum of a forward Mamba2 and a Mamba2 (own weights) run on the time-reversed input.

    Keyword arguments are passed to both ``Mamba2`` layers (``fwd`` and ``bwd``).

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

    def forward(self, x: Tensor) -> Tensor:
        forwards: Tensor = self.fwd(x)
        backwards: Tensor = self.bwd(x.flip(1))
        return forwards + backwards.flip(1)


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

    Args:
        d_model, d_state, headdim, d_conv, expand, chunk_size, torch_chunk_size, backend: passed
            to every Mamba2.
        n_layers: number of blocks (>= 1).
        dropout: dropout probability on each block's residual branch.

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
        self.layers = nn.ModuleList(
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
        )
        self.norm_f = nn.RMSNorm(d_model, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        # The residual stream stays in float32 at least (mamba-ssm's residual_in_fp32), also
        # under autocast, where a block's input would otherwise arrive in bfloat16/float16.
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        for layer in self.layers:
            x = layer(x)
        normed: Tensor = self.norm_f(x)
        return normed
