"""The GPU check: everything that can only be verified on an NVIDIA machine, in one command.

Run (on a machine with CUDA; about 5 minutes on an H100):

    uv sync --all-packages --extra cuda
    uv run python benchmarks/gpu_check.py --out gpu_check.json

Steps, each recorded in the JSON (and printed as it finishes):

1. ``pytest -m gpu``: the GPU tests (kernel vs PyTorch Mamba2, CUDA checkpoints, ...); the
   pass/fail/skip counts and the tail of the output.
2. Kernel-vs-PyTorch Mamba2 parity at the node and edge stream sizes of the default model
   over 960 steps: the largest difference of outputs and input gradients relative to their
   scale, fp32 and bf16 autocast.
3. One training step of the default model (forward, focal loss, backward, AdamW) at the batch
   size, precision, backend and activation checkpointing of ``configs/local/train.yaml`` and
   ``configs/modal/train.yaml``, as the trainer runs it: ``torch.cuda.max_memory_allocated``,
   steps/s and windows/s over ``--steps`` steps after one warm-up step; out of memory is
   recorded as such.

Without CUDA it says so and exits with status 2 (nothing is measured on another device). The
``--plumbing`` flag runs step 3 only, on the CPU with the small preset at batch 1, to check
this script itself; its figures mean nothing for a GPU and are marked so.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"local": ROOT / "configs/local/train.yaml", "modal": ROOT / "configs/modal/train.yaml"}


def run_gpu_tests() -> dict[str, Any]:
    """``pytest -m gpu`` in a subprocess: return code, summary line, output tail."""
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", str(ROOT / "tests")]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    lines = done.stdout.strip().splitlines()
    return {
        "command": " ".join(command[1:]),
        "returncode": done.returncode,
        "summary": lines[-1] if lines else "",
        "seconds": round(time.perf_counter() - started, 1),
        "output_tail": "\n".join(lines[-40:]),
    }


def mamba_parity() -> list[dict[str, Any]]:
    """Kernel vs torch Mamba2 on the same weights: relative differences, per size and precision."""
    from bgb_model import DetectorConfig, Mamba2, mamba_kernel_available

    if not mamba_kernel_available():
        return [{"skipped": "mamba-ssm is not importable: uv sync --all-packages --extra cuda"}]
    config = DetectorConfig()
    node = config.node_stream
    edge = config.edge_stream.stream
    sizes = {
        "node stream": (node.d_model, node.d_state, node.headdim, 4 * config.n_electrodes),
        "edge stream": (edge.d_model, edge.d_state, edge.headdim, 4 * 171),
    }
    rows = []
    for name, (d_model, d_state, headdim, batch) in sizes.items():
        for bf16 in (False, True):
            torch.manual_seed(0)
            kernel = Mamba2(d_model, d_state, headdim=headdim, backend="kernel").cuda()
            reference = Mamba2(d_model, d_state, headdim=headdim, backend="torch").cuda()
            reference.load_state_dict(kernel.state_dict())
            u = torch.randn(batch, 960, d_model, device="cuda")
            outputs, grads = [], []
            for module in (kernel, reference):
                given = u.clone().requires_grad_()
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                    out = module(given)
                out.float().square().mean().backward()
                outputs.append(out.detach().float())
                assert given.grad is not None
                grads.append(given.grad.float())
            rows.append(
                {
                    "stream": name,
                    "sequences": batch,
                    "steps": 960,
                    "bf16_autocast": bf16,
                    "output_rel_diff": _relative(outputs[0], outputs[1]),
                    "input_grad_rel_diff": _relative(grads[0], grads[1]),
                }
            )
            print(f"parity {rows[-1]}", flush=True)
    return rows


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: a normwise difference, meaningful for both precisions."""
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


def training_step(
    config_path: Path, device: torch.device, steps: int, plumbing: bool
) -> dict[str, Any]:
    """Train the config's model for ``steps`` timed steps on random 60 s windows."""
    from bgb.config import load_config
    from bgb.inference import autocast_context
    from bgb.training.losses import focal_loss
    from bgb.training.optim import build_optimizer
    from bgb_model import Detector, DetectorConfig

    config = load_config(config_path)
    training = config.training
    batch = 1 if plumbing else training.batch_size
    detector_config = DetectorConfig.small() if plumbing else config.detector_config()
    backend = "torch" if plumbing else config.model.backend
    row: dict[str, Any] = {
        "config": str(config_path.relative_to(ROOT)),
        "batch_size": batch,
        "mixed_precision": training.mixed_precision,
        "activation_checkpointing": training.activation_checkpointing,
        "backend": backend,
        "preset": "small (plumbing)" if plumbing else config.model.preset,
    }
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        model = Detector(detector_config, backend=backend).to(device).train()
        model.set_activation_checkpointing(training.activation_checkpointing)
        optimizer = build_optimizer(model, training.learning_rate, training.weight_decay)
        n_samples = round(config.data.window_s * 256)
        x = torch.randn(batch, detector_config.n_electrodes, n_samples, device=device)
        y = (torch.rand(batch, n_samples, device=device) < 0.3).float()

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            with autocast_context(device, training.mixed_precision):
                logits = model(x)
            loss = focal_loss(logits, y, training.focal_alpha, training.focal_gamma)
            loss.backward()
            optimizer.step()

        step()  # warm-up: kernel compilation, allocator
        _sync(device)
        started = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        seconds = (time.perf_counter() - started) / steps
    except torch.OutOfMemoryError as err:
        row["out_of_memory"] = str(err).splitlines()[0]
        return row
    row["seconds_per_step"] = round(seconds, 4)
    row["steps_per_s"] = round(1 / seconds, 3)
    row["windows_per_s"] = round(batch / seconds, 2)
    if device.type == "cuda":
        row["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return row


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--steps", type=int, default=5, help="timed training steps per config")
    parser.add_argument("--skip-tests", action="store_true", help="leave out pytest -m gpu")
    parser.add_argument(
        "--plumbing", action="store_true", help="CPU, small preset, batch 1: checks the script"
    )
    args = parser.parse_args()
    report: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
    }
    if args.plumbing:
        device = torch.device("cpu")
        report["device"] = "cpu (plumbing run: not GPU figures)"
    elif not torch.cuda.is_available():
        print("no CUDA device: the GPU check measures nothing elsewhere; run it on NVIDIA")
        return 2
    else:
        device = torch.device("cuda")
        report["device"] = torch.cuda.get_device_name()
        report["cuda"] = torch.version.cuda
        print(f"{report['device']}, torch {report['torch']}, CUDA {report['cuda']}", flush=True)
        if not args.skip_tests:
            report["gpu_tests"] = run_gpu_tests()
            print(f"pytest -m gpu: {report['gpu_tests']['summary']}", flush=True)
        report["mamba_parity"] = mamba_parity()
    report["training_step"] = {}
    for name, path in CONFIGS.items():
        row = training_step(path, device, args.steps, args.plumbing)
        report["training_step"][name] = row
        print(f"training step {name}: {row}", flush=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.out}")
    failed = report.get("gpu_tests", {}).get("returncode", 0) not in (0, 5)  # 5: none collected
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
