"""Detector end to end on the small config and short windows."""

from __future__ import annotations

import pytest
import torch

from bgb_model import Detector, DetectorConfig

N_SAMPLES = 256  # 1 s at 256 Hz, T = 16: short windows keep the suite fast


def make_model(seed: int = 0) -> Detector:
    torch.manual_seed(seed)
    return Detector(DetectorConfig.small(), backend="torch")


def eeg(batch: int = 1, n_samples: int = N_SAMPLES, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 19, n_samples, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def model() -> Detector:
    return make_model()


@pytest.mark.parametrize("n_samples", [256, 1024])
def test_forward_shape(model: Detector, n_samples: int) -> None:
    with torch.no_grad():
        logits = model(eeg(batch=2, n_samples=n_samples))
    assert logits.shape == (2, n_samples)
    assert logits.dtype == torch.float32


def test_every_parameter_is_used_and_counted() -> None:
    model = make_model()
    model.train()
    model(eeg(batch=2)).square().mean().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    missing = [name for name, grad in grads.items() if grad is None]
    assert not missing, f"parameters without gradient (dead): {missing}"
    assert all(torch.isfinite(g).all() for g in grads.values() if g is not None)
    nonzero = sum(int(g is not None and bool(g.abs().sum() > 0)) for g in grads.values())
    assert nonzero >= 0.95 * len(grads)
    by_stage = model.parameter_count_by_stage()
    assert sum(by_stage.values()) == model.parameter_count()
    assert model.parameter_count() == sum(p.numel() for p in model.parameters())
    assert all(count > 0 for count in by_stage.values())


def adversarial_inputs() -> dict[str, torch.Tensor]:
    flat = eeg()
    flat[:, 3] = 0.0  # one flat electrode
    return {
        "flat-channel": flat,
        "all-flat": torch.zeros(1, 19, N_SAMPLES),
        "large-amplitude": eeg() * 1e4,
        "random": eeg(seed=5),
    }


@pytest.mark.parametrize("name", sorted(adversarial_inputs()))
def test_finite_gradients_on_adversarial_inputs(name: str) -> None:
    model = make_model()
    logits = model(adversarial_inputs()[name])
    assert torch.isfinite(logits).all()
    logits.mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_finite_gradients_with_disconnected_adjacency() -> None:
    model = make_model()
    with torch.no_grad():
        model.edge_stream.to_weight.bias.fill_(-200.0)  # sigmoid underflows to exactly 0
    adjacencies: list[torch.Tensor] = []
    model.edge_stream.register_forward_hook(lambda _m, _i, out: adjacencies.append(out))
    model(eeg()).mean().backward()
    assert adjacencies[0].abs().max() == 0
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


def test_nodes_keep_electrode_identity_before_the_graph_stage() -> None:
    model = make_model().eval()
    outputs: list[torch.Tensor] = []
    model.node_stream.register_forward_hook(lambda _m, _i, out: outputs.append(out))
    x = eeg()
    bumped = x.clone()
    bumped[:, 11] += 1.0
    with torch.no_grad():
        model(x)
        model(bumped)
    change = (outputs[0] - outputs[1]).abs().amax(dim=(1, 2))  # (B*N,) = per electrode
    assert change[11] > 0
    assert torch.all(change[torch.arange(19) != 11] == 0)


def test_deterministic() -> None:
    first, second = make_model(seed=3).eval(), make_model(seed=3).eval()
    x = eeg(batch=2)
    with torch.no_grad():
        torch.testing.assert_close(first(x), second(x), rtol=0, atol=0)
        torch.testing.assert_close(first(x), first(x), rtol=0, atol=0)


def test_bf16_autocast_forward_is_finite(model: Detector) -> None:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(eeg())
    assert logits.shape == (1, N_SAMPLES)
    assert torch.isfinite(logits.float()).all()


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(2, 18, N_SAMPLES), r"\(batch, 19, n_samples\)"),
        (torch.randn(19, N_SAMPLES), r"\(batch, 19, n_samples\)"),
        (torch.randn(1, 19, 1000), "multiple of the total stride 16"),
        (torch.ones(1, 19, N_SAMPLES, dtype=torch.int64), "floating point"),
    ],
)
def test_bad_input_raises(model: Detector, x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        model(x)


def test_nan_input_raises(model: Detector) -> None:
    x = eeg()
    x[0, 4, 100] = float("nan")
    with pytest.raises(FloatingPointError, match="model input"):
        model(x)


def test_nan_activation_names_the_stage() -> None:
    model = make_model()
    with torch.no_grad():
        model.encoder.project.weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="TCN encoder output"):
        model(eeg())


def test_default_config_builds_and_runs_a_short_window() -> None:
    torch.manual_seed(0)
    model = Detector(DetectorConfig(), backend="torch").eval()
    with torch.no_grad():
        logits = model(eeg(n_samples=256))
    assert logits.shape == (1, 256)
    assert torch.isfinite(logits).all()
