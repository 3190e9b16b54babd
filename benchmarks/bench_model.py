"""CPU benchmarks of the bgb-model detector (figures for packages/bgb-model/README.md).

Run: ``uv run python benchmarks/bench_model.py``. Every figure is measured in this run, with
its baseline, on ``--threads`` CPU threads (default 2):

(a) dense batched SSGConv vs torch-geometric SSGConv on B*T = 8*960 graphs of 19 nodes;
(b) default model, forward on one 60 s window, batch 1, no grad (with a per-stage split), at
    the SSD chunk lengths of ``--chunk-sizes`` (default 32; the output does not depend on it);
(c) small config, forward + backward on a batch of 8 x 60 s windows;
(d) peak resident memory of (b) and (c): each runs in a fresh subprocess that reports its
    peak RSS (VmHWM from /proc/self/status) after the model is built (baseline) and after the
    measured step (peak);
(e) TCN variants on a 10 s window (19 electrodes): the default (an eighth of the original
    design's widths per electrode, dense convs), the same widths separable, the original widths
    separable (the former default), and the full-rate variant (all layers at 256 Hz, then
    average pooling by 16);
(f) parameters of the default (and small) model by stage;
(g) the arithmetic floor of (b): the default model's matmul and convolution FLOPs per window
    (counted by torch's FlopCounterMode, by stage) against this machine's best float32 matmul
    rate (square products and the model's widest projection). No forward pass can beat that.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch_geometric.nn import SSGConv

from bgb_model import DenseSSGConv, Detector, DetectorConfig, TCNConfig, pairs_to_adjacency
from bgb_model.tcn import TCN

SFREQ_HZ = 256
WINDOW_S = 60
N_ELECTRODES = 19


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_rate(repeats: int) -> tuple[float, str]:
    """The best float32 GEMM rate (FLOP/s) over square 1024 and 2048 products and the default
    model's widest projection, and the shape that reached it: no layer runs faster."""
    shapes = [(1024, 1024, 1024), (2048, 2048, 2048), (N_ELECTRODES * 960, 64, 304)]
    best, where = 0.0, ""
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        seconds = min(timed(lambda a=a, b=b: a @ b, repeats) for _ in range(3))
        if 2 * m * k * n / seconds > best:
            best, where = 2 * m * k * n / seconds, f"{m}x{k} @ {k}x{n}"
    return best, where


def bench_gnn(repeats: int) -> None:
    """(a) dense batched SSGConv vs torch-geometric on the same batched graphs."""
    torch.manual_seed(0)
    n_graphs, f_in, f_out = 8 * 960, 64 + 16, 64
    adjacency = pairs_to_adjacency(torch.rand(n_graphs, 171), N_ELECTRODES)  # (G, 19, 19)
    x = torch.randn(n_graphs, N_ELECTRODES, f_in)
    reference = SSGConv(f_in, f_out, alpha=0.05, K=2)
    dense = DenseSSGConv(f_in, f_out, alpha=0.05, hops=2)
    dense.load_state_dict(reference.state_dict())
    graph, rows, cols = adjacency.nonzero(as_tuple=True)
    edge_index = torch.stack([rows + graph * N_ELECTRODES, cols + graph * N_ELECTRODES])
    edge_weight = adjacency[graph, rows, cols]
    flat_x = x.reshape(-1, f_in)
    with torch.no_grad():
        t_pyg = timed(lambda: reference(flat_x, edge_index, edge_weight), repeats)
        t_dense = timed(lambda: dense(x, adjacency), repeats)
        diff = dense(x, adjacency).reshape(-1, f_out) - reference(flat_x, edge_index, edge_weight)
    print("(a) SSGConv on 8 x 960 graphs of 19 nodes, 80 -> 64 features, K = 2, no grad")
    print(f"    torch-geometric SSGConv: {t_pyg * 1e3:8.1f} ms ({edge_index.shape[1]} edges)")
    print(f"    dense batched SSGConv:   {t_dense * 1e3:8.1f} ms")
    print(
        f"    speed-up: {t_pyg / t_dense:.1f}x (target >= 20x); max abs diff "
        f"{diff.abs().max().item():.2e}"
    )


def measure_in_subprocess(
    kind: str, threads: int, repeats: int, chunk_size: int
) -> dict[str, float]:
    """Run ``--measure kind`` in a fresh interpreter so its peak memory is that step's own."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--measure",
            kind,
            "--threads",
            str(threads),
            "--repeats",
            str(repeats),
            "--chunk-size",
            str(chunk_size),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(kind: str, repeats: int, chunk_size: int) -> None:
    """Child process: build, measure, print one JSON line."""
    torch.manual_seed(0)
    n_samples = WINDOW_S * SFREQ_HZ
    result: dict[str, float] = {}
    if kind == "forward":
        model = Detector(with_chunk_size(DetectorConfig(), chunk_size), backend="torch").eval()
        x = torch.randn(1, N_ELECTRODES, n_samples)
        result["baseline_mib"] = maxrss_mib()
        stage_s = {name: 0.0 for name in model.stages()}
        add_stage_timers(model, stage_s)
        with torch.no_grad():
            result["seconds"] = timed(lambda: model(x), repeats)
            for name in stage_s:
                stage_s[name] = 0.0
            start = time.perf_counter()
            model(x)
            total = time.perf_counter() - start
        result.update({f"stage_{name}": seconds for name, seconds in stage_s.items()})
        result["stage_pe_and_glue"] = total - sum(stage_s.values())
    else:
        model = Detector(DetectorConfig.small(), backend="torch").train()
        x = torch.randn(8, N_ELECTRODES, n_samples)
        result["baseline_mib"] = maxrss_mib()

        def step() -> None:
            model.zero_grad(set_to_none=True)
            model(x).mean().backward()

        result["seconds"] = timed(step, repeats)
        result["params"] = model.parameter_count()
    result["peak_mib"] = maxrss_mib()
    print(json.dumps(result))


def with_chunk_size(config: DetectorConfig, chunk_size: int) -> DetectorConfig:
    """The same model (identical function and parameters) with another SSD chunk length."""
    node = dataclasses.replace(config.node_stream, chunk_size=chunk_size)
    edge = dataclasses.replace(
        config.edge_stream,
        stream=dataclasses.replace(config.edge_stream.stream, chunk_size=chunk_size),
    )
    return dataclasses.replace(config, node_stream=node, edge_stream=edge)


def add_stage_timers(model: Detector, totals: dict[str, float]) -> None:
    """Accumulate wall time of each stage module's forward into ``totals``."""
    for name, stage in model.stages().items():
        starts: list[float] = []
        stage.register_forward_pre_hook(lambda _m, _i, s=starts: s.append(time.perf_counter()))
        stage.register_forward_hook(
            lambda _m, _i, _o, s=starts, n=name: totals.__setitem__(
                n, totals[n] + time.perf_counter() - s.pop()
            )
        )


def maxrss_mib() -> float:
    """Peak resident memory of this process so far (VmHWM). Unlike ``ru_maxrss``, which a child
    inherits from its parent across fork, VmHWM belongs to the process's own address space."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    raise RuntimeError("VmHWM not found in /proc/self/status (this benchmark needs Linux)")


def bench_model(threads: int, repeats: int, chunk_sizes: list[int]) -> None:
    """(b), (c), (d)."""
    forwards = {q: measure_in_subprocess("forward", threads, repeats, q) for q in chunk_sizes}
    print("(b) default model, forward, 1 x 60 s window, no grad, Mamba2 torch backend")
    for chunk_size, fwd in forwards.items():
        print(f"    SSD chunk_size {chunk_size}: {fwd['seconds']:.3f} s; stages:")
        for key, seconds in fwd.items():
            if key.startswith("stage_"):
                print(f"      {key[6:]:<16} {seconds * 1e3:8.1f} ms")
    train = measure_in_subprocess("train", threads, 1, 0)  # the small config's own chunk_size
    print(f"(c) small config ({int(train['params'])} params), forward + backward, 8 x 60 s")
    print(f"    {train['seconds']:.3f} s per step (one step after a warm-up step)")
    print("(d) peak resident memory (VmHWM of a fresh subprocess; baseline = after import")
    print("    and model build, before the first forward)")
    rows = [(f"(b) forward, chunk {q}", res) for q, res in forwards.items()]
    for label, res in [*rows, ("(c) fwd+bwd", train)]:
        print(
            f"    {label}: peak {res['peak_mib']:.0f} MiB, baseline {res['baseline_mib']:.0f} "
            f"MiB, step {res['peak_mib'] - res['baseline_mib']:.0f} MiB"
        )


def bench_tcn(repeats: int) -> None:
    """(e) TCN variants on a 10 s window, 19 electrodes as the batch."""
    x = torch.randn(N_ELECTRODES, 1, 10 * SFREQ_HZ)
    default = TCNConfig()
    original = (64, 64, 128, 128, 256, 256, 512, 512)
    variants = {
        "1/8 widths, dense (default)": default,
        "1/8 widths, separable": TCNConfig(separable=True),
        "original widths, separable": TCNConfig(channels=original, separable=True),
        "full rate, 1/8 widths, dense": TCNConfig(strides=(1,) * 8, final_pool=16),
    }
    print("(e) TCN variants, forward on 19 electrodes x 10 s, no grad")
    for label, config in variants.items():
        tcn = TCN(config).eval()
        params = sum(p.numel() for p in tcn.parameters())
        with torch.no_grad():
            seconds = timed(functools.partial(tcn, x), max(1, repeats // 2))
        print(f"    {label:<34} {seconds * 1e3:9.1f} ms  {params:>9,d} params")


def bench_params() -> None:
    """(f) parameter table."""
    for label, config in (("default", DetectorConfig()), ("small", DetectorConfig.small())):
        model = Detector(config, backend="torch")
        print(f"(f) parameters, {label} config")
        for name, count in model.parameter_count_by_stage().items():
            print(f"    {name:<12} {count:>10,d}")
        print(f"    {'total':<12} {model.parameter_count():>10,d}")


def bench_floor(repeats: int) -> None:
    """(g) FLOPs of one default forward, by stage, and the time they need at peak matmul rate."""
    from torch.utils.flop_counter import FlopCounterMode

    model = Detector(DetectorConfig(), backend="torch").eval()
    x = torch.randn(1, N_ELECTRODES, WINDOW_S * SFREQ_HZ)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    by_module = counter.get_flop_counts()
    total = counter.get_total_flops()
    rate, shape = gemm_rate(repeats)
    print("(g) arithmetic floor of the default forward (matmul and conv FLOPs only)")
    for name in model.stages():
        flops = sum(by_module.get(f"Detector.{name}", {}).values())
        print(f"    {name:<12} {flops / 1e9:7.2f} GFLOP")
    print(f"    {'total':<12} {total / 1e9:7.2f} GFLOP")
    print(
        f"    best float32 matmul rate here: {rate / 1e9:.0f} GFLOP/s ({shape}) -> floor "
        f"{total / rate:.2f} s per window, before any elementwise work"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", choices=["forward", "train"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--chunk-sizes",
        type=int,
        nargs="+",
        default=[32],
        help="SSD chunk lengths for (b) (the function does not depend on it; 256 is the config "
        "default, tuned for GPU kernels, and very slow on CPU)",
    )
    parser.add_argument("--chunk-size", type=int, default=32, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=list("abcdefg"), nargs="*", help="run these parts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure:
        measure(args.measure, args.repeats, args.chunk_size)
        return
    only = set(args.only or "abcdefg")
    print(f"torch {torch.__version__}, {args.threads} threads, median of {args.repeats}")
    if "a" in only:
        bench_gnn(args.repeats)
    if only & set("bcd"):
        bench_model(args.threads, args.repeats, args.chunk_sizes)
    if "e" in only:
        bench_tcn(args.repeats)
    if "f" in only:
        bench_params()
    if "g" in only:
        bench_floor(args.repeats)


if __name__ == "__main__":
    main()
