"""Finiteness checks at stage boundaries that cost one host synchronisation per forward.

Reading a flag from a CUDA tensor waits for the GPU. Checking each stage as it finishes would
wait five times per forward; instead each stage's count of non-finite entries stays on the
device, and :meth:`StageChecks.raise_first` reads them all at once, then names the first stage
that produced a NaN or inf.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["StageChecks"]


class StageChecks:
    """Collects non-finite counts per stage, in forward order, without synchronising."""

    def __init__(self) -> None:
        self._stages: list[tuple[str, tuple[int, ...], int]] = []
        self._counts: list[Tensor] = []

    def record(self, tensor: Tensor, stage: str) -> None:
        """Note how many entries of ``tensor`` are NaN or inf (stays on the device)."""
        self._stages.append((stage, tuple(tensor.shape), tensor.numel()))
        self._counts.append((~torch.isfinite(tensor.detach())).sum())

    def raise_first(self) -> None:
        """Raise FloatingPointError naming the first recorded stage with a non-finite entry.

        One synchronisation: all counts are read together.
        """
        if not self._counts:
            return
        counts = torch.stack(self._counts).tolist()
        for (stage, shape, numel), n_bad in zip(self._stages, counts, strict=True):
            if n_bad:
                raise FloatingPointError(
                    f"non-finite values in the {stage} ({n_bad} of {numel} entries, shape "
                    f"{shape}); no clamp hides this: inspect that stage and its input"
                )
