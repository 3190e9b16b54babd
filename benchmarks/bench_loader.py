"""Window read rate from the cache, plain and through torch's DataLoader, against GPU need.

Run: ``uv run python benchmarks/bench_loader.py [--windows N]``. Prints Markdown; takes
about four minutes on two cores, most of it writing and caching the synthetic corpora.

Two synthetic caches are built with bgb_data's own API (``generate_corpus`` +
``build_cache``, train split, 256 Hz):

- few long recordings (10-20 min): every recording stays open;
- at least 1,000 recordings of 96-102 s: more than a process keeps open, so a random order
  evicts on nearly every read, as on TUSZ (~3,700 training recordings).

Each row draws epochs of ``BalancedSampler`` indices (half the windows with seizure,
shuffled; 60 s windows, 10 s stride) and reports the best of two timed epochs after an
untimed one (which starts persistent workers and maps what it touches). "ds[i]" rows read
in a plain loop in this process; the others go through ``DataLoader`` in batches of 48
(configs/modal/train.yaml) with 0, 2 or 8 workers, persistent, ``prefetch_factor`` 4, as
the trainer sets them. The page cache is warm (the caches were just written). Open set
"all" passes ``max_open_recordings`` >= the recordings: nothing is evicted, which is what
WindowDataset did before it had a bound (every recording touched stayed mapped, with its
two descriptors, for the life of the process).

``pin_memory`` (batches copied into page-locked memory for faster host-to-GPU transfer) is
measured on and off where CUDA is present; elsewhere torch ignores it, so it is not run.

The GPU side is an ESTIMATE, not a measurement: the default model's forward pass is 25.2
GFLOP per 60 s window (torch ``FlopCounterMode``, benchmarks/bench_model.py), a training
step about three times that, and an A100 is assumed to sustain 15-75 TFLOP/s on this model
(5-25 % of its 312 TFLOP/s bf16 dense peak; narrow layers, depthwise convolutions and
selective scans keep it far from peak).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from bgb_data import (
    DEFAULT_MAX_OPEN_RECORDINGS,
    BalancedSampler,
    Manifest,
    WindowDataset,
    build_cache,
    generate_corpus,
)

BATCH_SIZE = 48
PREFETCH_FACTOR = 4
WORKER_COUNTS = (0, 2, 8)
TIMED_EPOCHS = 2
FORWARD_GFLOP_PER_WINDOW = 25.2
TRAIN_FLOP_FACTOR = 3.0
A100_ACHIEVED_TFLOPS = (15.0, 75.0)


@dataclass(frozen=True)
class Case:
    """A synthetic training split: how many recordings of what length."""

    name: str
    hours: float
    recording_minutes: tuple[float, float]


FEW = Case("few long recordings", hours=2.0, recording_minutes=(10.0, 20.0))
# generate_corpus puts 3 of every 5 patients in train: 1,700 recordings give >= 1,000 there
MANY = Case("many short recordings", hours=1_700 * 1.65 / 60, recording_minutes=(1.6, 1.7))


def build(case: Case, folder: Path) -> Path:
    """Write the case's corpus and cache its train split; return the cache folder."""
    corpus, cache = folder / "corpus", folder / "cache"
    generate_corpus(
        corpus, hours=case.hours, seed=0, recording_minutes=case.recording_minutes,
        sampling_rates=(256,),
    )  # fmt: skip
    build_cache(corpus, cache, splits=("train",), workers=len(os.sched_getaffinity(0)))
    return cache


def plain_rate(dataset: WindowDataset, n_windows: int) -> float:
    """Best windows/s of ``dataset[i]`` in a loop over two timed epochs (one untimed first)."""
    sampler = BalancedSampler(dataset, n_per_epoch=n_windows, seizure_share=0.5, seed=0)
    rates = []
    for epoch in range(1 + TIMED_EPOCHS):
        sampler.set_epoch(epoch)
        order = list(sampler)
        start = time.perf_counter()
        for i in order:
            dataset[i]
        rates.append(n_windows / (time.perf_counter() - start))
    return max(rates[1:])


def loader_rate(dataset: WindowDataset, workers: int, pin_memory: bool, n_windows: int) -> float:
    """Best windows/s through a DataLoader over two timed epochs (one untimed first).

    Each timed epoch starts at ``iter(loader)``, before any of its batches is prefetched.
    """
    from torch.utils.data import DataLoader

    sampler = BalancedSampler(dataset, n_per_epoch=n_windows, seizure_share=0.5, seed=0)
    loader = DataLoader(
        dataset,
        batch_size=BATCH_SIZE,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH_FACTOR if workers > 0 else None,
    )
    rates = []
    for epoch in range(1 + TIMED_EPOCHS):
        sampler.set_epoch(epoch)
        start, n = time.perf_counter(), 0
        for x, _ in loader:
            n += int(x.shape[0])
        rates.append(n / (time.perf_counter() - start))
    del loader  # its persistent workers end before the next row starts its own
    return max(rates[1:])


def open_sets(cache: Path) -> list[tuple[str, int]]:
    """(label, max_open_recordings): the default bound, and every recording open."""
    n = len(Manifest.load(cache).select(split="train"))
    default = DEFAULT_MAX_OPEN_RECORDINGS
    return [(f"{default} (default)", default)] + ([("all", n)] if n > default else [])


def machine() -> str:
    """CPU model, AVX2/AVX-512F support, usable cores and the load at this moment."""
    model, flags = "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    simd = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx2", "avx512f"))
    cores = len(os.sched_getaffinity(0))
    return f"{model} ({simd}), {cores} cores usable, load average {os.getloadavg()[0]:.1f}"


def gpu_need() -> str:
    train_gflop = TRAIN_FLOP_FACTOR * FORWARD_GFLOP_PER_WINDOW
    lo, hi = (tflops * 1e3 / train_gflop for tflops in A100_ACHIEVED_TFLOPS)
    return (
        "GPU need (ESTIMATE from FLOPs, not measured): one training window is "
        f"{TRAIN_FLOP_FACTOR:g} x {FORWARD_GFLOP_PER_WINDOW} = {train_gflop:.0f} GFLOP; an A100 "
        f"at an assumed {A100_ACHIEVED_TFLOPS[0]:g}-{A100_ACHIEVED_TFLOPS[1]:g} TFLOP/s runs "
        f"{lo / BATCH_SIZE:.1f}-{hi / BATCH_SIZE:.1f} steps/s at batch {BATCH_SIZE}, so it "
        f"needs batch x steps/s = {lo:.0f}-{hi:.0f} windows/s from the loader."
    )


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1_440, help="Windows per epoch.")
    args = parser.parse_args()
    # 8 workers on a machine with fewer cores is deliberate here (torch warns about it)
    warnings.filterwarnings("ignore", message=".*worker processes in total.*")
    pins = (False, True) if torch.cuda.is_available() else (False,)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(f"machine: {machine()}; open-file limit {soft} (hard {hard})", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-loader-", dir=Path.cwd()) as scratch:
        for case in (FEW, MANY):
            started = time.perf_counter()
            cache = build(case, Path(scratch) / case.name.replace(" ", "-"))
            print(f"built {case.name} in {time.perf_counter() - started:.0f} s", flush=True)
            for label, max_open in open_sets(cache):
                windows = WindowDataset(cache, "train", max_open_recordings=max_open)
                head = f"| {case.name} | {len(windows.recordings):,} | {label} |"
                rows.append(f"{head} ds[i] | - | {plain_rate(windows, args.windows):,.0f} |")
                print(rows[-1], flush=True)
                for workers in WORKER_COUNTS:
                    for pin in pins:
                        rate = loader_rate(windows, workers, pin, args.windows)
                        pinned = "on" if pin else "off"
                        rows.append(f"{head} {workers} | {pinned} | {rate:,.0f} |")
                        print(rows[-1], flush=True)
    print(
        f"\nBatch {BATCH_SIZE}, persistent workers, prefetch_factor {PREFETCH_FACTOR}; best of "
        f"{TIMED_EPOCHS} epochs of {args.windows:,} balanced random windows.\n"
    )
    print("| case | recordings | open set | workers | pin_memory | windows/s |")
    print("|---|---:|---|---|---|---:|")
    print("\n".join(rows))
    if len(pins) == 1:
        print("\npin_memory on: not measured (no CUDA device here; torch ignores it).")
    print(f"\n{gpu_need()}")


if __name__ == "__main__":
    main()
