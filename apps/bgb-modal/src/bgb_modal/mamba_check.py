"""``mamba-check``: the mamba-ssm kernels run on this GPU and equal the pure-PyTorch Mamba2.

For each stream size of the detector, a ``bgb_model.Mamba2`` on the kernel backend and one on
the torch backend share weights; the check compares outputs, input gradients and parameter
gradients, then does the same for a whole small detector. Tolerances are those of
``tests/model/test_mamba2_gpu.py``.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, TypedDict

__all__ = ["KernelMismatchError", "run_mamba_check"]


# (name, sequence length, Mamba2 sizes): the original design's node and edge streams
class _Sizes(TypedDict):
    d_model: int
    d_state: int
    headdim: int
    chunk_size: int


_CASES: tuple[tuple[str, int, _Sizes], ...] = (
    ("node stream", 960, {"d_model": 64, "d_state": 16, "headdim": 8, "chunk_size": 256}),
    ("edge stream", 960, {"d_model": 16, "d_state": 8, "headdim": 4, "chunk_size": 256}),
)
_OUTPUT_TOLERANCE = 2e-3
_GRAD_TOLERANCE = 5e-3


class KernelMismatchError(AssertionError):
    """The kernel and torch backends disagree beyond tolerance (the report is attached)."""


def run_mamba_check(seed: int = 0) -> dict[str, Any]:
    """Run the comparison on the CUDA device; return a report, raise when it fails.

    Raises:
        RuntimeError: no CUDA device, or mamba-ssm cannot be imported (the reason says why).
        KernelMismatchError: a difference beyond tolerance.
    """
    import torch

    from bgb_model import Mamba2

    Mamba2(
        16, headdim=4, backend="kernel"
    )  # raises RuntimeError saying why when the kernel cannot run
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0),
        "versions": {
            name: importlib.metadata.version(name)
            for name in ("torch", "mamba-ssm", "triton", "torch-geometric")
        },
        "torch_cuda": torch.version.cuda,
        "cases": [_compare_layer(name, length, sizes, seed) for name, length, sizes in _CASES],
    }
    report["cases"].append(_compare_detector(seed))
    report["passed"] = all(case["passed"] for case in report["cases"])
    if not report["passed"]:
        raise KernelMismatchError(f"kernel and torch backends disagree: {report}")
    return report


def _compare_layer(name: str, length: int, sizes: _Sizes, seed: int) -> dict[str, Any]:
    import torch

    from bgb_model import Mamba2

    torch.manual_seed(seed)
    kernel = Mamba2(backend="kernel", **sizes).cuda()
    with torch.no_grad():  # move the norm and skip away from their initial 1 and 1
        kernel.norm.weight.uniform_(0.5, 1.5)
        kernel.D.uniform_(-1, 1)
    reference = Mamba2(backend="torch", **sizes).cuda()
    reference.load_state_dict(kernel.state_dict())
    u = torch.randn(4, length, sizes["d_model"], device="cuda")
    u_kernel, u_reference = u.clone().requires_grad_(), u.clone().requires_grad_()
    out_kernel, out_reference = kernel(u_kernel), reference(u_reference)
    grad_out = torch.randn_like(out_kernel)
    out_kernel.backward(grad_out)
    out_reference.backward(grad_out)
    assert u_kernel.grad is not None and u_reference.grad is not None
    output_diff = float((out_kernel - out_reference).abs().max())
    input_grad_diff = float((u_kernel.grad - u_reference.grad).abs().max())
    worst_param = 0.0  # parameter gradient difference relative to the gradient's size
    reference_params = dict(reference.named_parameters())
    for param_name, param in kernel.named_parameters():
        other = reference_params[param_name]
        assert param.grad is not None and other.grad is not None, param_name
        scale = float(other.grad.abs().max()) + 1e-6
        worst_param = max(worst_param, float((param.grad - other.grad).abs().max()) / scale)
    return {
        "case": name,
        "shape": [4, length, sizes["d_model"]],
        "max_abs_output_diff": output_diff,
        "max_abs_input_grad_diff": input_grad_diff,
        "max_rel_param_grad_diff": worst_param,
        "passed": output_diff <= _OUTPUT_TOLERANCE
        and input_grad_diff <= _GRAD_TOLERANCE
        and worst_param <= _GRAD_TOLERANCE,
    }


def _compare_detector(seed: int) -> dict[str, Any]:
    """A small detector (seed architecture, CPU-demo sizes) on one 60 s window, both backends."""
    import torch

    from bgb_model import Detector, DetectorConfig

    torch.manual_seed(seed)
    config = DetectorConfig.small()
    kernel = Detector(config, backend="kernel").cuda()
    reference = Detector(config, backend="torch").cuda()
    reference.load_state_dict(kernel.state_dict())
    x = torch.randn(2, config.n_electrodes, 15360, device="cuda")
    with torch.no_grad():
        diff = float((kernel(x) - reference(x)).abs().max())
    return {
        "case": "detector (small)",
        "shape": [2, config.n_electrodes, 15360],
        "max_abs_output_diff": diff,
        "passed": diff <= 10 * _OUTPUT_TOLERANCE,
    }
