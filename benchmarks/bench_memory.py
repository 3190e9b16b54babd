"""Training memory of the default detector: activations per window by stage, and what fits.

Run: ``uv run python benchmarks/bench_memory.py [--lengths 240 480 960] [--peak-length 240]``
(about 3 minutes on 2 cores), or ``... --cuda [--batch-sizes 8 48]`` on a GPU. Prints Markdown
tables; the package README's "Training memory" section comes from them.

Method, all on the PyTorch path on the CPU, default model, batch 1 (one window):

(a) saved activations: one training-mode forward under ``saved_tensors_hooks`` counts the bytes
    of every tensor autograd keeps for backward, once per storage (views and tensors saved by
    several ops count once), weights excluded. Each byte is attributed to the stage whose
    module packed it, and flagged when packed inside the pure-PyTorch SSD scan. Done in fp32 and
    under CPU bfloat16 autocast, without and with ``Detector.set_activation_checkpointing``. In
    the plain run the bytes are also grouped by recomputable segment (one BiMamba2 direction,
    one TCN segment, the pair features): with checkpointing, backward holds the stored tensors
    plus one segment's recomputed activations at a time, so the largest segment is the extra
    peak.
(b) the kernel path (mamba-ssm's ``mamba_chunk_scan_combined``, what ``backend="kernel"`` runs),
    an ESTIMATE: the torch scan's own tensors are replaced by what that autograd Function saves
    (x, B, C and dt as contiguous copies, its output, and the chunked cumulative decay
    ``dA_cumsum`` in fp32; mamba-ssm's ``ctx.save_for_backward``); everything outside the scan is
    the same PyTorch code on both backends, so it is taken as measured.
(c) a check of (a): the peak allocated bytes of one real forward + backward, read from the
    PyTorch profiler's CPU allocator trace at ``--peak-length`` steps, against stored + largest
    segment + weight gradients.
(d) the estimate of peak training memory for a batch: weights, gradients and AdamW's two
    moments (fp32, 16 bytes per parameter) + batch x activations per window x (1 + 15%) + 1 GiB.
    The allowance: (c) finds real peaks up to 10% above the model (gradient buffers during
    backward), the rest is for the CUDA caching allocator's fragmentation, the CUDA context and
    cuBLAS workspaces, none of which a CPU run can see. Then the largest batch that fits 24, 40
    and 80 GiB.

``--cuda`` instead measures ``torch.cuda.max_memory_allocated`` of real training steps (AdamW,
60 s windows) on an NVIDIA GPU, for ``--batch-sizes``, both precisions, checkpointing off and on;
without CUDA it says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType

import torch
from torch import Tensor
from torch.profiler import ProfilerActivity, profile

from bgb_model import Detector, DetectorConfig, EdgeStream, StreamConfig, mamba_kernel_available
from bgb_model.mamba2 import Mamba2

N_ELECTRODES = 19
N_PAIRS = N_ELECTRODES * (N_ELECTRODES - 1) // 2
STRIDE = 16
GIB = 2**30
STAGES = {
    "encoder": "encoder (TCN)",
    "node_stream": "node stream",
    "edge_stream": "edge stream",
    "graph": "PE + SSGConv",
    "head": "head",
}
PRECISIONS = ("fp32", "bf16")
CARDS_GIB = (24, 40, 80)
BATCHES = (8, 16, 32, 48, 64, 96)
FIXED_ALLOWANCE_GIB = 1.0
RELATIVE_ALLOWANCE = 0.15
_SCAN_CODE: CodeType = Mamba2._torch_scan.__code__
_PAIR_CODE: CodeType = EdgeStream.pair_features.__code__
_DIRECTION = re.compile(r"\.mixer\.(fwd|bwd)$")
_TCN_CONV = re.compile(r"^encoder\.tcn\.blocks\.(\d+)\.conv$")


@dataclass
class Saved:
    """Bytes kept for backward after one forward, by stage and (plain run) by segment."""

    stage: Counter[str] = field(default_factory=Counter)
    stage_scan: Counter[str] = field(default_factory=Counter)
    segment: Counter[str] = field(default_factory=Counter)
    segment_scan: Counter[str] = field(default_factory=Counter)


def autocast(precision: str, device: str = "cpu") -> torch.autocast | nullcontext[None]:
    """bfloat16 autocast for "bf16", nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device, dtype=torch.bfloat16)
    return nullcontext()


def build(checkpointing: bool) -> Detector:
    """The default model in training mode, pure-PyTorch Mamba2, fixed weights."""
    torch.manual_seed(0)
    model = Detector(DetectorConfig(), backend="torch").train()
    model.set_activation_checkpointing(checkpointing)
    return model


def eeg(n_steps: int) -> Tensor:
    """One window of ``n_steps`` model steps (16 samples each)."""
    return torch.randn(
        1, N_ELECTRODES, n_steps * STRIDE, generator=torch.Generator().manual_seed(0)
    )


@contextmanager
def module_stack(model: Detector) -> Iterator[list[str]]:
    """The names of the modules whose forward is running, innermost last."""
    stack: list[str] = []
    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(lambda _m, _a, n=name: stack.append(n)))
            handles.append(module.register_forward_hook(lambda _m, _a, _o: stack.pop() and None))
    try:
        yield stack
    finally:
        for handle in handles:
            handle.remove()


def segment_of(stack: list[str], in_pairs: bool) -> str | None:
    """The recomputable segment a tensor saved by the innermost module of ``stack`` belongs to
    (as ``Detector.set_activation_checkpointing`` cuts them), or None."""
    if in_pairs:
        return "edge pair features"
    for name in reversed(stack):
        if _DIRECTION.search(name):
            return name
        match = _TCN_CONV.match(name)
        if match and int(match.group(1)) > 0:  # block 0's conv reads the input: not a segment
            return f"TCN segment into block {match.group(1)}"
    return None


def count_saved(n_steps: int, precision: str, checkpointing: bool) -> Saved:
    """(a) bytes autograd keeps after one forward of one window, attributed as described."""
    model = build(checkpointing)
    weights = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    seen: set[int] = set()
    saved = Saved()
    with module_stack(model) as stack:

        def pack(tensor: Tensor) -> Tensor:
            storage = tensor.untyped_storage()
            pointer, nbytes = storage.data_ptr(), storage.nbytes()
            if pointer in weights or pointer in seen or nbytes == 0:
                return tensor
            seen.add(pointer)
            codes = set()
            frame = sys._getframe(1)
            while frame is not None:
                codes.add(frame.f_code)
                frame = frame.f_back  # type: ignore[assignment]
            in_scan = _SCAN_CODE in codes
            top = stack[0].split(".")[0] if stack else "graph"  # the detector's own ops: graph
            stage = top if top in STAGES else "graph"  # gnn is the graph stage
            saved.stage[stage] += nbytes
            saved.stage_scan[stage] += nbytes if in_scan else 0
            segment = segment_of(stack, _PAIR_CODE in codes)
            if segment is not None:
                saved.segment[segment] += nbytes
                saved.segment_scan[segment] += nbytes if in_scan else 0
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(precision):
            model(eeg(n_steps))
    return saved


def kernel_scan_bytes(stream: StreamConfig, n_sequences: int, n_steps: int, precision: str) -> int:
    """(b) Estimated bytes mamba-ssm's ``mamba_chunk_scan_combined`` saves for one Mamba2 call.

    Saved there: x (b, l, h, p), B and C (b, l, g, n) and dt (b, l, h), which bgb's kernel
    wrapper passes as contiguous copies, in the activation dtype; dA_cumsum (b, h, chunks,
    chunk) in fp32; the output (b, l, h, p) in the activation dtype. In fp32 that output is the
    very tensor the gated RMSNorm keeps (already counted outside the scan), in bf16 the norm
    keeps an fp32 copy, so the bf16 output counts here.
    """
    item = 2 if precision == "bf16" else 4
    d_inner = stream.expand * stream.d_model
    nheads = d_inner // stream.headdim
    padded = math.ceil(n_steps / stream.chunk_size) * stream.chunk_size
    per_sequence = item * n_steps * (d_inner + 2 * stream.d_state + nheads) + 4 * nheads * padded
    if precision == "bf16":
        per_sequence += item * n_steps * d_inner
    return n_sequences * per_sequence


def fused_layer_bytes(stream: StreamConfig, n_sequences: int, n_steps: int, precision: str) -> int:
    """(b) Estimated bytes one whole Mamba2 layer would keep on mamba-ssm's fused path
    (``mamba_split_conv1d_scan_combined``, which bgb does not use): in_proj's input (b, l, d),
    the fused function's input zxbcdt (b, l, 2 d_inner + 2 g n + h) and scan output out_x
    (b, l, d_inner), and the norm's rstd (b, l, g) in fp32; the conv, the gated norm and
    out_proj are recomputed inside its backward.
    """
    item = 2 if precision == "bf16" else 4
    d_inner = stream.expand * stream.d_model
    d_in_proj = 2 * d_inner + 2 * stream.d_state + d_inner // stream.headdim
    per_step = item * (stream.d_model + d_in_proj + d_inner) + 4
    return n_sequences * n_steps * per_step


@dataclass
class Window:
    """Activation bytes of one window for one precision, per stage.

    ``plain`` maps a path ("torch" measured; "kernel" and "fused" estimated) to bytes per stage
    without checkpointing; ``stored`` is what checkpointing keeps (the same on every path: no
    scan runs outside a segment); ``segment`` is the largest recomputed segment per path.
    """

    plain: dict[str, dict[str, int]]
    plain_scan: dict[str, int]
    stored: dict[str, int]
    segment: dict[str, tuple[str, int]]

    def per_window(self, path: str, checkpointing: bool) -> int:
        """Activation peak of one window: stored tensors, plus one segment when recomputing."""
        if not checkpointing:
            return sum(self.plain[path].values())
        return sum(self.stored.values()) + self.segment[path][1]


def measure_window(n_steps: int, precision: str) -> Window:
    """(a) and (b) for one window of ``n_steps`` steps."""
    config = DetectorConfig()
    plain = count_saved(n_steps, precision, checkpointing=False)
    stored = count_saved(n_steps, precision, checkpointing=True)
    if sum(stored.stage_scan.values()):
        raise RuntimeError("a scan ran outside every checkpointed segment; update segment_of")
    streams = {
        "node_stream": (config.node_stream, N_ELECTRODES),
        "edge_stream": (config.edge_stream.stream, N_PAIRS),
    }
    outside = {name: plain.stage[name] - plain.stage_scan[name] for name in STAGES}
    kernel, fused = dict(outside), dict(outside)
    kernel_segments = {name: n - plain.segment_scan[name] for name, n in plain.segment.items()}
    for stage, (stream, n_sequences) in streams.items():
        call = kernel_scan_bytes(stream, n_sequences, n_steps, precision)
        layer = fused_layer_bytes(stream, n_sequences, n_steps, precision)
        kernel[stage] += 2 * stream.n_layers * call
        fused[stage] += 2 * stream.n_layers * layer
        for name in plain.segment:
            if name.startswith(stage):  # one Mamba2 direction: its layer, scan included
                kernel_segments[name] += call
                fused[stage] -= plain.segment[name] - plain.segment_scan[name]
    return Window(
        plain={"torch": dict(plain.stage), "kernel": kernel, "fused": fused},
        plain_scan=dict(plain.stage_scan),
        stored=dict(stored.stage),
        segment={
            "torch": max(plain.segment.items(), key=lambda item: item[1]),
            "kernel": max(kernel_segments.items(), key=lambda item: item[1]),
        },
    )


def measure_peak(n_steps: int, precision: str, checkpointing: bool) -> int:
    """(c) Peak bytes allocated during one forward + backward, above what existed before."""
    model = build(checkpointing)
    x = eeg(n_steps)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        with autocast(precision):
            loss = model(x).float().mean()
        loss.backward()

    step()  # warm-up: lazily allocated state is not counted
    model.zero_grad(set_to_none=True)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.json"
        prof.export_chrome_trace(str(path))
        events = json.loads(path.read_text())["traceEvents"]
    return max(int(e["args"]["Total Allocated"]) for e in events if e.get("name") == "[memory]")


def gib(nbytes: float) -> str:
    return f"{nbytes / GIB:.3f}"


def print_stage_table(windows: dict[str, Window], n_steps: int) -> None:
    """Per-stage activations of one window, GiB, for each precision."""
    for precision, w in windows.items():
        print(f"\n### Activations per window ({n_steps} steps), {precision}, GiB\n")
        print(
            "| stage | plain, torch path | of which in the torch scan | plain, kernel path "
            "(estimate) | plain, fused kernel (estimate; not used by bgb) | checkpointed, "
            "stored |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name, label in STAGES.items():
            cells = [w.plain["torch"], w.plain_scan, w.plain["kernel"], w.plain["fused"], w.stored]
            print(f"| {label} | " + " | ".join(gib(c.get(name, 0)) for c in cells) + " |")
        (name, torch_bytes), kernel_bytes = w.segment["torch"], w.segment["kernel"][1]
        print(
            f"| largest recomputed segment ({name}), torch / kernel | | | | | "
            f"{gib(torch_bytes)} / {gib(kernel_bytes)} |"
        )
        totals = [gib(w.per_window(path, False)) for path in ("torch", "kernel", "fused")]
        print(
            f"| **activation peak per window** | **{totals[0]}** | | **{totals[1]}** | "
            f"**{totals[2]}** | **{gib(w.per_window('torch', True))} / "
            f"{gib(w.per_window('kernel', True))}** |"
        )


def peak_gib(static: int, per_window: int, batch: int) -> float:
    """(d) Estimated peak training memory at ``batch``, GiB."""
    activations = batch * per_window * (1 + RELATIVE_ALLOWANCE)
    return (static + activations) / GIB + FIXED_ALLOWANCE_GIB


def largest_batch(static: int, per_window: int, card_gib: float) -> int:
    """The largest batch whose estimated peak stays within ``card_gib``."""
    room = (card_gib - FIXED_ALLOWANCE_GIB) * GIB - static
    return max(0, math.floor(room / (per_window * (1 + RELATIVE_ALLOWANCE))))


def print_fit_table(windows: dict[str, Window], static: int) -> None:
    """(d) Estimated peaks for batch sizes, and the largest batch per card size."""
    print(
        f"\n### Estimated peak training memory, GiB (weights + gradients + AdamW "
        f"{static / 2**20:.0f} MiB; allowance {RELATIVE_ALLOWANCE:.0%} of activations + "
        f"{FIXED_ALLOWANCE_GIB:.0f} GiB)\n"
    )
    heads = " | ".join(f"batch {b}" for b in BATCHES)
    cards = " | ".join(f"fits {c} GiB" for c in CARDS_GIB)
    print(f"| path | precision | checkpointing | GiB per window | {heads} | {cards} |")
    print("|---|---|---|---:|" + "---:|" * (len(BATCHES) + len(CARDS_GIB)))
    labels = {"kernel": "kernel (estimate)", "fused": "fused kernel (estimate; not in bgb)"}
    for path in ("kernel", "fused", "torch"):
        for precision, w in windows.items():
            for checkpointing in (False, True) if path != "fused" else (False,):
                per_window = w.per_window(path, checkpointing)
                peaks = " | ".join(f"{peak_gib(static, per_window, b):.1f}" for b in BATCHES)
                fits = " | ".join(str(largest_batch(static, per_window, c)) for c in CARDS_GIB)
                label = labels.get(path, "torch (measured)")
                print(
                    f"| {label} | {precision} | {'on' if checkpointing else 'off'} | "
                    f"{gib(per_window)} | {peaks} | {fits} |"
                )


def print_linearity(lengths: list[int], windows: dict[int, dict[str, Window]]) -> None:
    """Per-step bytes at each length: constant when activations grow linearly with length."""
    print("\n### Linearity in window length: activation peak per window per step, KiB\n")
    print("| steps | " + " | ".join(f"{p} plain | {p} checkpointed" for p in PRECISIONS) + " |")
    print("|---:|" + "---:|" * (2 * len(PRECISIONS)))
    for n_steps in lengths:
        cells = []
        for precision in PRECISIONS:
            w = windows[n_steps][precision]
            cells += [f"{w.per_window('torch', c) / n_steps / 1024:.1f}" for c in (False, True)]
        print(f"| {n_steps} | " + " | ".join(cells) + " |")


def print_peak_check(n_steps: int, precisions: list[str]) -> None:
    """(c) The model of (a) against the allocator's real peak for one training step."""
    print(f"\n### Check: real peak of one forward + backward, {n_steps} steps, torch path, MiB\n")
    print(
        "| precision | checkpointing | allocator peak (profiler) | stored + largest segment + "
        "weight grads | ratio |"
    )
    print("|---|---|---:|---:|---:|")
    grads = 4 * build(False).parameter_count()
    for precision in precisions:
        window = measure_window(n_steps, precision)
        for checkpointing in (False, True):
            real = measure_peak(n_steps, precision, checkpointing)
            model = window.per_window("torch", checkpointing) + grads
            print(
                f"| {precision} | {'on' if checkpointing else 'off'} | {real / 2**20:.0f} | "
                f"{model / 2**20:.0f} | {real / model:.3f} |",
                flush=True,
            )


def run_cuda(batch_sizes: list[int], steps: int) -> int:
    """``--cuda``: max_memory_allocated of real training steps on the GPU."""
    if not torch.cuda.is_available():
        print(
            "no CUDA device: --cuda measures real training steps on an NVIDIA GPU; without "
            "--cuda this script gives the CPU-measured estimate"
        )
        return 0
    backend = "kernel" if mamba_kernel_available() else "torch"
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, backend {backend}")
    print("\n| precision | checkpointing | batch | max_memory_allocated, GiB | s/step |")
    print("|---|---|---:|---:|---:|")
    for precision in PRECISIONS:
        for checkpointing in (False, True):
            for batch in batch_sizes:
                print(cuda_case(backend, precision, checkpointing, batch, steps), flush=True)
    return 0


def cuda_case(backend: str, precision: str, checkpointing: bool, batch: int, steps: int) -> str:
    """One GPU configuration as a table row; out of memory is reported, not raised."""
    torch.manual_seed(0)
    torch.cuda.empty_cache()
    model = Detector(DetectorConfig(), backend=backend).cuda().train()  # type: ignore[arg-type]
    model.set_activation_checkpointing(checkpointing)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, N_ELECTRODES, 960 * STRIDE, device="cuda")
    label = f"| {precision} | {'on' if checkpointing else 'off'} | {batch} |"
    try:
        for step in range(steps + 1):
            if step == 1:  # the first step builds optimizer state and autotunes kernels
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            with autocast(precision, "cuda"):
                loss = model(x).float().mean()
            loss.backward()
            optimizer.step()
        torch.cuda.synchronize()
    except torch.OutOfMemoryError:
        return f"{label} out of memory | |"
    finally:
        del model, optimizer, x
    seconds = (time.perf_counter() - start) / steps
    return f"{label} {torch.cuda.max_memory_allocated() / GIB:.2f} | {seconds:.3f} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=[240, 960],
        help="window lengths in model steps (960 = 60 s); the last one gives the tables, "
        "several show that the bytes per step do not depend on the length",
    )
    parser.add_argument(
        "--peak-length",
        type=int,
        default=240,
        help="steps for the allocator-peak check (c); 0 skips it",
    )
    parser.add_argument("--peak-precisions", nargs="+", default=["fp32"], choices=PRECISIONS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cuda", action="store_true", help="measure real steps on a GPU instead")
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=[8, 48],
        help="with --cuda: batch sizes to run",
    )
    parser.add_argument("--steps", type=int, default=3, help="with --cuda: measured steps")
    args = parser.parse_args()
    if args.cuda:
        return run_cuda(args.batch_sizes, args.steps)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(
        f"torch {torch.__version__}, {args.threads} threads; default model, "
        f"{build(False).parameter_count():,} parameters"
    )
    windows = {n: {p: measure_window(n, p) for p in PRECISIONS} for n in args.lengths}
    if len(args.lengths) > 1:
        print_linearity(args.lengths, windows)
    longest = args.lengths[-1]
    print_stage_table(windows[longest], longest)
    static = 16 * build(False).parameter_count()
    if longest == 960:
        print_fit_table(windows[longest], static)
    else:
        print("\n(fit table skipped: it is for 60 s windows, --lengths must end in 960)")
    if args.peak_length:
        print_peak_check(args.peak_length, args.peak_precisions)
    print(f"\n(ran {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
