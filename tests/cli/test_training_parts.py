"""Loss, optimiser groups, schedule, checkpoints and stitching, each on its own."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from bgb.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from bgb.inference import predict_recording
from bgb.plots import reduce_for_display
from bgb.training.losses import focal_loss
from bgb.training.optim import build_optimizer, lr_factor


def test_focal_loss_with_gamma_zero_is_weighted_cross_entropy() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    targets = torch.tensor([[1.0, 0.0, 0.0]])
    alpha = 0.3
    ce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    weights = torch.tensor([[alpha, 1 - alpha, 1 - alpha]])
    assert torch.allclose(focal_loss(logits, targets, alpha, 0.0), (weights * ce).mean())


def test_focal_loss_down_weights_easy_samples() -> None:
    easy = focal_loss(torch.tensor([[6.0]]), torch.tensor([[1.0]]), 0.5, 2.0)
    hard = focal_loss(torch.tensor([[-1.0]]), torch.tensor([[1.0]]), 0.5, 2.0)
    plain_easy = focal_loss(torch.tensor([[6.0]]), torch.tensor([[1.0]]), 0.5, 0.0)
    assert easy < plain_easy
    assert hard > 100 * easy


def test_no_decay_on_vectors() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    optimizer = build_optimizer(model, 1e-3, 0.1)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"])
    assert {p.ndim for p in plain["params"]} == {1}
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_schedule_warms_up_then_decays_to_the_floor() -> None:
    total, warmup, floor = 100, 10, 0.01
    factors = [lr_factor(s, total, warmup, floor) for s in range(total + 1)]
    assert factors[0] == pytest.approx(0.1)
    assert factors[warmup - 1] == pytest.approx(1.0)
    assert factors[warmup] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[warmup:], factors[warmup + 1 :], strict=False))
    assert factors[total] == pytest.approx(floor)
    assert factors[(warmup + total) // 2] == pytest.approx(floor + (1 - floor) / 2)


def test_checkpoint_round_trip_with_weights_only(tmp_path: Path) -> None:
    torch.manual_seed(0)
    random.seed(0)
    payload = {"config": {"a": 1}, "detector_config": {}, "model": nn.Linear(2, 2).state_dict(),
               "rng": capture_rng()}  # fmt: skip
    path = tmp_path / "x.pt"
    save_checkpoint(path, payload)
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]
    expected = (torch.rand(3), random.random())
    loaded = load_checkpoint(path)
    restore_rng(loaded["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1]


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"model": {}}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match="no 'config' entry"):
        load_checkpoint(tmp_path / "odd.pt")


class _Echo(nn.Module):
    """Logit = first channel, so that stitching can be checked exactly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, :]


@pytest.mark.parametrize("n_samples", [100, 1000, 1234, 40])
@pytest.mark.parametrize("stride_n", [50, 100])
def test_stitching_recovers_a_per_sample_signal(n_samples: int, stride_n: int) -> None:
    rng = np.random.default_rng(n_samples)
    logits = rng.normal(size=n_samples).astype(np.float32)
    signal = np.stack([logits] + [np.zeros_like(logits)] * 18)
    probs = predict_recording(
        _Echo(), signal, window_n=100, stride_n=stride_n, batch_size=3, device=torch.device("cpu")
    )
    assert probs.shape == (n_samples,)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), rtol=1e-6)


def test_display_reduction_keeps_peaks() -> None:
    probs = np.zeros(1_000_003, dtype=np.float32)
    probs[777_777] = 0.9
    shown = reduce_for_display(probs, 1000)
    assert len(shown) <= 1000
    assert math.isclose(float(shown.max()), 0.9, rel_tol=1e-6)


def test_report_figures_skip_the_curve_without_seizures(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from bgb.config import load_config
    from bgb.evaluation import RecordingPrediction, SplitSweep, _figures
    from bgb_events import EVENT_DTYPE

    point = SimpleNamespace(sensitivity=None, fa_per_24h=0.0, threshold=0.5)
    sweep = SplitSweep(result=SimpleNamespace(points=(point,)), targets=(10.0,))
    entry = SimpleNamespace(path="edf/eval/p/s/m/rec.edf")
    empty = np.zeros(0, dtype=EVENT_DTYPE)
    prediction = RecordingPrediction(entry, np.full(2560, 0.1, np.float32), empty, 10.0)
    config = load_config(None, ["evaluation.max_plots=1"])
    names = _figures([prediction], [empty], sweep, [], config, tmp_path)
    assert names == ["recordings/rec.png"]
    assert (tmp_path / "recordings" / "rec.png").is_file()


def test_early_stopping_breaks_ties_by_the_stricter_targets() -> None:
    from bgb.training.trainer import selection_key

    def dev(at10: float | None, at5: float | None, at1: float | None) -> dict[str, Any]:
        return {"sensitivity_at_10fa": at10, "sensitivity_at_5fa": at5,
                "sensitivity_at_2.5fa": at5, "sensitivity_at_1fa": at1}  # fmt: skip

    targets = (10.0, 5.0, 2.5, 1.0)
    early, late = dev(1.0, 0.9, None), dev(1.0, 1.0, 0.95)
    assert selection_key(late, 10.0, targets) > selection_key(early, 10.0, targets)
    # the watched target still comes first: no stricter figure outweighs it
    assert selection_key(dev(0.95, 1.0, 1.0), 10.0, targets) < selection_key(early, 10.0, targets)
    assert selection_key(dev(None, None, None), 10.0, targets) == (-1.0, -1.0, -1.0, -1.0)


def test_selection_by_pr_auc_puts_it_before_the_sensitivities() -> None:
    from bgb.training.trainer import selection_key

    targets = (10.0, 5.0)
    lucky = {"sensitivity_at_10fa": 0.9, "sensitivity_at_5fa": 0.8, "dev_pr_auc": 0.93}
    wider = {"sensitivity_at_10fa": 0.8, "sensitivity_at_5fa": 0.8, "dev_pr_auc": 0.95}
    assert selection_key(lucky, 10.0, targets) > selection_key(wider, 10.0, targets)
    assert selection_key(lucky, 10.0, targets, "pr_auc") < selection_key(
        wider, 10.0, targets, "pr_auc"
    )
    tie = {**wider, "sensitivity_at_10fa": 0.85}
    assert selection_key(tie, 10.0, targets, "pr_auc") > selection_key(
        wider, 10.0, targets, "pr_auc"
    )
    assert selection_key({}, 10.0, targets, "pr_auc") == (-1.0, -1.0, -1.0)


def test_epoch_position_skips_to_a_step_without_reading_the_batches_before() -> None:
    from bgb.training.data import EpochPosition, EpochSampler

    base = EpochSampler(n_items=40, n_per_epoch=30, seed=7)
    position = EpochPosition(base, batch_size=4, steps_per_epoch=5)  # 20 of the 30 drawn
    position.set_position(epoch=2, step_in_epoch=0)
    whole = list(position)
    base.set_epoch(2)
    assert whole == list(base)[:20] and len(position) == 20
    position.set_position(epoch=2, step_in_epoch=3)
    assert list(position) == whole[12:] and len(position) == 8
    position.set_position(epoch=2, step_in_epoch=5)
    assert list(position) == [] and len(position) == 0
    with pytest.raises(ValueError, match="outside"):
        position.set_position(epoch=2, step_in_epoch=6)
