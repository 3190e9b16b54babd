"""CPU inference of the default detector as ratios measured in one run.

    uv run python benchmarks/bench_cpu.py [--threads 2] [--repeats 5] [--rounds 8]

1. The best float32 GEMM rate this process reaches (square 1024 and 2048 products, and the
   default model's largest GEMM shape), the rate that no layer can beat.
2. The default model's matmul and convolution FLOPs per 60 s window (torch FlopCounterMode),
   by stage; the arithmetic floor is those FLOPs at the best rate.
3. The default forward: one 60 s window, batch 1, no grad, minimum of ``--repeats`` (with the
   stages' share of the last run); target: within 2x the floor. Then the same matmuls and
   convolutions replayed one by one at their own shapes and strides (random operands): what
   the arithmetic alone takes in the shapes the model gives it.
4. ``bgb detect`` of a 1 h EDF (19 of 23 channels at 250 Hz) at its defaults with the default
   model, in a fresh process: EDF reading, preprocessing, inference, post-processing and files;
   target: within 1.5x of 60 x the forward of 3.
5. The inference changes of 2026-12-01 side by side, interleaved in this process (rounds of
   one forward each, minimum and median of ``--rounds``): the former path (the depthwise conv
   through ``conv1d`` on the transposed input, whole batches through each stack), the
   channels-last conv alone, and the default (channels-last conv, stacks in pieces).
6. The Mamba2 layers compiled with inductor (``bgb detect --compile``) beside the eager model,
   interleaved: the first call's time (compiling included) and the forward's minimum and median.

Prints the CPU model and its vector extensions first. Weights are random: speed does not depend
on them.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from bench_apps import run_detect, write_checkpoint, write_recording
from bench_model import add_stage_timers, gemm_rate
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from bgb_model import Detector, DetectorConfig, bimamba, compile_mamba_layers, cpp_compiler
from bgb_model.mamba2 import Mamba2

N_ELECTRODES = 19
WINDOW_SAMPLES = 60 * 256


def cpu_description() -> str:
    """Model name and the x86 vector extensions that matter for GEMM speed."""
    name, flags = "unknown CPU", set()
    with open("/proc/cpuinfo") as info:
        for line in info:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")
    return f"{name}; {' '.join(f for f in wanted if f in flags) or 'no AVX2'}"


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Minimum wall seconds of ``repeats`` calls after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def model_flops(model: Detector) -> tuple[float, dict[str, float]]:
    """Matmul and convolution FLOPs of one 60 s window, in total and by stage."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, N_ELECTRODES, WINDOW_SAMPLES))
    by_module = counter.get_flop_counts()
    stages = {
        name: float(sum(by_module.get(f"Detector.{name}", {}).values())) for name in model.stages()
    }
    return float(counter.get_total_flops()), stages


_ARITHMETIC_OPS = ("mm", "addmm", "bmm", "baddbmm", "convolution")


class _RecordArithmetic(TorchDispatchMode):
    """Records every matmul and convolution call: the op and its arguments' layout."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, tuple[Any, ...]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func.overloadpacket.__name__ in _ARITHMETIC_OPS:
            layout = tuple(
                ("tensor", tuple(a.shape), a.stride(), a.dtype)
                if isinstance(a, torch.Tensor)
                else a
                for a in args
            )
            self.calls.append((func, layout))
        return func(*args, **(kwargs or {}))


def shape_floor(model: Detector, x: torch.Tensor, repeats: int) -> tuple[float, int]:
    """Seconds the forward's matmuls and convolutions take one by one, each at its own shapes
    and strides (random operands, the minimum of ``repeats`` runs after a warm-up), summed;
    and how many calls. No implementation of the same arithmetic in these shapes can beat it
    without fusing or reshaping them."""
    recorder = _RecordArithmetic()
    with torch.no_grad(), recorder:
        model(x)
    total = 0.0
    for func, layout in recorder.calls:
        args = [
            torch.empty_strided(a[1], a[2], dtype=a[3]).normal_()
            if isinstance(a, tuple) and a and a[0] == "tensor"
            else a
            for a in layout
        ]
        with torch.no_grad():
            total += best_of(lambda func=func, args=args: func(*args), repeats)
    return total, len(recorder.calls)


def former_conv(layer: Mamba2, xBC: torch.Tensor) -> torch.Tensor:
    """Mamba2's causal conv as it ran before 2026-12-01: ``conv1d`` on (b, c, l), transposed
    back. Shapes: xBC (b, l, c) -> (b, l, c)."""
    out: torch.Tensor = layer.conv1d(xBC.transpose(1, 2))[..., : xBC.shape[1]].transpose(1, 2)
    return out


def compare_paths(model: Detector, x: torch.Tensor, rounds: int) -> dict[str, list[float]]:
    """Forward seconds per variant, the variants interleaved round by round."""
    default_conv, default_piece = Mamba2._causal_conv, bimamba.INFERENCE_PIECE_ELEMENTS
    variants = {
        "former (conv1d, whole stacks)": (former_conv, 1 << 62),
        "channels-last conv, whole stacks": (default_conv, 1 << 62),
        "default (channels-last conv, stacks in pieces)": (default_conv, default_piece),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        with torch.no_grad():
            expected = model(x)
            for round_ in range(rounds + 1):
                for name, (conv, piece) in variants.items():
                    Mamba2._causal_conv = conv  # type: ignore[method-assign]
                    bimamba.INFERENCE_PIECE_ELEMENTS = piece
                    start = time.perf_counter()
                    out = model(x)
                    if round_:  # the first round warms each variant up
                        times[name].append(time.perf_counter() - start)
                    else:
                        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    finally:
        Mamba2._causal_conv = default_conv  # type: ignore[method-assign]
        bimamba.INFERENCE_PIECE_ELEMENTS = default_piece
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_description()}; {args.threads} threads, torch {torch.__version__}")

    rate, shape = gemm_rate(args.repeats)
    print(f"1. best float32 GEMM rate: {rate / 1e9:.0f} GFLOP/s ({shape})")

    torch.manual_seed(0)
    model = Detector(DetectorConfig(), backend="torch").eval()
    total, stages = model_flops(model)
    floor_s = total / rate
    print(f"2. default model, {model.parameter_count():,} parameters: {total / 1e9:.1f} GFLOP per "
          f"window ({', '.join(f'{k} {v / 1e9:.1f}' for k, v in stages.items())}); "
          f"floor {floor_s:.3f} s")  # fmt: skip

    x = torch.randn(1, N_ELECTRODES, WINDOW_SAMPLES)
    times = dict.fromkeys(model.stages(), 0.0)
    with torch.no_grad():
        forward_s = best_of(lambda: model(x), args.repeats)
        add_stage_timers(model, times)
        model(x)
    split = ", ".join(f"{k} {v:.3f}" for k, v in times.items())
    print(f"3. default forward, 1 x 60 s, no grad, minimum of {args.repeats}: "
          f"{forward_s:.3f} s = {forward_s / floor_s:.1f}x the floor (target <= 2x); "
          f"one run's stages: {split} s")  # fmt: skip

    arithmetic_s, n_calls = shape_floor(model, x, args.repeats)
    print(f"   the same matmuls and convolutions one by one at their own shapes ({n_calls} calls, "
          f"each the minimum of {args.repeats}): {arithmetic_s:.3f} s = "
          f"{arithmetic_s / floor_s:.1f}x the floor; the rest of the forward "
          f"(elementwise work, copies, overheads): {forward_s - arithmetic_s:.3f} s")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        edf, checkpoint = folder / "one_hour.edf", folder / "default.pt"
        write_recording(edf, 1.0)
        write_checkpoint(checkpoint, "default")
        detect_s, rss_gb = run_detect(edf, checkpoint, folder / "out")
    budget = 60 * forward_s
    print(f"4. bgb detect, 1 h at defaults, default model: {detect_s:.1f} s, peak RSS "
          f"{rss_gb:.2f} GB; 60 x forward = {budget:.1f} s; ratio {detect_s / budget:.2f} "
          "(target <= 1.5)")  # fmt: skip

    print(f"5. forward paths, interleaved, {args.rounds} rounds (minimum / median):")
    for name, seconds in compare_paths(model, x, args.rounds).items():
        seconds.sort()
        print(f"   {name}: {seconds[0]:.3f} / {seconds[len(seconds) // 2]:.3f} s")

    if cpp_compiler() is None:
        print("6. compiled Mamba2 layers: skipped, no C++ compiler for inductor here")
        return
    compiled = copy.deepcopy(model)
    start = time.perf_counter()
    n_layers = compile_mamba_layers(compiled)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)
    compile_s = time.perf_counter() - start
    times_c: dict[str, list[float]] = {"eager": [], "compiled": []}
    with torch.no_grad():
        for _ in range(args.rounds):
            for name, net in (("eager", model), ("compiled", compiled)):
                begin = time.perf_counter()
                net(x)
                times_c[name].append(time.perf_counter() - begin)
    print(f"6. compiled Mamba2 layers ({n_layers}; first call, compiling included: "
          f"{compile_s:.0f} s; inductor's on-disk cache makes a second process faster), "
          f"interleaved, {args.rounds} rounds (minimum / median):")  # fmt: skip
    for name, seconds in times_c.items():
        seconds.sort()
        print(f"   {name}: {seconds[0]:.3f} / {seconds[len(seconds) // 2]:.3f} s"
              f" = {seconds[0] / floor_s:.1f}x the floor")  # fmt: skip


if __name__ == "__main__":
    main()
