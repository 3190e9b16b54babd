"""Cache fan-out: cost per recording and per hour of EEG, and the Modal containers TUSZ needs.

After a warm-up, builds a synthetic corpus three ways in this process, one core each:
  1. baseline: ``bgb_data.build_cache(workers=1)``;
  2. the fan-out steps run one after another (plan, ``build_recording`` per file, manifest),
     as the Modal app runs them spread over containers;
  3. the plan and manifest steps again on the finished cache (their cost when nothing is
     left to build).
Then estimates the wall time of the Modal build of all of TUSZ (about 1,470 h in about
7,400 files) for several container counts: the slowest container's share of the per-hour
cost, plus the two serial steps scaled by file count. Volume I/O and container start-up on
Modal are not measured here.

Run: ``uv run python benchmarks/bench_modal_fanout.py [--hours H]``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from bgb_data import (
    build_cache,
    build_recording,
    generate_corpus,
    plan_cache_build,
    write_manifest,
)

TUSZ_HOURS = 1470.0
TUSZ_FILES = 7400
TARGET_S = 300.0
CONTAINERS = (100, 300, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="synthetic EEG to build")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as scratch:
        root = Path(scratch) / "corpus"
        corpus = generate_corpus(root, hours=args.hours, seed=0, recording_minutes=(4.0, 8.0))
        n_files, hours = corpus.n_recordings, corpus.total_duration_s / 3600.0
        print(f"corpus: {n_files} recordings, {hours:.2f} h, rates 250/256/400/512 Hz")

        build_cache(root, Path(scratch) / "warm-up", limit_files=1)  # imports, filter design
        started = time.perf_counter()
        build_cache(root, Path(scratch) / "baseline", workers=1)
        baseline_s = time.perf_counter() - started

        cache = Path(scratch) / "fanout"
        started = time.perf_counter()
        plan = plan_cache_build(root, cache)
        plan_s = time.perf_counter() - started
        per_file: list[float] = []
        for rel in plan.pending:
            tick = time.perf_counter()
            build_recording(root, cache, rel)
            per_file.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        write_manifest(root, cache)
        manifest_s = time.perf_counter() - tick
        fanout_s = time.perf_counter() - started

        tick = time.perf_counter()
        replan = plan_cache_build(root, cache)
        write_manifest(root, cache)
        reuse_s = time.perf_counter() - tick
        assert not replan.pending

    build_s = sum(per_file)
    s_per_hour = build_s / hours
    serial_per_file = (plan_s + manifest_s) / n_files
    print(f"baseline build_cache(workers=1): {baseline_s:.1f} s ({baseline_s / hours:.1f} s per h)")
    print(
        f"fan-out steps in sequence:       {fanout_s:.1f} s ({fanout_s / baseline_s:.2f}x baseline)"
    )
    print(f"  build_recording: {build_s:.1f} s, {s_per_hour:.1f} s per hour of EEG, "
          f"slowest file {max(per_file):.1f} s")  # fmt: skip
    print(
        f"  plan {plan_s * 1e3:.0f} ms + manifest {manifest_s * 1e3:.0f} ms "
        f"({serial_per_file * 1e3:.1f} ms per file); on a built cache {reuse_s * 1e3:.0f} ms"
    )
    serial_s = serial_per_file * TUSZ_FILES
    print(f"TUSZ estimate ({TUSZ_HOURS:.0f} h, {TUSZ_FILES} files), one core per recording:")
    print(f"  serial steps (plan + manifest): {serial_s:.0f} s (local disk; a volume is slower)")
    for n in CONTAINERS:
        wall = TUSZ_HOURS * s_per_hour / n + serial_s
        print(f"  {n:5d} containers: about {wall:.0f} s wall")
    needed = math.ceil(TUSZ_HOURS * s_per_hour / max(1.0, TARGET_S - serial_s))
    print(f"  containers for {TARGET_S:.0f} s: about {needed}")


if __name__ == "__main__":
    main()
