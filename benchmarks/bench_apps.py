"""Benchmarks of the apps: `bgb detect` time and peak memory, and training throughput.

    uv run python benchmarks/bench_apps.py [--long-hours 24] [--skip-long] [--skip-default]

1. `bgb detect` on a 1 h, 19-of-23-channel, 250 Hz EDF with the default (full-sized) model
   on the CPU: wall time and peak resident memory of the process (benchmarks/bench_cpu.py
   measures the same beside 60 forward passes, its target).
2. Peak memory of `bgb detect` on 1 h and on a long recording (default 24 h) with the small
   model: memory should stay flat as the recording grows. Both runs use `--stride 60` (no
   window overlap), which halves the time and does not change what memory holds.
3. Training throughput (windows/s): forward + backward + AdamW step on batches of sixty-second
   windows, for the demo's model (configs/demo.yaml: small preset, TCN stride 64, batch 4)
   and for the small preset at the original design's stride 16 (batch 8).
Each detect run is a fresh subprocess so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bgb.checkpoint import save_checkpoint
from bgb.config import RunConfig, load_config
from bgb_data import ELECTRODES, write_edf
from bgb_model import Detector, DetectorConfig

REPO = Path(__file__).resolve().parents[1]
SFREQ_IN_HZ = 250
FAST = ("--stride", "60")
EXTRA = ("EKG1", "PHOTIC", "A1", "A2")


def write_recording(path: Path, hours: float, seed: int = 0) -> None:
    """Background-like noise in a plain EDF; longer files repeat a 1 h block of records."""
    rng = np.random.default_rng(seed)
    n = int(min(hours, 1.0) * 3600 * SFREQ_IN_HZ)
    labels = [f"EEG {name.upper()}-REF" for name in ELECTRODES] + [f"{e}-REF" for e in EXTRA]
    white = rng.normal(size=(len(labels), n)).astype(np.float32)
    signals = np.cumsum(white, axis=1) * 0.2  # brown noise
    signals -= signals.mean(axis=1, keepdims=True)
    signals += 20 * rng.normal(size=signals.shape).astype(np.float32)
    write_edf(path, signals, labels, SFREQ_IN_HZ, physical_max_uv=3000.0, edf_plus=False)
    if hours > 1.0:
        _repeat_records(path, round(hours))


def _repeat_records(path: Path, times: int) -> None:
    raw = path.read_bytes()
    header_bytes = int(raw[184:192].decode().strip())
    n_records = int(raw[236:244].decode().strip())
    header = bytearray(raw[:header_bytes])
    header[236:244] = f"{n_records * times:<8d}".encode()
    body = raw[header_bytes:]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        handle.write(header)
        for _ in range(times):
            handle.write(body)
    tmp.replace(path)


def write_checkpoint(path: Path, preset: str) -> None:
    config = RunConfig.model_validate({"model": {"preset": preset}})
    detector_config = config.detector_config()
    torch.manual_seed(0)
    model = Detector(detector_config)
    save_checkpoint(path, {"config": config.model_dump(mode="json"),
                           "detector_config": detector_config.to_dict(),
                           "model": model.state_dict(), "epoch": 0})  # fmt: skip


def run_detect(edf: Path, checkpoint: Path, out: Path, *extra: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one `bgb detect` process."""
    code = (
        "import resource, sys, time; from bgb_cli.main import cli; t = time.perf_counter();\n"
        "try:\n    cli.main(args=sys.argv[1:], standalone_mode=False)\n"
        "finally:\n    print('WALL', time.perf_counter() - t,"
        " 'RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    args = [sys.executable, "-c", code, "detect", str(edf), "--checkpoint", str(checkpoint),
            "--out", str(out), "--device", "cpu", *extra]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    fields = done.stdout.split()
    wall = float(fields[fields.index("WALL") + 1])
    rss_gb = int(fields[fields.index("RSS") + 1]) / 1024**2
    return wall, rss_gb


def training_throughput(config: DetectorConfig, batch: int, steps: int = 5) -> float:
    torch.manual_seed(0)
    model = Detector(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 19, 15360)
    y = (torch.rand(batch, 15360) > 0.5).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-hours", type=int, default=24)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-default", action="store_true", help="no 1 h default-model run")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}, cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        write_recording(tmp / "one_hour.edf", 1.0)
        write_checkpoint(tmp / "default.pt", "default")
        write_checkpoint(tmp / "small.pt", "small")
        if not args.skip_default:
            wall, rss = run_detect(tmp / "one_hour.edf", tmp / "default.pt", tmp / "out")
            print(f"detect 1 h, default model: {wall:.1f} s wall, peak RSS {rss:.2f} GB "
                  "(benchmarks/bench_cpu.py sets it beside 60 forward passes)")  # fmt: skip
        wall, rss_1h = run_detect(tmp / "one_hour.edf", tmp / "small.pt", tmp / "out", *FAST)
        print(f"detect 1 h, small model, --stride 60: {wall:.1f} s wall, peak RSS {rss_1h:.2f} GB")
        if not args.skip_long:
            long_edf = tmp / "long.edf"
            write_recording(long_edf, float(args.long_hours))
            wall, rss_long = run_detect(long_edf, tmp / "small.pt", tmp / "out", *FAST)
            ratio = rss_long / rss_1h
            print(f"detect {args.long_hours} h, small model, --stride 60: {wall:.1f} s wall, "
                  f"peak RSS {rss_long:.2f} GB ({ratio:.2f}x the 1 h figure)")  # fmt: skip
    demo = load_config(REPO / "configs" / "demo.yaml")
    rate = training_throughput(demo.detector_config(), demo.training.batch_size)
    print(f"training throughput, demo model: {rate:.1f} windows/s (batch "
          f"{demo.training.batch_size} x 60 s, forward + backward + AdamW step)")  # fmt: skip
    rate = training_throughput(DetectorConfig.small(), 8)
    print(f"training throughput, small preset (stride 16): {rate:.1f} windows/s (batch 8)")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak RSS of this process: {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
