"""``bgb-train`` under torchrun with gloo: two CPU processes train as one process does with the
same global batch, and only rank 0 writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner

from bgb_cli.config import load_config
from bgb_cli.main import cli
from bgb_cli.training import ensure_cache

pytestmark = pytest.mark.slow

TINY: dict[str, Any] = {
    "data": {"window_s": 4, "stride_s": 4, "workers": 1, "limit_files": 1},
    "model": {
        "preset": "small",
        "overrides": {
            "node_stream": {"chunk_size": 32},
            "edge_stream": {"stream": {"chunk_size": 32}},
        },
    },
    "training": {"epochs": 1, "batch_size": 2, "windows_per_epoch": 4, "learning_rate": 1e-3,
                 "device": "cpu", "progress": False, "seed": 3, "warmup_fraction": 0.0},
    "evaluation": {"inference_stride_s": 4, "n_thresholds": 4, "after_training": False},
}  # fmt: skip


def write_config(folder: Path, corpus: Path, cache: Path, name: str, float64: bool = False) -> Path:
    tree = yaml.safe_load(yaml.safe_dump(TINY))
    tree["data"].update(root=str(corpus), cache_dir=str(cache))
    tree["training"]["float64"] = float64
    tree["output"] = {"run_dir": str(folder / name)}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


# Tolerances on the weights after two AdamW steps at lr 1e-3. Adam divides each gradient
# element by its own magnitude, so a relative error r in one element of the gradient moves
# that weight by about lr * r per step, however small the element: the weights are as exact
# as the least exact gradient element, not as the gradient's norm. In float32 the atol of
# 1e-5 admits r up to 0.5 % (two steps); the differences measured are about 1.3e-6 (the
# summation order of two ranks against one batch, and the sync BatchNorm's statistics). In
# float64 the same rounding is 1e-9 times smaller (5.6e-15 measured), so 1e-11 leaves the same
# margin, while any real difference (a gradient averaged over the wrong count, unsynchronised
# statistics, another sample order) moves weights by a sizeable fraction of lr (1e-4 and more).
PRECISIONS = {
    "float32": {"float64": False, "rtol": 1e-4, "atol": 1e-5},
    "float64": {"float64": True, "rtol": 1e-9, "atol": 1e-11},
}


@pytest.mark.parametrize("precision", sorted(PRECISIONS))
def test_two_gloo_processes_match_one_process(tmp_path: Path, precision: str) -> None:
    from bgb_data import generate_corpus

    setting = PRECISIONS[precision]
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    generate_corpus(corpus, hours=0.2, seed=2, recording_minutes=(1.5, 2.0))
    single = write_config(tmp_path, corpus, cache, "single", bool(setting["float64"]))
    double = write_config(tmp_path, corpus, cache, "double", bool(setting["float64"]))
    ensure_cache(load_config(single, environ={}), progress=False)  # both runs reuse it

    result = CliRunner().invoke(cli, ["train", str(single)])
    assert result.exit_code == 0, result.output
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    script = Path(sys.executable).with_name("bgb-train")
    done = subprocess.run([*torchrun, str(script), str(double)], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.count("training done") == 1  # rank 0 reports, rank 1 is silent

    expected = torch.load(tmp_path / "single" / "last.pt", weights_only=True)
    got = torch.load(tmp_path / "double" / "last.pt", weights_only=True)
    assert got["step"] == expected["step"] == 2  # 4 windows, global batch 2
    assert expected["model"].keys() == got["model"].keys()  # no DDP "module." prefix
    for name, value in expected["model"].items():
        torch.testing.assert_close(
            got["model"][name], value, rtol=setting["rtol"], atol=setting["atol"], msg=name
        )
    loss_single = expected["history"][0]["train_loss"]
    loss_double = got["history"][0]["train_loss"]
    assert loss_double == pytest.approx(loss_single, rel=setting["rtol"])
    written = sorted(p.name for p in (tmp_path / "double").iterdir())
    assert written == ["best.pt", "last.pt", "metrics.csv", "tensorboard"]
