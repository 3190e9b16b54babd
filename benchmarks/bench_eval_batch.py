"""Inference batch size for the demo's model: forward time per window, no grad.

    uv run python benchmarks/bench_eval_batch.py [--config configs/demo.yaml] [--rounds 5]

Builds the model of the config (random weights; speed does not depend on them), then times 8
windows of the config's length at batch sizes 1, 2, 4 and 8, the sizes interleaved in each
round so that a host whose speed drifts affects all of them alike. Prints the minimum and the
median per window, and the largest difference between window 0 computed alone and inside a
batch of 4 (the same function; float32 sums in another order). ``evaluation.batch_size`` sets
the size used by dev evaluation, hard-negative scoring and ``bgb detect``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from bgb.config import load_config
from bgb_model import Detector

SIZES = (1, 2, 4, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=Path("configs/demo.yaml"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config(args.config, [])
    model = Detector(config.detector_config(), backend=config.model.backend).eval()
    x = torch.randn(max(SIZES), 19, round(config.data.window_s * 256))
    per_window: dict[int, list[float]] = {b: [] for b in SIZES}
    with torch.inference_mode():
        for b in SIZES:  # warm-up: first calls allocate and pick kernels
            model(x[:b])
        for _ in range(args.rounds):
            for b in SIZES:
                started = time.perf_counter()
                for first in range(0, len(x), b):
                    model(x[first : first + b])
                per_window[b].append((time.perf_counter() - started) / len(x))
        diff = float((model(x[:1]) - model(x[:4])[:1]).abs().max())
    print(f"{args.config}: {config.data.window_s:g} s windows, {torch.get_num_threads()} threads")
    for b in SIZES:
        times = per_window[b]
        print(f"batch {b}: {1000 * min(times):.1f} ms per window (minimum), "
              f"{1000 * statistics.median(times):.1f} ms (median)")  # fmt: skip
    print(f"window 0 alone vs in a batch of 4: max abs difference {diff:.1e}")


if __name__ == "__main__":
    main()
