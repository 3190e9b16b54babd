"""CPU cost of the pure-PyTorch Mamba2: chunked SSD vs the step-by-step recurrence, and stacks.

Run: ``uv run python benchmarks/bench_mamba2.py [--repeats N] [--threads T] [--skip-stacks]``.

Prints, measured in this run on this machine:
1. the SSD scan at the node-stream size (batch 152 = 8 x 19, L 960, d_model 64 -> 16 heads of
   8, d_state 16), forward, float32, for several chunk sizes, against the recurrence (speed-up
   and max abs difference of the outputs);
2. one BiMambaStack forward + backward at the node-stream size (152, 960, 64, 6 layers) and at
   the edge-stream size (1368 = 8 x 171, 960, 16, 2 layers, headdim 4, d_state 8).
Times are the minimum over repeats (wall clock), which is the least noisy figure on a shared CPU;
the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

from bgb_model import BiMambaStack
from bgb_model._mamba_reference import recurrent_scan
from bgb_model._ssd import ssd_chunk_scan

CHUNK_SIZES = (16, 32, 64, 128)


def best_time(run: Callable[[], object], repeats: int) -> float:
    """Minimum wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def scan_inputs(
    batch: int, length: int, nheads: int, headdim: int, d_state: int
) -> list[torch.Tensor]:
    """Inputs shaped and scaled like a freshly initialised Mamba2 layer's."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, length, nheads, headdim, generator=gen)
    dt = torch.nn.functional.softplus(torch.randn(batch, length, nheads, generator=gen) - 3.0)
    A = -torch.empty(nheads).uniform_(1.0, 16.0, generator=gen)
    B = torch.randn(batch, length, 1, d_state, generator=gen)
    C = torch.randn(batch, length, 1, d_state, generator=gen)
    D = torch.ones(nheads)
    return [x, dt, A, B, C, D]


def bench_scan(repeats: int) -> None:
    batch, length, nheads, headdim, d_state = 152, 960, 16, 8, 16
    inputs = scan_inputs(batch, length, nheads, headdim, d_state)
    print(
        f"SSD scan, forward, float32: batch {batch}, L {length}, {nheads} heads x {headdim}, "
        f"d_state {d_state}"
    )
    with torch.no_grad():
        reference = recurrent_scan(*inputs)
        t_reference = best_time(lambda: recurrent_scan(*inputs), max(1, repeats // 2))
        print(f"  step-by-step recurrence      {t_reference * 1e3:9.1f} ms")
        for chunk in CHUNK_SIZES:
            output = ssd_chunk_scan(*inputs, chunk_size=chunk)
            t_ssd = best_time(
                lambda chunk=chunk: ssd_chunk_scan(*inputs, chunk_size=chunk), repeats
            )
            diff = (output - reference).abs().max().item()
            print(
                f"  chunked SSD, chunk {chunk:4d}     {t_ssd * 1e3:9.1f} ms   "
                f"speed-up {t_reference / t_ssd:6.1f}x   max abs diff {diff:.2e}"
            )


def bench_stack(
    name: str,
    batch: int,
    d_model: int,
    n_layers: int,
    headdim: int,
    d_state: int,
    chunk: int,
    repeats: int,
) -> None:
    torch.manual_seed(0)
    stack = BiMambaStack(d_model, n_layers, d_state, headdim, chunk_size=chunk, backend="torch")
    x = torch.randn(batch, 960, d_model, requires_grad=True)

    def step() -> None:
        stack.zero_grad(set_to_none=True)
        stack(x).square().mean().backward()

    def forward() -> None:
        with torch.no_grad():
            stack(x)

    t_step = best_time(step, repeats)
    t_forward = best_time(forward, repeats)
    n_params = sum(p.numel() for p in stack.parameters())
    print(
        f"  {name}: ({batch}, 960, {d_model}), {n_layers} layers, headdim {headdim}, "
        f"d_state {d_state}, chunk {chunk}, {n_params} parameters: forward+backward "
        f"{t_step:.2f} s, forward (no grad) {t_forward:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-stacks", action="store_true")
    parser.add_argument("--chunk", type=int, default=32, help="chunk size for the stacks")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load}")
    bench_scan(args.repeats)
    if not args.skip_stacks:
        print("BiMambaStack, torch backend, float32:")
        repeats = max(1, args.repeats // 2)
        bench_stack("node stream", 152, 64, 6, 8, 16, args.chunk, repeats)
        bench_stack("edge stream", 1368, 16, 2, 4, 8, args.chunk, repeats)


if __name__ == "__main__":
    main()
