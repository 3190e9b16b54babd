"""Small parts of the evaluation harness: the sweep's thresholds, checkpoint kinds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bgb.checkpoint import load_checkpoint, save_checkpoint
from bgb.evaluation import sweep_thresholds


def test_sweep_thresholds_cover_the_saturated_tail() -> None:
    grid = sweep_thresholds(50)
    assert np.all(np.diff(grid) > 0) and grid[0] > 0 and grid[-1] < 1
    np.testing.assert_allclose(grid[:50], (np.arange(50) + 0.5) / 50)  # the even grid stays
    assert grid[-1] == 0.9999 and (grid > 0.99).sum() == 6


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"kind": "feature_baseline", "config": {}, "booster": "x"}, "no 'features' entry"),
        ({"config": {}, "model": {}}, "no 'detector_config' entry"),
        ({"kind": "svm", "config": {}}, "unknown kind 'svm'"),
    ],
)
def test_each_checkpoint_kind_names_what_it_misses(
    payload: dict[str, object], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.pt"
    save_checkpoint(path, payload)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path)


def test_a_baseline_checkpoint_loads_without_detector_entries(tmp_path: Path) -> None:
    path = tmp_path / "b.pt"
    payload = {"kind": "feature_baseline", "config": {}, "booster": "x", "features": {}}
    save_checkpoint(path, payload)
    assert load_checkpoint(path) == payload
    assert torch.load(path, weights_only=True)["kind"] == "feature_baseline"
