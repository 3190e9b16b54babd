"""Mamba2: the chunked SSD equals the step-by-step recurrence; mamba-ssm's parameter layout."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest
import torch

from bgb_model import Mamba2, mamba_kernel_available
from bgb_model import _mamba_kernel as kernel_module
from bgb_model import _ssd as ssd_module
from bgb_model import mamba2 as mamba2_module
from bgb_model._mamba_reference import mamba2_step_by_step, recurrent_scan
from bgb_model._ssd import ssd_chunk_scan

F64 = torch.float64


def random_scan_inputs(
    seed: int, batch: int, length: int, nheads: int, headdim: int, ngroups: int, d_state: int
) -> tuple[torch.Tensor, ...]:
    """x, dt, A, B, C, D with dt spanning small to large steps and A spanning slow to fast decay."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, nheads, headdim, generator=gen, dtype=F64)
    dt = torch.nn.functional.softplus(
        3 * torch.randn(batch, length, nheads, generator=gen, dtype=F64)
    )
    A = -torch.exp(
        torch.empty(nheads, dtype=F64).uniform_(math.log(0.1), math.log(16), generator=gen)
    )
    B = torch.randn(batch, length, ngroups, d_state, generator=gen, dtype=F64)
    C = torch.randn(batch, length, ngroups, d_state, generator=gen, dtype=F64)
    D = torch.randn(nheads, generator=gen, dtype=F64)
    return x, dt, A, B, C, D


@pytest.mark.parametrize(
    ("length", "chunk_size", "nheads", "ngroups"),
    [
        (64, 16, 4, 1),  # a multiple of the chunk
        (37, 16, 4, 1),  # ragged last chunk
        (37, 8, 6, 3),  # ngroups > 1
        (50, 1, 2, 2),  # one step per chunk
        (5, 64, 4, 2),  # shorter than one chunk
        (130, 32, 8, 4),
    ],
)
def test_chunked_ssd_equals_recurrence(
    length: int, chunk_size: int, nheads: int, ngroups: int
) -> None:
    inputs = random_scan_inputs(length, 3, length, nheads, 3, ngroups, 5)
    expected = recurrent_scan(*inputs)
    actual = ssd_chunk_scan(*inputs, chunk_size=chunk_size)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


def large_decay_inputs(
    seed: int, dtype: torch.dtype, unsafe_steps: slice, unsafe_heads: slice = slice(None)
) -> tuple[torch.Tensor, ...]:
    """Scan inputs whose ``unsafe_heads`` have dt * A near -100 at ``unsafe_steps``: far past the
    factored form's bound for every (chunk, head) pair that holds one of them, so those pairs
    take the masked form.
    """
    x, dt, A, B, C, D = random_scan_inputs(seed, 2, 48, 4, 3, 2, 5)
    dt = dt / 100  # |dt * A| < 2 per step elsewhere: chunks of 8 stay within the bound
    dt[:, unsafe_steps, unsafe_heads] = 100.0 / A.abs()[unsafe_heads]
    return tuple(t.to(dtype) for t in (x, dt, A, B, C, D))


@pytest.mark.parametrize(
    ("unsafe_steps", "unsafe_heads", "masked_pairs"),
    [
        (slice(0, 48), slice(None), 48),  # 2 sequences x 6 chunks of 8 steps x 4 heads
        (slice(20, 26), slice(None), 16),  # chunks 2 and 3 of each sequence, every head
        (slice(20, 26), slice(0, 1), 4),  # the same chunks, one head: the others factored
        (slice(0, 48), slice(1, 3), 24),  # two heads (one per group) everywhere
        (slice(0, 0), slice(None), 0),
    ],
    ids=["all-masked", "some-chunks", "one-head", "two-heads", "all-factored"],
)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_factored_and_masked_intra_chunk_forms_equal_recurrence(
    unsafe_steps: slice,
    unsafe_heads: slice,
    masked_pairs: int,
    dtype: torch.dtype,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = large_decay_inputs(0, dtype, unsafe_steps, unsafe_heads)
    if dtype == F64:  # float64's bound is 600: make the chosen steps as large again.
        inputs[1][:, unsafe_steps, unsafe_heads] *= 10
    masked_form = ssd_module._MaskedPairs.outputs
    seen: list[int] = []

    def spy(self: ssd_module._MaskedPairs, states_in: torch.Tensor) -> torch.Tensor:
        seen.append(self.pairs.numel())
        return masked_form(self, states_in)

    monkeypatch.setattr(ssd_module._MaskedPairs, "outputs", spy)
    expected = recurrent_scan(*(t.double() for t in inputs))
    actual = ssd_chunk_scan(*inputs, chunk_size=8)
    assert sum(seen) == masked_pairs
    assert actual.dtype == dtype
    tol = 1e-10 if dtype == F64 else 1e-4
    torch.testing.assert_close(actual.double(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("unsafe_heads", [slice(None), slice(2, 3)], ids=["all-heads", "one-head"])
def test_gradcheck_scan_with_masked_and_factored_chunks(unsafe_heads: slice) -> None:
    inputs = list(large_decay_inputs(1, F64, slice(3, 5), unsafe_heads))
    inputs[1][:, 3:5, unsafe_heads] *= 10  # dt * A = -1000 at two steps: those pairs are masked
    inputs = [t[:1, :10].clone() if t.dim() > 1 else t.clone() for t in inputs]
    inputs = [t.requires_grad_() for t in inputs]
    assert torch.autograd.gradcheck(lambda *a: ssd_chunk_scan(*a, chunk_size=5), inputs)


def test_float32_gradients_finite_with_huge_decays() -> None:
    inputs = [t.requires_grad_() for t in large_decay_inputs(2, torch.float32, slice(10, 30))]
    ssd_chunk_scan(*inputs, chunk_size=16).square().sum().backward()
    for tensor in inputs:
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()


def test_chunked_ssd_is_float32_under_autocast() -> None:
    x, dt, A, B, C, D = (t.float() for t in random_scan_inputs(0, 2, 40, 4, 2, 1, 3))
    expected = recurrent_scan(
        x.double(), dt.double(), A.double(), B.double(), C.double(), D.double()
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = ssd_chunk_scan(x.bfloat16(), dt, A, B.bfloat16(), C.bfloat16(), D, chunk_size=16)
    assert y.dtype == torch.float32
    # bf16 inputs, float32 scan: error at the scale of bf16 rounding of the inputs only.
    torch.testing.assert_close(y.double(), expected, rtol=0.05, atol=0.05)


def small_module(seed: int = 0, **overrides: object) -> Mamba2:
    torch.manual_seed(seed)
    sizes: dict[str, object] = dict(
        d_model=8, d_state=5, d_conv=4, expand=2, headdim=4, chunk_size=8, backend="torch"
    )
    sizes.update(overrides)
    module = Mamba2(**sizes)  # type: ignore[arg-type]
    with torch.no_grad():  # non-trivial norm and skip weights, so a mix-up would show
        module.norm.weight.uniform_(0.5, 1.5)
        module.D.uniform_(-1, 1)
    return module


@pytest.mark.parametrize(("length", "ngroups", "chunk_size"), [(24, 1, 8), (29, 2, 8), (13, 4, 64)])
def test_module_equals_step_by_step_reference(length: int, ngroups: int, chunk_size: int) -> None:
    module = small_module(length, ngroups=ngroups, chunk_size=chunk_size).double()
    u = torch.randn(2, length, 8, dtype=F64)
    torch.testing.assert_close(module(u), mamba2_step_by_step(module, u), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("d_conv", [1, 2, 4, 5])
def test_causal_conv_equals_conv1d_on_the_transposed_input(d_conv: int) -> None:
    """The channels-last depthwise conv is the layer's own ``conv1d``, cut to be causal."""
    module = small_module(6, d_conv=d_conv).double()
    width = module.conv1d.in_channels
    wide = torch.randn(3, 21, width + 7, dtype=F64)
    xBC = wide[..., 3 : 3 + width]  # a strided slice, as in the forward pass
    expected = module.conv1d(xBC.transpose(1, 2))[..., :21].transpose(1, 2)
    torch.testing.assert_close(module._causal_conv(xBC), expected, rtol=1e-12, atol=1e-12)


def test_float32_module_matches_float64_reference() -> None:
    module = small_module(1)
    u = torch.randn(3, 70, 8)
    expected = mamba2_step_by_step(module.double(), u.double())
    torch.testing.assert_close(module.float()(u).double(), expected, rtol=1e-4, atol=1e-5)


def test_output_does_not_depend_on_chunk_size() -> None:
    module = small_module(2)
    u = torch.randn(2, 45, 8)
    outputs = []
    for chunk_size in (1, 4, 16, 256):
        module.chunk_size = chunk_size
        outputs.append(module(u))
    for other in outputs[1:]:
        torch.testing.assert_close(other, outputs[0], rtol=1e-5, atol=1e-5)


def test_causal() -> None:
    module = small_module(3).double()
    u = torch.randn(2, 30, 8, dtype=F64)
    changed = u.clone()
    changed[:, 17:] = torch.randn(2, 13, 8, dtype=F64)
    before, after = module(u), module(changed)
    torch.testing.assert_close(after[:, :17], before[:, :17], rtol=0, atol=1e-12)
    assert not torch.allclose(after[:, 17:], before[:, 17:])


def test_gradcheck_scan() -> None:
    inputs = [t.requires_grad_() for t in random_scan_inputs(4, 1, 7, 2, 2, 1, 3)]
    assert torch.autograd.gradcheck(lambda *a: ssd_chunk_scan(*a, chunk_size=3), inputs)


def test_gradcheck_module_input_and_parameters() -> None:
    module = small_module(5, d_model=4, d_state=3, headdim=4, chunk_size=4).double()
    names = [name for name, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in module.parameters()]
    u = torch.randn(1, 9, 4, dtype=F64, requires_grad=True)

    def run(u: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.func.functional_call(
            module, dict(zip(names, values, strict=True)), (u,)
        )
        return out

    assert torch.autograd.gradcheck(run, (u, *params), fast_mode=True)


def test_gradients_finite_with_large_steps_and_decays() -> None:
    module = small_module(6, A_init_range=(15.0, 16.0), dt_min=0.5, dt_max=1.0)
    u = (10 * torch.randn(2, 100, 8)).requires_grad_()
    module(u).square().mean().backward()
    assert u.grad is not None and torch.isfinite(u.grad).all()
    for name, param in module.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_state_dict_has_mamba_ssm_names_and_shapes() -> None:
    d_model, d_state, d_conv, expand, headdim, ngroups = 16, 8, 4, 2, 4, 2
    module = Mamba2(d_model, d_state, d_conv, expand, headdim, ngroups, backend="torch")
    d_inner = expand * d_model
    nheads = d_inner // headdim
    conv_dim = d_inner + 2 * ngroups * d_state
    expected = {
        "dt_bias": (nheads,),
        "A_log": (nheads,),
        "D": (nheads,),
        "in_proj.weight": (2 * d_inner + 2 * ngroups * d_state + nheads, d_model),
        "conv1d.weight": (conv_dim, 1, d_conv),
        "conv1d.bias": (conv_dim,),
        "norm.weight": (d_inner,),
        "out_proj.weight": (d_model, d_inner),
    }
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == expected
    assert module.norm.group_size == d_inner // ngroups
    assert module.conv1d.padding == (d_conv - 1,) and module.conv1d.groups == conv_dim


def test_initialisation_follows_mamba_ssm() -> None:
    torch.manual_seed(7)
    module = Mamba2(
        64, 16, headdim=2, backend="torch", dt_min=0.01, dt_max=0.2, A_init_range=(2, 8)
    )
    dt = torch.nn.functional.softplus(module.dt_bias.detach())
    assert dt.min() >= 0.01 - 1e-6 and dt.max() <= 0.2 + 1e-6
    assert dt.std() > 0  # spread over the range, not a constant
    A = torch.exp(module.A_log.detach())
    assert A.min() >= 2 - 1e-5 and A.max() <= 8 + 1e-5
    assert torch.equal(module.D.detach(), torch.ones(64))
    assert torch.equal(module.norm.weight.detach(), torch.ones(128))
    assert module.in_proj.bias is None and module.out_proj.bias is None


def test_state_dict_round_trip() -> None:
    source, target = small_module(8), small_module(9)
    u = torch.randn(2, 20, 8)
    assert not torch.allclose(source(u), target(u))
    target.load_state_dict(source.state_dict())
    torch.testing.assert_close(target(u), source(u), rtol=0, atol=0)


@pytest.fixture
def fresh_kernel_probe() -> Iterator[None]:
    """Forget the cached kernel probe before and after, so a patched answer cannot leak."""
    kernel_module.kernel_unavailable_reason.cache_clear()
    yield
    kernel_module.kernel_unavailable_reason.cache_clear()


@pytest.mark.parametrize(
    ("cuda", "import_error", "reason"),
    [
        (False, None, "CUDA is not available"),
        (True, ImportError("No module named 'mamba_ssm'"), "ImportError: No module named"),
        (True, OSError("libcudart.so.12: cannot open"), "OSError: libcudart"),
    ],
    ids=["no-cuda", "not-installed", "broken-build"],
)
@pytest.mark.usefixtures("fresh_kernel_probe")
def test_kernel_probe_reports_false_and_why(
    monkeypatch: pytest.MonkeyPatch, cuda: bool, import_error: Exception | None, reason: str
) -> None:
    real_import = kernel_module.importlib.import_module

    def import_module(name: str) -> object:
        if name == kernel_module._SCAN_MODULE and import_error is not None:
            raise import_error
        return real_import(name)

    monkeypatch.setattr(kernel_module.torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(kernel_module.importlib, "import_module", import_module)
    assert mamba_kernel_available() is False
    found = kernel_module.kernel_unavailable_reason()
    assert found is not None and reason in found


def test_kernel_backend_unavailable_raises_with_reason_and_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mamba2_module, "kernel_unavailable_reason", lambda: "no mamba-ssm here")
    assert mamba_kernel_available() is False
    with pytest.raises(
        RuntimeError, match=r"no mamba-ssm here.*uv sync --all-packages --extra cuda"
    ):
        Mamba2(8, 4, headdim=4, backend="kernel")


def test_kernel_backend_refuses_cpu_input() -> None:
    module = small_module(10)
    module.backend = "kernel"  # as if built on a CUDA machine, then run on CPU
    with pytest.raises(RuntimeError, match="CUDA only"):
        module(torch.randn(1, 5, 8))


def test_auto_backend_runs_torch_on_cpu_and_logs_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(mamba2_module, "_logged_choices", set())  # as in a fresh process
    module = small_module(11)
    module.backend = "auto"
    u = torch.randn(1, 10, 8)
    expected = small_module(11)(u)  # backend "torch": its own message, before the capture
    with caplog.at_level(logging.INFO, logger="bgb_model.mamba2"):
        torch.testing.assert_close(module(u), expected, rtol=0, atol=0)
        module(u)  # once per process: the second call logs nothing
    messages = [r.getMessage() for r in caplog.records if r.name == "bgb_model.mamba2"]
    assert len(messages) == 1 and "backend: torch (auto; input on cpu)" in messages[0], messages


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(backend="cuda"), "backend must be one of"),
        (dict(headdim=5), "not a multiple of headdim"),
        (dict(ngroups=3), "not a multiple of ngroups"),
        (dict(chunk_size=0), "chunk_size must be >= 1"),
        (dict(dt_min=0.2, dt_max=0.1), "dt_min <= dt_max"),
    ],
)
def test_bad_configuration_raises(kwargs: dict[str, object], message: str) -> None:
    sizes: dict[str, object] = dict(d_model=8, d_state=4, headdim=4, backend="torch")
    sizes.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Mamba2(**sizes)  # type: ignore[arg-type]


def test_bad_input_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"expected input \(batch, length, 8\)"):
        small_module()(torch.randn(2, 10, 7))


def test_torch_scan_uses_its_own_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def spy(*args: object) -> torch.Tensor:
        seen.append(int(args[-1]))  # type: ignore[call-overload]
        return ssd_chunk_scan(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("bgb_model.mamba2.ssd_chunk_scan", spy)
    u = torch.randn(1, 12, 8)
    small_module(chunk_size=256)(u)  # no torch_chunk_size: the one chunk size serves both
    small_module(chunk_size=256, torch_chunk_size=4)(u)
    assert seen == [256, 4]


def test_auto_on_cuda_without_kernels_warns_once_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from types import SimpleNamespace

    monkeypatch.setattr(mamba2_module, "kernel_unavailable_reason", lambda: "no mamba-ssm")
    monkeypatch.setattr(mamba2_module, "_logged_choices", set())
    module = small_module(backend="auto")
    on_cuda = SimpleNamespace(is_cuda=True, device=torch.device("cuda", 0))  # decides only
    with pytest.warns(RuntimeWarning, match="pure-PyTorch scan on CUDA.*several times slower"):
        assert module._use_kernel(on_cuda) is False  # type: ignore[arg-type]
    assert any(r.levelname == "WARNING" and "no mamba-ssm" in r.message for r in caplog.records)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call in the process stays quiet
        assert module._use_kernel(on_cuda) is False  # type: ignore[arg-type]
