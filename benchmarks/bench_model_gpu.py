"""GPU throughput and memory of the default detector (run on an NVIDIA machine).

Run: ``uv run python benchmarks/bench_model_gpu.py [--batch-sizes 8 48] [--steps 10]``.
For each batch size, bf16 autocast on and off, and each Mamba2 backend ("torch", plus "kernel"
when mamba-ssm imports), it times forward + backward training steps on 60 s windows and reports
windows per second and ``torch.cuda.max_memory_allocated``. Without a CUDA device it prints
"no CUDA device" and exits with status 0.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from bgb_model import Detector, DetectorConfig, mamba_kernel_available

N_SAMPLES = 60 * 256


def run_case(batch: int, bf16: bool, backend: str, steps: int) -> str:
    """One configuration; returns a printable row (an out-of-memory case says so)."""
    torch.manual_seed(0)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = Detector(DetectorConfig(), backend=backend).cuda().train()  # type: ignore[arg-type]
    x = torch.randn(batch, 19, N_SAMPLES, device="cuda")
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x).float().mean()
        loss.backward()
        optimiser.step()

    label = f"batch {batch:>3}  bf16 {'on ' if bf16 else 'off'}  backend {backend:<6}"
    try:
        step()  # warm-up: kernel compilation, allocator
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    except torch.OutOfMemoryError:
        return f"{label}  out of memory"
    seconds = (time.perf_counter() - start) / steps
    peak_gib = torch.cuda.max_memory_allocated() / 2**30
    return f"{label}  {batch / seconds:8.1f} windows/s  {seconds:7.3f} s/step  {peak_gib:6.2f} GiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 48])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure (run this on an NVIDIA machine)")
        return 0
    backends = ["torch"] + (["kernel"] if mamba_kernel_available() else [])
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, backends {backends}")
    print(f"default model, forward + backward + AdamW step, 60 s windows, {args.steps} steps")
    for batch in args.batch_sizes:
        for bf16 in (False, True):
            for backend in backends:
                print(run_case(batch, bf16, backend, args.steps), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
