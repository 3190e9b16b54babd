"""Kernel vs torch Mamba2 backends on the same weights (CUDA with mamba-ssm only; never faked)."""

from __future__ import annotations

import pytest
import torch

from bgb_model import BiMambaStack, Mamba2, mamba_kernel_available

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    pytest.mark.skipif(
        not mamba_kernel_available(),
        reason="needs mamba-ssm importable (uv sync --all-packages --extra cuda)",
    ),
]


def twin_modules(seed: int, **sizes: object) -> tuple[Mamba2, Mamba2]:
    torch.manual_seed(seed)
    kernel = Mamba2(backend="kernel", **sizes).cuda()  # type: ignore[arg-type]
    with torch.no_grad():
        kernel.norm.weight.uniform_(0.5, 1.5)
        kernel.D.uniform_(-1, 1)
    reference = Mamba2(backend="torch", **sizes).cuda()  # type: ignore[arg-type]
    reference.load_state_dict(kernel.state_dict())
    return kernel, reference


@pytest.mark.parametrize(
    ("length", "sizes"),
    [
        (960, dict(d_model=64, d_state=16, headdim=8, chunk_size=256)),  # node stream
        (960, dict(d_model=16, d_state=8, headdim=4, chunk_size=256)),  # edge stream
        (333, dict(d_model=32, d_state=16, headdim=16, ngroups=2, chunk_size=64)),
    ],
)
def test_kernel_equals_torch_forward_and_gradients(length: int, sizes: dict[str, object]) -> None:
    kernel, reference = twin_modules(length, **sizes)
    d_model = int(sizes["d_model"])  # type: ignore[call-overload]
    u = torch.randn(4, length, d_model, device="cuda")
    u_kernel, u_reference = u.clone().requires_grad_(), u.clone().requires_grad_()
    out_kernel, out_reference = kernel(u_kernel), reference(u_reference)
    torch.testing.assert_close(out_kernel, out_reference, rtol=2e-3, atol=2e-3)

    grad_out = torch.randn_like(out_kernel)
    out_kernel.backward(grad_out)
    out_reference.backward(grad_out)
    assert u_kernel.grad is not None and u_reference.grad is not None
    torch.testing.assert_close(u_kernel.grad, u_reference.grad, rtol=5e-3, atol=5e-3)
    reference_params = dict(reference.named_parameters())
    for name, param in kernel.named_parameters():
        other = reference_params[name]
        assert param.grad is not None and other.grad is not None, name
        scale = other.grad.abs().max().clamp(min=1e-6)  # tolerance relative to the gradient size
        assert (param.grad - other.grad).abs().max() <= 5e-3 * scale + 1e-4, name


def test_gpu_checkpoint_runs_on_cpu_with_same_output() -> None:
    kernel, _ = twin_modules(0, d_model=16, d_state=8, headdim=4)
    u = torch.randn(2, 200, 16, device="cuda")
    expected = kernel(u).cpu()
    cpu = Mamba2(16, 8, headdim=4, backend="torch")
    cpu.load_state_dict({k: v.cpu() for k, v in kernel.state_dict().items()})
    torch.testing.assert_close(cpu(u.cpu()), expected, rtol=2e-3, atol=2e-3)


def test_stack_auto_uses_kernel_on_cuda_and_matches_torch() -> None:
    torch.manual_seed(0)
    auto = BiMambaStack(16, n_layers=2, d_state=8, headdim=4, backend="auto").cuda()
    torch_stack = BiMambaStack(16, n_layers=2, d_state=8, headdim=4, backend="torch").cuda()
    torch_stack.load_state_dict(auto.state_dict())
    u = torch.randn(3, 500, 16, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        auto_out, torch_out = auto(u), torch_stack(u)
    torch.testing.assert_close(auto_out.float(), torch_out.float(), rtol=5e-2, atol=5e-2)
