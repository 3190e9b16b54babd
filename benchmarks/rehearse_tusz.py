"""A TUSZ-shaped rehearsal of the main job, in miniature, on this machine.

Run: ``uv run python benchmarks/rehearse_tusz.py [--recordings 1500] [--out runs/rehearsal]``.

What it does, each stage a separate process started under ``ulimit -n 1024`` (the soft limit
of open files many Linux machines have), with the process tree sampled every 0.2 s:

1. **synth**: a synthetic corpus in TUSZ layout of ``--recordings`` recordings of 1.5-3 minutes
   (the generator's shortest is 90 s)
   over train/dev/eval, at TUSZ's four sampling rates, about three in ten recordings holding
   seizures (an assumed TUSZ-like share; the generator's patients fix the split sizes).
2. **cache**: ``bgb cache build`` with two workers.
3. **train**: ``bgb train`` of the small model for one epoch of ``--windows`` windows with two
   DataLoader workers, including its dev evaluation at the end of the epoch.
4. with ``--full``, **evaluate dev**: ``bgb evaluate --split dev`` of the checkpoint (report
   with whole-split rows), and **detect eval**: ``bgb detect`` over every eval EDF in one
   invocation.

It prints a Markdown table: wall time per stage, peak resident memory of the stage's process
tree (sum over its processes at the sampled peak), and peak open file descriptors of the
tree. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

OPEN_FILES_LIMIT = 1024
BIN = Path(sys.executable).parent


@dataclass
class StageResult:
    name: str
    seconds: float
    peak_rss_mib: float
    peak_open_files: int
    returncode: int


class TreeSampler:
    """Samples a process and its descendants: summed RSS and summed open descriptors."""

    def __init__(self, pid: int, period_s: float = 0.2) -> None:
        self.pid = pid
        self.period_s = period_s
        self.peak_rss_kib = 0
        self.peak_fds = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.period_s):
            pids = _descendants(self.pid)
            self.peak_rss_kib = max(self.peak_rss_kib, sum(_rss_kib(p) for p in pids))
            self.peak_fds = max(self.peak_fds, sum(_fd_count(p) for p in pids))


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def _limit_open_files() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, hard))


def run_stage(name: str, command: list[str], log_dir: Path) -> StageResult:
    """Run ``command`` under the open-files limit, sampling its process tree."""
    log = log_dir / f"{name.replace(' ', '_')}.log"
    print(f"[{name}] {' '.join(command)}", flush=True)
    started = time.perf_counter()
    with open(log, "w") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=_limit_open_files
        )
        with TreeSampler(process.pid) as sampler:
            returncode = process.wait()
    result = StageResult(
        name,
        time.perf_counter() - started,
        sampler.peak_rss_kib / 1024,
        sampler.peak_fds,
        returncode,
    )
    print(f"[{name}] {result}", flush=True)
    if returncode != 0:
        print(log.read_text()[-3000:], file=sys.stderr)
    return result


SYNTH = """
import sys
from bgb_data import generate_corpus
summary = generate_corpus(sys.argv[1], hours=float(sys.argv[2]), seed=int(sys.argv[3]),
                          recording_minutes=(1.5, 3.0), no_seizure_share=0.7)
print(summary)
"""


def write_config(out: Path, windows: int) -> Path:
    config = f"""
data:
  root: {out / "corpus"}
  cache_dir: {out / "cache"}
  workers: 2
model:
  preset: small
  overrides:
    tcn:
      strides: [2, 2, 2, 2, 2, 2, 1, 1]
training:
  epochs: 1
  batch_size: 4
  learning_rate: 3.0e-3
  windows_per_epoch: {windows}
  num_workers: 2
  device: cpu
  progress: false
evaluation:
  inference_stride_s: 60.0
  after_training: false
output:
  run_dir: {out / "run"}
"""
    path = out / "rehearsal.yaml"
    path.write_text(config)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=1500)
    parser.add_argument("--windows", type=int, default=256, help="training windows (one epoch)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path("runs/rehearsal"))
    parser.add_argument("--full", action="store_true", help="also evaluate dev and detect eval")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    hours = args.recordings * 2.25 / 60  # 1.5-3 min recordings: 2.25 min on average
    config = write_config(out, args.windows)
    bgb = str(BIN / "bgb")
    best = str(out / "run" / "best.pt")
    cache = [bgb, "cache", "build", "--data-root", str(out / "corpus"), "--out", str(out / "cache"),
             "--workers", "2"]  # fmt: skip
    evaluate = [bgb, "evaluate", "--checkpoint", best, "--config", str(config), "--split", "dev",
                "--out", str(out / "eval-dev")]  # fmt: skip
    stages = [
        ("synth", [sys.executable, "-c", SYNTH, str(out / "corpus"), f"{hours}", f"{args.seed}"]),
        ("cache", cache),
        ("train", [bgb, "train", str(config)]),
    ]
    if args.full:
        stages.append(("evaluate dev", evaluate))
    results: list[StageResult] = []
    for name, command in stages:
        results.append(run_stage(name, command, out))
        if results[-1].returncode != 0:
            return 1
    if args.full:
        edfs = sorted(str(p) for p in (out / "corpus" / "edf" / "eval").rglob("*.edf"))
        detect = [bgb, "detect", *edfs, "--checkpoint", best, "--out", str(out / "detect")]
        results.append(run_stage("detect eval", detect, out))
    manifest = json.loads((out / "cache" / "manifest.json").read_text())
    splits: dict[str, int] = {}
    for entry in manifest["recordings"]:
        splits[entry["split"]] = splits.get(entry["split"], 0) + 1
    print(f"\nrecordings per split: {splits}; open-files limit {OPEN_FILES_LIMIT}\n")
    print("| stage | wall time | peak RSS (process tree) | peak open files | exit |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r.name} | {r.seconds:.0f} s | {r.peak_rss_mib:.0f} MiB | "
              f"{r.peak_open_files} | {r.returncode} |")  # fmt: skip
    return 0 if all(r.returncode == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
