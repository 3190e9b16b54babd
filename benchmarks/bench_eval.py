"""Benchmarks of bgb-eval: the operating-point sweep and ``bgb score``.

Run: ``uv run python benchmarks/bench_eval.py``. Prints:

1. a sweep of 50 thresholds over 100 recordings of 1 h at 256 Hz (bursty synthetic traces),
   next to the naive loop (postprocess per recording per threshold, timed on a few
   thresholds and scaled to 50) and one ``np.count_nonzero(p >= 0.5)`` pass for scale;
2. ``bgb score`` over 865 recordings totalling 128 h with about 500 seizures, through
   ``uv run bgb score`` and ``.venv/bin/bgb score`` (process start included) and in-process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bgb_eval import config_at_threshold, score_folders, sweep_operating_points
from bgb_events import make_events, merge_overlapping, write_csv_bi
from bgb_post import PostprocessConfig, postprocess

ROOT = Path(__file__).resolve().parents[1]
SFREQ_HZ = 256.0


def synthetic_recording(rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, list]:
    """A bursty probability trace (float32) and its seizure intervals (seconds)."""
    n = int(duration_s * SFREQ_HZ)
    seconds = np.arange(n) / SFREQ_HZ
    background = rng.beta(0.6, 14.0, int(duration_s) + 2)  # one value per second, mean ~0.04
    trace = np.interp(seconds, np.arange(background.size), background).astype(np.float32)
    seizures = []
    for _ in range(rng.integers(0, 3)):
        start = rng.uniform(0, duration_s - 130)
        length = rng.uniform(20, 120)
        seizures.append((start, start + length))
    bursts = [(s, e, rng.uniform(0.7, 1.0)) for s, e in seizures]
    for _ in range(rng.poisson(12)):  # spurious bursts
        start = rng.uniform(0, duration_s - 40)
        bursts.append((start, start + rng.uniform(1, 30), rng.uniform(0.3, 0.98)))
    for start, stop, level in bursts:
        a, b = int(start * SFREQ_HZ), int(stop * SFREQ_HZ)
        noise = 0.08 * rng.standard_normal(b - a).astype(np.float32)
        trace[a:b] = np.clip(level + noise, 0.0, 1.0)
    seizures.sort()
    merged: list[tuple[float, float]] = []
    for start, stop in seizures:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return trace, merged


def bench_sweep() -> None:
    rng = np.random.default_rng(0)
    n_recordings, duration_s = 100, 3600.0
    traces, refs = [], []
    for _ in range(n_recordings):
        trace, seizures = synthetic_recording(rng, duration_s)
        traces.append(trace)
        refs.append(make_events([s for s, _ in seizures], [e for _, e in seizures]))
    durations = [duration_s] * n_recordings
    base = PostprocessConfig()
    thresholds = np.linspace(0.30, 0.99, 50)
    n_samples = sum(t.size for t in traces)
    print(
        f"sweep: {n_recordings} recordings, {n_samples / SFREQ_HZ / 3600:.0f} h at 256 Hz, "
        f"{sum(r.size for r in refs)} seizures, {thresholds.size} thresholds "
        f"{thresholds[0]:.2f}..{thresholds[-1]:.2f}"
    )

    t0 = time.perf_counter()
    for trace in traces:
        np.count_nonzero(trace >= 0.5)
    count_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = sweep_operating_points(traces, refs, durations, SFREQ_HZ, base, thresholds)
    sweep_s = time.perf_counter() - t0

    sample = thresholds[[0, 25, 49]]
    t0 = time.perf_counter()
    naive = [
        [postprocess(t, SFREQ_HZ, config_at_threshold(base, th)) for t in traces] for th in sample
    ]
    naive_s = (time.perf_counter() - t0) / sample.size * thresholds.size
    del naive

    print(f"  one count_nonzero(p >= 0.5) pass over all traces: {count_s:.3f} s")
    print(
        f"  sweep_operating_points (50 thresholds, OVLP scoring included): {sweep_s:.2f} s "
        "(target <= 5 s)"
    )
    print(f"  naive postprocess loop, scaled to 50 thresholds: {naive_s:.1f} s")
    for target, point in result.best.items():
        if point is None:
            print(f"  <= {target:g} FA/24h: no threshold")
        else:
            print(
                f"  <= {target:g} FA/24h: threshold {point.threshold:.3f}, sensitivity "
                f"{100 * (point.sensitivity or 0):.1f}%, {point.fa_per_24h:.2f} FA/24h"
            )


def write_score_folders(root: Path) -> tuple[Path, Path, int, float]:
    """865 recordings totalling 128 h with ~500 seizures, as ref/hyp .csv_bi folders."""
    rng = np.random.default_rng(1)
    n_recordings = 865
    durations = rng.lognormal(0.0, 0.8, n_recordings)
    durations = np.round(durations / durations.sum() * 128 * 3600.0, 2)
    seizure_counts = rng.multinomial(500, durations / durations.sum())
    ref_dir, hyp_dir = root / "ref", root / "hyp"
    n_seizures = 0
    for i, (duration, count) in enumerate(zip(durations, seizure_counts, strict=True)):
        sub = f"p{i % 40:03d}"
        (ref_dir / sub).mkdir(parents=True, exist_ok=True)
        (hyp_dir / sub).mkdir(parents=True, exist_ok=True)
        starts = np.sort(rng.uniform(0, max(duration - 60.0, 1.0), count))
        keep = np.concatenate(([True], np.diff(starts) > 60.0)) if count else starts > 0
        starts = starts[keep]
        stops = np.minimum(starts + rng.uniform(5, 55, starts.size), duration)
        n_seizures += starts.size
        detected = rng.random(starts.size) < 0.7
        jitter = rng.uniform(-5, 5, starts.size)
        hyp = [
            (max(0.0, s + j), min(duration, e + j))
            for s, e, j, d in zip(starts, stops, jitter, detected, strict=True)
            if d
        ]
        for _ in range(rng.poisson(duration / 7200.0)):
            s = rng.uniform(0, duration - 20)
            hyp.append((s, s + rng.uniform(3, 20)))
        hyp_events = make_events([h[0] for h in hyp], [h[1] for h in hyp])
        write_csv_bi(ref_dir / sub / f"r{i:04d}.csv_bi", make_events(starts, stops), duration)
        write_csv_bi(hyp_dir / sub / f"r{i:04d}.csv_bi", merge_overlapping(hyp_events), duration)
    return ref_dir, hyp_dir, n_seizures, float(durations.sum())


def bench_score() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ref_dir, hyp_dir, n_seizures, total_s = write_score_folders(Path(tmp))
        print(f"bgb score: 865 recordings, {total_s / 3600:.1f} h, {n_seizures} seizures")
        t0 = time.perf_counter()
        score_folders(ref_dir, hyp_dir)
        print(f"  score_folders in-process: {time.perf_counter() - t0:.2f} s")
        out = Path(tmp) / "scores.json"
        commands = {
            "uv run bgb score": ["uv", "run", "bgb", "score"],
            ".venv/bin/bgb score": [str(ROOT / ".venv" / "bin" / "bgb"), "score"],
        }
        for label, command in commands.items():
            t0 = time.perf_counter()
            subprocess.run(
                [*command, str(ref_dir), str(hyp_dir), "--json", str(out)],
                check=True,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            print(
                f"  {label} (process start included): {time.perf_counter() - t0:.2f} s "
                "(target <= 3 s)"
            )


if __name__ == "__main__":
    # numpy runs these elementwise passes on one core; nothing here starts threads.
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    bench_sweep()
    bench_score()
