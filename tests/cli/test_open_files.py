"""`bgb train` (with dev evaluation and DataLoader workers) and `bgb detect` over a thousand
recordings, each in a process limited to 256 open files.

A descriptor kept per recording, per window read or per input file runs out long before
the end here, whichever code keeps it: the cache build, the training workers, dev and eval
inference, reports and plots, EDF reading, or detection's scratch files.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bgb_data import ELECTRODES, write_edf
from bgb_events import make_events, write_csv_bi

OPEN_FILE_LIMIT = 256
_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.stress,
    pytest.mark.skipif(
        sys.platform != "linux" or (_HARD != resource.RLIM_INFINITY and _HARD < OPEN_FILE_LIMIT),
        reason=f"needs Linux and a hard open-file limit of at least {OPEN_FILE_LIMIT}",
    ),
]

SFREQ_HZ = 256
RECORDING_S = 60  # one 60 s window: the shortest recording the cache and detect accept
SPLIT_SIZES = {"train": 740, "dev": 160, "eval": 100}  # recordings, two per patient
# The small preset narrower and strided 64x (8 s windows: 2,048 samples, 32 steps) so that
# CPU inference over hundreds of recordings takes seconds; what it opens is the same.
TINY_MODEL = (
    "model.overrides={tcn: {channels: [4, 4, 4, 4, 8, 8, 8, 8], strides: [2, 2, 2, 2, 2, 2, 1, 1]},"
    " node_stream: {d_model: 8, n_layers: 1, headdim: 4, d_state: 4},"
    " edge_stream: {pair_width: 4, stream: {d_model: 4, headdim: 4}}, head: {hidden: 8}}"
)
LIMITED_BGB = f"""
import resource, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, ({OPEN_FILE_LIMIT}, hard))
from bgb_cli.main import cli
cli.main(args=sys.argv[1:], prog_name="bgb")
"""


def bgb_limited(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``bgb ARGS`` in a fresh process allowed 256 open files (BGB_* variables unset).

    One intra-op thread: on a small shared machine torch's spinning OpenMP threads can make
    these runs several times slower without changing what they open.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGB_")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-c", LIMITED_BGB, *args],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip


def eeg_pool(n_signals: int, seed: int = 0) -> list[np.ndarray]:
    """A few distinct 60 s, 19-channel EEG-like signals (uV) to share among many files."""
    rng = np.random.default_rng(seed)
    n = RECORDING_S * SFREQ_HZ
    t = np.arange(n) / SFREQ_HZ
    pool = []
    for _ in range(n_signals):
        walk = np.cumsum(rng.standard_normal((len(ELECTRODES), n)), axis=1)
        walk -= walk.mean(axis=1, keepdims=True)
        alpha = 10.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6, (len(ELECTRODES), 1)))
        pool.append(walk + alpha + 5.0 * rng.standard_normal(walk.shape))
    return pool


EEG_LABELS = [f"EEG {e.upper()}-REF" for e in ELECTRODES]


@dataclass(frozen=True)
class Corpus:
    root: Path
    edfs: dict[str, list[Path]]
    """Split -> its EDF files."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """1,000 recordings of 60 s in TUSZ layout; every other one has a 20 s seizure."""
    root = tmp_path_factory.mktemp("many")
    pool = eeg_pool(8)
    edfs: dict[str, list[Path]] = {split: [] for split in SPLIT_SIZES}
    k = 0
    for split, n_recordings in SPLIT_SIZES.items():
        for i in range(n_recordings):
            patient = f"{split[:2]}{i // 2:06d}"
            folder = root / "edf" / split / patient / "s001_2010" / "01_tcp_ar"
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"{patient}_s001_t{i % 2:03d}"
            write_edf(folder / f"{stem}.edf", pool[k % len(pool)], EEG_LABELS, SFREQ_HZ)
            seizures = make_events([20.0], [40.0]) if k % 2 else make_events([], [])
            write_csv_bi(folder / f"{stem}.csv_bi", seizures, float(RECORDING_S))
            edfs[split].append(folder / f"{stem}.edf")
            k += 1
    return Corpus(root, edfs)


@dataclass(frozen=True)
class TrainedRun:
    process: subprocess.CompletedProcess[str]
    run_dir: Path
    cache_dir: Path


@pytest.fixture(scope="module")
def trained(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """`bgb train` under the limit: cache build in 2 processes, 2 DataLoader workers reading
    about 500 windows of ~400 recordings, dev evaluation, then the eval report."""
    tmp = tmp_path_factory.mktemp("run")
    config = tmp / "run.yaml"
    config.write_text("{}\n")
    sets = [
        f"data.root={corpus.root}", f"data.cache_dir={tmp / 'cache'}", "data.workers=2",
        "data.window_s=8", "data.stride_s=4", "model.preset=small", TINY_MODEL,
        "training.epochs=1", "training.batch_size=64", "training.max_steps_per_epoch=4",
        "training.num_workers=2", "training.learning_rate=1e-3", "training.device=cpu",
        "training.progress=false", "training.seed=0", "evaluation.inference_stride_s=8",
        "evaluation.batch_size=8", "evaluation.n_thresholds=8", "evaluation.max_plots=2",
        "evaluation.after_training=true", f"output.run_dir={tmp / 'run'}",
    ]  # fmt: skip
    args = ["train", str(config)]
    for item in sets:
        args += ["--set", item]
    return TrainedRun(bgb_limited(*args), tmp / "run", tmp / "cache")


def test_train_with_workers_and_dev_evaluation_under_256_files(trained: TrainedRun) -> None:
    done = trained.process
    assert done.returncode == 0, done.stderr[-4000:]
    manifest = json.loads((trained.cache_dir / "manifest.json").read_text())
    assert sum(r["status"] == "ok" for r in manifest["recordings"]) == sum(SPLIT_SIZES.values())
    assert (trained.run_dir / "best.pt").is_file()
    metrics = (trained.run_dir / "metrics.csv").read_text()
    assert "sensitivity_at_10fa" in metrics.splitlines()[0]  # dev evaluation ran
    report = json.loads((trained.run_dir / "eval" / "metrics.json").read_text())
    assert report["n_recordings"] == SPLIT_SIZES["eval"]


def test_detect_a_thousand_files_under_256_files(
    trained: TrainedRun, corpus: Corpus, tmp_path: Path
) -> None:
    # 1,000 inputs in one invocation: 260 detected, 300 rejected after preprocessing (five
    # flat electrodes), 200 too short and 240 not EDF at all (both rejected by the header
    # reader). Each path alone is taken often enough to exhaust the limit (the process
    # starts with about 6 open) if it kept one descriptor per file. Without plots, which take
    # half the time of a detected file here; test_plots_leave_no_file_open covers them.
    assert trained.process.returncode == 0, trained.process.stderr[-4000:]
    good = corpus.edfs["dev"] + corpus.edfs["eval"]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    flat, short, not_edf = [], [], []
    pool = eeg_pool(2, seed=1)
    for k in range(300):
        signals = pool[k % 2].copy()
        signals[:5] = 0.0
        flat.append(inputs / f"flat_{k:03d}.edf")
        write_edf(flat[-1], signals, EEG_LABELS, SFREQ_HZ)
    for k in range(200):
        short.append(inputs / f"short_{k:03d}.edf")
        write_edf(short[-1], pool[0][:, : 30 * SFREQ_HZ], EEG_LABELS, SFREQ_HZ)
    for k in range(240):
        not_edf.append(inputs / f"notes_{k:03d}.edf")
        not_edf[-1].write_text("not an EDF file\n")
    edfs = [*good, *flat, *short, *not_edf]
    assert len(edfs) == 1_000
    out = tmp_path / "detect"
    done = bgb_limited(
        "detect", *map(str, edfs), "--checkpoint", str(trained.run_dir / "best.pt"),
        "--out", str(out), "--device", "cpu", "--no-plot",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-4000:]  # 2: some inputs rejected, as designed
    assert "Too many open files" not in done.stdout + done.stderr
    rejected = {
        Path(line.split()[1].rstrip(":")).name
        for line in done.stderr.splitlines()
        if line.startswith("rejected ")
    }
    assert rejected == {p.name for p in (*flat, *short, *not_edf)}
    assert f"{len(rejected)} of 1000 files rejected" in done.stderr
    for edf in good:
        assert (out / f"{edf.stem}_detect.json").is_file(), edf
    assert not list(out.glob("*.png"))


def test_plots_leave_no_file_open(tmp_path: Path) -> None:
    """Forty probability plots, the way detect writes them, in this process: none of them
    leaves a descriptor open (counted in /proc/self/fd)."""
    from bgb.plots import plot_probability_trace

    probs = np.random.default_rng(0).random(RECORDING_S * SFREQ_HZ).astype(np.float32)
    events = make_events([20.0], [40.0])
    plot_probability_trace(tmp_path / "first.png", probs, SFREQ_HZ, events, smoothing_s=5.0)
    opened = len(os.listdir("/proc/self/fd"))  # after matplotlib's one-off loading
    for k in range(40):
        plot_probability_trace(
            tmp_path / f"{k}.png", probs, SFREQ_HZ, events, thresholds=(0.8, 0.7), smoothing_s=5.0
        )
    assert len(os.listdir("/proc/self/fd")) == opened
    assert len(list(tmp_path.glob("*.png"))) == 41
