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

from bgb.config import load_config
from bgb.corpus import ensure_cache
from bgb_cli.main import cli

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


def write_config(
    folder: Path, corpus: Path, cache: Path, name: str, setting: dict[str, Any]
) -> Path:
    tree = yaml.safe_load(yaml.safe_dump(TINY))
    tree["data"].update(root=str(corpus), cache_dir=str(cache))
    tree["training"].update(float64=setting["float64"], windows_per_epoch=setting["windows"])
    tree["output"] = {"run_dir": str(folder / name)}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


# What is compared, and how closely, follows from how rounding propagates.
#
# Adam divides each gradient element by its own running magnitude, and for an element whose
# gradient is near Adam's eps (1e-8) the update lr * g / (|g| + eps) is ill-conditioned: its
# derivative is lr / (4 eps) at |g| = eps, so a gradient error dg moves that weight by up to
# lr * dg / (4 eps). In float32, dg is float rounding of the gradient (about 1e-6 of its
# largest element, ~1e-9 here), which can move such a weight by 1e-5 or more: one element of
# 1,344 did, by 3.3e-5, while all others agreed to 5e-7. Elementwise weights are therefore
# compared only in float64, where dg ~ 1e-19 bounds that move by 1e-14 (5.6e-15 measured over
# two steps): atol 1e-11 is met with room, and any real difference (a gradient averaged over
# the wrong count, unsynchronised BatchNorm statistics, another sample order) moves weights by
# a good fraction of lr = 1e-3.
#
# In float32 the well-conditioned quantities are compared after one step: Adam's first and
# second moments, i.e. the gradient and its square, per tensor relative to the tensor's
# largest entry (rounding bounds are normwise). Float32 rounding of this network's gradient,
# one batch against two ranks, measured 5e-6 (first moment) and 1e-5 (second); the 1e-4 bound
# leaves 10x, while the sync BatchNorm's former one-pass variance (a real error) gave 7e-4.
PRECISIONS: dict[str, dict[str, Any]] = {
    "float32": {"float64": False, "windows": 2, "steps": 1, "loss_rtol": 1e-5,
                "moments_rtol": 1e-4, "weights_atol": None},
    "float64": {"float64": True, "windows": 4, "steps": 2, "loss_rtol": 1e-9,
                "moments_rtol": 1e-9, "weights_atol": 1e-11},
}  # fmt: skip


@pytest.mark.parametrize("precision", sorted(PRECISIONS))
def test_two_gloo_processes_match_one_process(tmp_path: Path, precision: str) -> None:
    from bgb_data import generate_corpus

    setting = PRECISIONS[precision]
    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    generate_corpus(corpus, hours=0.2, seed=2, recording_minutes=(1.5, 2.0))
    single = write_config(tmp_path, corpus, cache, "single", setting)
    double = write_config(tmp_path, corpus, cache, "double", setting)
    ensure_cache(load_config(single), progress=False)  # both runs reuse it

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
    assert got["step"] == expected["step"] == setting["steps"]  # global batch 2
    assert expected["model"].keys() == got["model"].keys()  # no DDP "module." prefix
    loss_single = expected["history"][0]["train_loss"]
    loss_double = got["history"][0]["train_loss"]
    assert loss_double == pytest.approx(loss_single, rel=setting["loss_rtol"])
    moments_single = expected["optimizer"]["state"]
    moments_double = got["optimizer"]["state"]
    assert moments_single.keys() == moments_double.keys()
    for index, state in moments_single.items():
        for key in ("exp_avg", "exp_avg_sq"):
            scale = state[key].abs().max().item()
            difference = (moments_double[index][key] - state[key]).abs().max().item()
            assert difference <= setting["moments_rtol"] * scale, (index, key)
    if setting["weights_atol"] is not None:
        for name, value in expected["model"].items():
            torch.testing.assert_close(
                got["model"][name], value, rtol=0, atol=setting["weights_atol"], msg=name
            )
    written = sorted(p.name for p in (tmp_path / "double").iterdir())
    assert written == ["best.pt", "last.pt", "metrics.csv", "tensorboard"]


def test_nan_on_one_rank_ends_both_ranks_with_its_message(tmp_path: Path) -> None:
    import time

    import numpy as np

    from bgb.training.data import make_sampler
    from bgb_data import WindowDataset, generate_corpus

    corpus, cache = tmp_path / "corpus", tmp_path / "cache"
    generate_corpus(corpus, hours=0.2, seed=2, recording_minutes=(1.5, 2.0))
    setting = {"float64": False, "windows": 4}
    path = write_config(tmp_path, corpus, cache, "nan", setting)
    config = load_config(path)
    ensure_cache(config, progress=False)
    # poison the window rank 1 reads first (draw position 1), and only that one: with the
    # window as stride, windows do not overlap, so rank 0's first window stays clean
    windows = WindowDataset(cache, "train", window_s=4, stride_s=4)
    sampler = make_sampler(config, windows)
    sampler.set_epoch(0)
    drawn = list(sampler)
    assert drawn[0] != drawn[1]
    recording, start = (int(v) for v in windows.index[drawn[1]])
    entry = windows.recordings[recording]
    signal = np.load(cache / str(entry.signal_file), mmap_mode="r+")
    signal[:, start : start + windows.window_n] = np.nan
    signal.flush()
    del signal, windows

    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    script = Path(sys.executable).with_name("bgb-train")
    started = time.monotonic()
    done = subprocess.run([*torchrun, str(script), str(path)], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    # rank 1 stops on its input before any collective; rank 0, waiting in the synchronised
    # BatchNorm's all-reduce, is ended by rank 1's failure report, with its message, long
    # before the collective timeout
    message = "rank 0 stops because rank 1: NonFiniteLossError: non-finite values in the input"
    assert message in done.stderr, done.stderr[-3000:]
    assert elapsed < 120, elapsed
    dump = torch.load(tmp_path / "nan" / "nonfinite_batch_rank1.pt", weights_only=True)
    assert dump["rank"] == 1 and str(entry.path) in dump["windows"][0]
