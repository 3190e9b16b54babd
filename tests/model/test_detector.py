"""Detector end to end on the small config and short windows."""

from __future__ import annotations

import dataclasses

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
        (torch.randn(1, 19, 1000), "multiple of 16 samples"),
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


def model_with_graph(**graph: object) -> Detector:
    torch.manual_seed(0)
    small = DetectorConfig.small().to_dict()
    config = DetectorConfig.from_dict({**small, "graph": {**small["graph"], **graph}})
    return Detector(config, backend="torch")


@pytest.mark.parametrize(
    ("graph", "stages"),
    [
        ({"pe": "dynamic"}, ["encoder", "node_stream", "edge_stream", "gnn", "head"]),
        ({"pe": "static"}, ["encoder", "node_stream", "edge_stream", "gnn", "head"]),
        ({"pe": "none"}, ["encoder", "node_stream", "edge_stream", "gnn", "head"]),
        ({"enabled": False}, ["encoder", "node_stream", "head"]),
    ],
    ids=["dynamic", "static", "none", "no-graph"],
)
def test_graph_switches_build_train_and_count(graph: dict[str, object], stages: list[str]) -> None:
    model = model_with_graph(**graph).train()
    assert list(model.stages()) == stages
    model(eeg(batch=2)).square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert sum(model.parameter_count_by_stage().values()) == model.parameter_count()
    pe_k = DetectorConfig.small().graph.pe_k
    if model.gnn is not None:  # the graph layer reads node features plus the PE, if any
        width = model.config.node_stream.d_model
        assert model.gnn.lin.in_features == width + (0 if graph.get("pe") == "none" else pe_k)


def test_static_pe_is_the_same_at_every_step_and_dynamic_is_not() -> None:
    adjacency = torch.rand(2, 5, 19, 19)
    adjacency = (adjacency + adjacency.transpose(-1, -2)) * (1 - torch.eye(19))
    static = model_with_graph(pe="static")._positional_encoding(adjacency)
    dynamic = model_with_graph(pe="dynamic")._positional_encoding(adjacency)
    assert static is not None and dynamic is not None and static.shape == dynamic.shape
    assert torch.equal(static, static[:, :1].expand_as(static))
    assert not torch.allclose(dynamic, dynamic[:, :1].expand_as(dynamic))
    assert model_with_graph(pe="none")._positional_encoding(adjacency) is None


def test_stage_checks_read_back_once_per_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    from bgb_model import _checks

    calls: list[int] = []
    original = _checks.StageChecks.raise_first

    def counting(self: _checks.StageChecks) -> None:
        calls.append(len(self._counts))
        original(self)

    monkeypatch.setattr(_checks.StageChecks, "raise_first", counting)
    with torch.no_grad():
        make_model()(eeg())
    assert calls == [5]  # input, TCN, node stream, adjacency, graph stage: one read-back


def test_nan_adjacency_names_the_edge_stream() -> None:
    model = make_model()
    with torch.no_grad():
        model.edge_stream.to_weight.bias.fill_(float("nan"))  # type: ignore[union-attr]
    with pytest.raises(FloatingPointError, match="edge stream adjacency"):
        model(eeg())


def test_time_pooled_edge_stream_holds_each_graph_for_its_timesteps() -> None:
    config = DetectorConfig.small()
    pooled = dataclasses.replace(
        config, edge_stream=dataclasses.replace(config.edge_stream, time_pool=4)
    )
    torch.manual_seed(0)
    model = Detector(pooled, backend="torch").eval()
    adjacencies: list[torch.Tensor] = []
    inputs: list[torch.Tensor] = []
    assert model.gnn is not None and model.edge_stream is not None
    model.edge_stream.register_forward_hook(lambda _m, _i, out: adjacencies.append(out))
    model.gnn.register_forward_hook(lambda _m, args, _o: inputs.append(args[1]))
    with torch.no_grad():
        logits = model(eeg(batch=2, n_samples=4 * N_SAMPLES))  # T = 64 timesteps
    assert logits.shape == (2, 4 * N_SAMPLES)
    assert adjacencies[0].shape == (2, 16, 19, 19)  # one graph per 4 timesteps
    per_step = inputs[0].reshape(2, 64, 19, 19)  # what SSGConv saw at each timestep
    assert torch.equal(per_step, adjacencies[0].repeat_interleave(4, dim=1))
    with pytest.raises(ValueError, match=r"multiple of 64 samples .*time_pool 4"):
        model(eeg(n_samples=N_SAMPLES + 16))
