"""Activation checkpointing: same outputs, gradients and BatchNorm statistics as the plain run.

Why exact equality is the tolerance: the recomputation runs the same kernels on bit-identical
inputs in the same order (same thread count, same RNG state for dropout), and autograd then runs
the same backward graph, so every float64 (and bfloat16-autocast) value must match to the bit.
Any difference, however small, means the recomputed segment computed something else.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.utils.checkpoint
from torch import Tensor, nn

import bgb_model._checkpoint
from bgb_model import Detector, DetectorConfig
from bgb_model._ssd import ssd_chunk_scan
from bgb_model.mamba2 import Mamba2

N_SAMPLES = 512  # 2 s at 256 Hz, T = 32: two SSD chunks of the small config


def small_config(dropout: float = 0.0) -> DetectorConfig:
    """The small preset, with ``dropout`` on both streams' residual branches."""
    config = DetectorConfig.small()
    edge = config.edge_stream
    return dataclasses.replace(
        config,
        node_stream=dataclasses.replace(config.node_stream, dropout=dropout),
        edge_stream=dataclasses.replace(
            edge, stream=dataclasses.replace(edge.stream, dropout=dropout)
        ),
    )


def model_pair(
    config: DetectorConfig, dtype: torch.dtype = torch.float64
) -> tuple[Detector, Detector]:
    """Two models with identical weights and buffers; the second checkpoints."""
    torch.manual_seed(0)
    plain = Detector(config, backend="torch").to(dtype).train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.set_activation_checkpointing(True)
    return plain, checkpointed


def eeg(dtype: torch.dtype = torch.float64, batch: int = 2) -> Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, 19, N_SAMPLES, generator=generator).to(dtype)


def train_step(model: Detector, x: Tensor, autocast: bool = False) -> tuple[Tensor, Tensor]:
    """Output and input gradient of one forward + backward; dropout seeded the same each time."""
    torch.manual_seed(123)
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = model(x)
    weights = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view_as(out)
    (out * weights).sum().backward()
    assert x.grad is not None
    return out.detach(), x.grad


def assert_same_state(plain: Detector, checkpointed: Detector) -> None:
    """Every parameter gradient and every buffer (BatchNorm statistics) bit-identical."""
    grads = dict(checkpointed.named_parameters())
    for name, param in plain.named_parameters():
        other = grads[name].grad
        assert param.grad is not None and other is not None, name
        assert torch.equal(param.grad, other), (
            f"{name}: max abs diff {(param.grad - other).abs().max().item():.3e}"
        )
    buffers = dict(checkpointed.named_buffers())
    for name, buffer in plain.named_buffers():
        assert torch.equal(buffer, buffers[name]), name


def test_off_by_default_and_not_part_of_config_or_state_dict() -> None:
    model = Detector(DetectorConfig.small(), backend="torch")
    assert model.activation_checkpointing is False
    keys, config = set(model.state_dict()), model.config.to_dict()
    model.set_activation_checkpointing(True)
    assert model.activation_checkpointing is True
    assert set(model.state_dict()) == keys
    assert model.config.to_dict() == config
    assert not hasattr(model.config, "activation_checkpointing")
    model.set_activation_checkpointing(False)
    assert model.activation_checkpointing is False
    with pytest.raises(TypeError, match="True or False"):
        model.set_activation_checkpointing("false")


def assert_same_training_step(plain: Detector, checkpointed: Detector, x: Tensor) -> None:
    """One training step of each: same output, gradients and state, bit for bit."""
    out_plain, grad_plain = train_step(plain, x)
    out_ckpt, grad_ckpt = train_step(checkpointed, x)
    assert torch.equal(out_plain, out_ckpt)
    assert torch.equal(grad_plain, grad_ckpt)
    assert_same_state(plain, checkpointed)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_gradients_and_batchnorm_statistics_equal_the_plain_run(dropout: float) -> None:
    plain, checkpointed = model_pair(small_config(dropout))
    x = eeg()
    assert_same_training_step(plain, checkpointed, x)
    norm = next(m for m in plain.modules() if isinstance(m, nn.BatchNorm1d))
    assert norm.num_batches_tracked is not None and int(norm.num_batches_tracked) == 1


def test_dropout_case_really_draws_masks() -> None:
    """The dropout test above is only meaningful if another RNG state changes the output."""
    plain, _ = model_pair(small_config(0.3))
    x = eeg()
    out_a, _ = train_step(plain, x)
    torch.manual_seed(999)
    assert not torch.equal(out_a, plain(x).detach())


def test_bfloat16_autocast_gradients_equal_the_plain_run() -> None:
    plain, checkpointed = model_pair(small_config(0.1), dtype=torch.float32)
    x = eeg(torch.float32)
    out_plain, grad_plain = train_step(plain, x, autocast=True)
    out_ckpt, grad_ckpt = train_step(checkpointed, x, autocast=True)
    assert torch.equal(out_plain, out_ckpt)
    assert torch.equal(grad_plain, grad_ckpt)
    assert_same_state(plain, checkpointed)


@pytest.fixture
def checkpoint_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts calls of torch.utils.checkpoint.checkpoint made by the model."""
    calls: list[int] = []
    real = torch.utils.checkpoint.checkpoint

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bgb_model._checkpoint, "checkpoint", counting)
    yield calls


def test_segments_only_in_training_with_grad(checkpoint_calls: list[int]) -> None:
    config = DetectorConfig.small()
    _, model = model_pair(config, dtype=torch.float32)
    x = eeg(torch.float32, batch=1)
    model(x)
    directions = 2 * (config.node_stream.n_layers + config.edge_stream.stream.n_layers)
    tcn_segments = len(config.tcn.channels) - 1
    assert len(checkpoint_calls) == directions + tcn_segments + 1  # + pair features
    checkpoint_calls.clear()
    with torch.no_grad():
        model(x)  # training mode, no autograd: plain calls
    model.eval()
    model(x)  # eval mode with autograd (e.g. input attribution): plain calls
    model.train()
    model.set_activation_checkpointing(False)
    model(x)
    assert checkpoint_calls == []


def test_batchnorm_is_never_recomputed() -> None:
    """Each BatchNorm runs once per step (a recomputed SyncBatchNorm would all-reduce inside
    DDP's backward)."""
    _, model = model_pair(DetectorConfig.small(), dtype=torch.float32)
    calls: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.BatchNorm1d):
            module.register_forward_hook(lambda *_, n=name: calls.append(n))
    model(eeg(torch.float32)).square().mean().backward()
    n_norms = len(DetectorConfig.small().tcn.channels)
    assert len(calls) == n_norms == len(set(calls))


def saved_bytes(model: Detector, x: Tensor) -> int:
    """Bytes of distinct storages autograd keeps for backward after one forward (no weights)."""
    weights = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(x)
    return sum(seen.values())


def test_checkpointing_stores_far_less() -> None:
    plain, checkpointed = model_pair(DetectorConfig.small(), dtype=torch.float32)
    x = eeg(torch.float32)
    assert saved_bytes(checkpointed, x) < 0.4 * saved_bytes(plain, x)


class _OpaqueScan(torch.autograd.Function):
    """Stands in for mamba-ssm's fused scan: an autograd Function that saves only its inputs
    and recomputes inside its own backward, with no torch-path internals visible outside."""

    @staticmethod
    def forward(ctx: Any, *inputs: Tensor) -> Tensor:
        ctx.save_for_backward(*inputs)
        with torch.no_grad():
            return _scan(*inputs)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        inputs = [t.detach().requires_grad_(t.requires_grad) for t in ctx.saved_tensors]
        with torch.enable_grad():
            out = _scan(*inputs)
        wanted = [t for t in inputs if t.requires_grad]
        found = iter(torch.autograd.grad(out, wanted, grad))
        return tuple(next(found) if t.requires_grad else None for t in inputs)


def _scan(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor, bias: Tensor
) -> Tensor:
    step = nn.functional.softplus(dt + bias)
    return ssd_chunk_scan(x, step, A, B, C, D, chunk_size=16)


def test_kernel_code_path_works_with_an_opaque_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "kernel" branch of Mamba2 (mamba-ssm's Function in place of the torch scan) under
    checkpointing: nothing in the wrapper relies on the torch path's internals."""

    def fake_kernel(
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
        result: Tensor = _OpaqueScan.apply(x, dt, A, B, C, D, dt_bias)
        return result

    monkeypatch.setattr(Mamba2, "_use_kernel", lambda self, u: True)
    monkeypatch.setattr("bgb_model.mamba2.kernel_chunk_scan", fake_kernel)
    plain, checkpointed = model_pair(small_config(0.2))
    x = eeg()
    assert_same_training_step(plain, checkpointed, x)


@pytest.mark.slow
def test_default_model_gradients_equal_the_plain_run() -> None:
    """The default sizes (8-layer TCN with two residual blocks, 6 + 2 BiMamba blocks)."""
    plain, checkpointed = model_pair(DetectorConfig(), dtype=torch.float64)
    x = eeg(batch=1)
    assert_same_training_step(plain, checkpointed, x)
