"""Inductor-compiled Mamba2 layers for inference on CPU, where a C++ compiler exists.

``compile_mamba_layers(model)`` compiles the forward of every :class:`~bgb_model.Mamba2` in
``model`` with ``torch.compile`` (inductor, static shapes): the projections and the chunked
SSD's elementwise chains become fused C++ loops. The function computed is the same (the
compiled and eager outputs agree within float32 rounding; ``tests/model/test_compiled.py``).
Only the layer's forward is compiled, so the stage checks, the BiMamba pieces and the graph
stage stay eager, and every window of one length reuses the same compiled code.

It is meant for the pure-PyTorch scan on CPU; on CUDA, mamba-ssm's kernels are the fast path.
Compiling costs time once per process and shape (tens of seconds per layer shape on two
cores; inductor's on-disk cache shortens later processes), so it pays on long recordings and
batches of them, not on one short file.
"""

from __future__ import annotations

import logging

from torch import nn

from bgb_model._ssd import prepare_for_compile
from bgb_model.mamba2 import Mamba2

__all__ = ["compile_mamba_layers", "cpp_compiler"]

logger = logging.getLogger(__name__)


def cpp_compiler() -> str | None:
    """The C++ compiler inductor would use on CPU, or None when it finds none. Never raises."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        return get_cpp_compiler()
    except Exception:  # any failure to find or run one means inductor cannot build here
        return None


def compile_mamba_layers(model: nn.Module) -> int:
    """Compile the forward of every Mamba2 layer in ``model`` in place; the number compiled.

    Raises:
        RuntimeError: no working C++ compiler (inductor's CPU backend needs one), saying how to
            get one; the model is left unchanged.
    """
    layers = [m for m in model.modules() if isinstance(m, Mamba2)]
    if layers and cpp_compiler() is None:
        raise RuntimeError(
            "no C++ compiler found for torch.compile's CPU backend: install g++ (or set CXX) "
            "to compile the Mamba2 layers, or run without compiling (same outputs, slower)"
        )
    if layers:
        prepare_for_compile()
    for layer in layers:
        layer.compile(dynamic=False)
    logger.info("compiled %d Mamba2 layers with torch.compile (inductor)", len(layers))
    return len(layers)
