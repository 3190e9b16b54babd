"""BiMamba2 and BiMambaStack: both directions equal the recurrence; block structure and shapes."""

from __future__ import annotations

import pytest
import torch

from bgb_model import BiMamba2, BiMambaStack, StreamConfig, bimamba
from bgb_model._mamba_reference import mamba2_step_by_step

F64 = torch.float64


@pytest.mark.parametrize(("length", "chunk_size"), [(24, 8), (27, 8), (11, 64)])
def test_bidirectional_layer_equals_recurrence_both_ways(length: int, chunk_size: int) -> None:
    torch.manual_seed(length)
    layer = BiMamba2(8, d_state=4, headdim=4, chunk_size=chunk_size, backend="torch").double()
    with torch.no_grad():  # the two directions must differ for a mix-up to show
        layer.bwd.D.uniform_(-1, 1)
    u = torch.randn(2, length, 8, dtype=F64)
    forwards = mamba2_step_by_step(layer.fwd, u)
    backwards = mamba2_step_by_step(layer.bwd, u.flip(1)).flip(1)
    torch.testing.assert_close(layer(u), forwards + backwards, rtol=1e-10, atol=1e-10)


def test_bidirectional_layer_sees_the_future() -> None:
    torch.manual_seed(0)
    layer = BiMamba2(8, d_state=4, headdim=4, chunk_size=8, backend="torch").double()
    u = torch.randn(1, 20, 8, dtype=F64)
    changed = u.clone()
    changed[:, 15:] += 1.0
    assert not torch.allclose(layer(changed)[:, :15], layer(u)[:, :15])


def test_directions_have_their_own_weights() -> None:
    layer = BiMamba2(8, d_state=4, headdim=4, backend="torch")
    assert layer.fwd.in_proj.weight.data_ptr() != layer.bwd.in_proj.weight.data_ptr()
    assert not torch.equal(layer.fwd.in_proj.weight, layer.bwd.in_proj.weight)


def test_stack_is_pre_norm_residual_blocks_then_final_norm() -> None:
    torch.manual_seed(1)
    stack = BiMambaStack(8, n_layers=2, d_state=4, headdim=4, chunk_size=8, backend="torch")
    stack = stack.double()
    u = torch.randn(2, 19, 8, dtype=F64)
    x = u
    for block in stack.layers:
        mixer = block.mixer
        normed = block.norm(x)
        x = (
            x
            + mamba2_step_by_step(mixer.fwd, normed)
            + mamba2_step_by_step(mixer.bwd, normed.flip(1)).flip(1)
        )
    expected = stack.norm_f(x)
    torch.testing.assert_close(stack(u), expected, rtol=1e-10, atol=1e-10)


def test_stack_parameters_all_receive_gradients() -> None:
    torch.manual_seed(2)
    stack = BiMambaStack(16, n_layers=2, d_state=8, headdim=4, dropout=0.1, backend="torch")
    x = torch.randn(3, 40, 16, requires_grad=True)
    out = stack(x)
    assert out.shape == (3, 40, 16)
    (out * torch.randn_like(out)).sum().backward()
    for name, param in stack.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_stack_state_dict_uses_mamba_ssm_names_inside() -> None:
    stack = BiMambaStack(16, n_layers=1, d_state=8, headdim=4, backend="torch")
    keys = set(stack.state_dict())
    for direction in ("fwd", "bwd"):
        for name in (
            "in_proj.weight",
            "conv1d.weight",
            "conv1d.bias",
            "dt_bias",
            "A_log",
            "D",
            "norm.weight",
            "out_proj.weight",
        ):
            assert f"layers.0.mixer.{direction}.{name}" in keys
    assert {"layers.0.norm.weight", "norm_f.weight"} <= keys


@pytest.mark.parametrize(
    ("kwargs", "message"), [(dict(n_layers=0), "n_layers"), (dict(dropout=1.0), "dropout")]
)
def test_stack_bad_configuration_raises(kwargs: dict[str, object], message: str) -> None:
    sizes: dict[str, object] = dict(d_model=8, n_layers=1, d_state=4, headdim=4, backend="torch")
    sizes.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BiMambaStack(**sizes)  # type: ignore[arg-type]


def test_from_config_takes_every_size_of_the_config() -> None:
    config = StreamConfig(
        d_model=12, n_layers=3, d_state=5, headdim=6, d_conv=3, expand=3, chunk_size=40,
        torch_chunk_size=7, dropout=0.25,
    )  # fmt: skip
    stack = BiMambaStack.from_config(config, backend="torch")
    assert len(stack.layers) == config.n_layers
    assert stack.norm_f.normalized_shape == (config.d_model,)
    for block in stack.layers:
        assert block.dropout.p == config.dropout
        for layer in (block.mixer.fwd, block.mixer.bwd):
            assert layer.backend == "torch"
            assert (layer.d_model, layer.d_state, layer.headdim, layer.d_conv, layer.expand) == (
                config.d_model, config.d_state, config.headdim, config.d_conv, config.expand
            )  # fmt: skip
            assert layer.chunk_size == config.chunk_size
            assert layer.torch_chunk_size == config.torch_chunk_size


@pytest.mark.parametrize("per_piece", [1, 2, 4, 7])
def test_stack_without_gradients_runs_in_pieces_with_the_same_output(
    per_piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(per_piece)
    stack = BiMambaStack(8, n_layers=2, d_state=4, headdim=4, chunk_size=8, backend="torch")
    stack = stack.double()
    u = torch.randn(7, 19, 8, dtype=F64)
    whole = stack(u)  # gradients recorded: one piece
    width = stack.in_proj_width
    monkeypatch.setattr(bimamba, "INFERENCE_PIECE_ELEMENTS", per_piece * 19 * width)
    assert stack.sequences_per_piece(19) == per_piece
    with torch.no_grad():
        pieces = stack(u)
    torch.testing.assert_close(pieces, whole.detach(), rtol=1e-12, atol=1e-12)


def test_stack_pieces_hold_the_widest_temporary_within_the_limit() -> None:
    stack = BiMambaStack(16, n_layers=1, d_state=8, headdim=4, backend="torch")
    width = stack.in_proj_width  # z, x, B, C, dt: 32 + 32 + 16 + 8
    assert width == 88
    per_piece = stack.sequences_per_piece(960)
    assert per_piece * 960 * width <= bimamba.INFERENCE_PIECE_ELEMENTS
    assert (per_piece + 1) * 960 * width > bimamba.INFERENCE_PIECE_ELEMENTS
    assert stack.sequences_per_piece(10**9) == 1  # at least one sequence, however long
