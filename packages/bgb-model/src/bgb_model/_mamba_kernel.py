"""mamba-ssm's Triton SSD scan, imported lazily: the package cannot even be imported without CUDA.

Only the scan is taken from mamba-ssm (``mamba_chunk_scan_combined``, the function mamba-ssm's
own Mamba2 calls on its non-fused path); projections, the causal conv and the gated norm are
the same PyTorch code on every backend, so both backends use one set of parameters.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor

__all__ = ["INSTALL_HINT", "kernel_chunk_scan", "kernel_unavailable_reason"]

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install mamba-ssm on a CUDA machine with `uv sync --all-packages --extra cuda` (or "
    "`pip install bgb-model[cuda]`; building it needs CUDA and nvcc), or use backend='torch'"
)

_SCAN_MODULE = "mamba_ssm.ops.triton.ssd_combined"


@functools.cache
def kernel_unavailable_reason() -> str | None:
    """Why the kernel backend cannot run in this process, or None when it can. Never raises."""
    if not torch.cuda.is_available():
        return "CUDA is not available"
    try:
        importlib.import_module(_SCAN_MODULE)
    except (ImportError, OSError, RuntimeError) as error:
        # mamba-ssm raises all three kinds when it is absent, built for another CUDA or torch,
        # or missing its compiled extension; each means the kernel cannot run here.
        return f"mamba-ssm cannot be imported ({type(error).__name__}: {error})"
    return None


def kernel_chunk_scan(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor,
    dt_bias: Tensor,
    chunk_size: int,
    dt_limit: tuple[float, float],
) -> Tensor:
    """mamba-ssm's ``mamba_chunk_scan_combined`` with softplus(dt + dt_bias) done inside.

    Shapes: x (b, l, h, p); dt (b, l, h) before softplus; A, D, dt_bias (h,);
    B, C (b, l, g, n) -> y (b, l, h, p).
    """
    reason = kernel_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"Mamba2 kernel backend unavailable: {reason}; {INSTALL_HINT}")
    scan = cast(
        Callable[..., Tensor],
        importlib.import_module(_SCAN_MODULE).mamba_chunk_scan_combined,
    )
    limit_kwargs = {} if dt_limit == (0.0, float("inf")) else {"dt_limit": dt_limit}
    return scan(
        x.contiguous(),
        dt.contiguous(),
        A,
        B.contiguous(),
        C.contiguous(),
        chunk_size=chunk_size,
        D=D,
        z=None,
        dt_bias=dt_bias,
        dt_softplus=True,
        **limit_kwargs,
    )
