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


def write_config(folder: Path, corpus: Path, cache: Path, name: str) -> Path:
    tree = yaml.safe_load(yaml.safe_dump(TINY))
    tree["data"].update(root=str(corpus), cache_dir=str(cache))
    tree["output"] = {"run_dir": str(folder / name)}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    from bgb_data import generate_corpus

    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    generate_corpus(corpus, hours=0.2, seed=2, recording_minutes=(1.5, 2.0))
    single = write_config(tmp_path, corpus, cache, "single")
    double = write_config(tmp_path, corpus, cache, "double")
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
        torch.testing.assert_close(got["model"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    loss_single = expected["history"][0]["train_loss"]
    loss_double = got["history"][0]["train_loss"]
    assert loss_double == pytest.approx(loss_single, rel=1e-4)
    written = sorted(p.name for p in (tmp_path / "double").iterdir())
    assert written == ["best.pt", "last.pt", "metrics.csv", "tensorboard"]
