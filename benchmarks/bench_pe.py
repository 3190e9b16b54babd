"""Stability of the dynamic Laplacian PE on real model graphs (figures for bgb-model's README).

Run: ``uv run python benchmarks/bench_pe.py [--checkpoint runs/demo/best.pt]``. For the freshly
initialised default model, and for a trained checkpoint when given (its own cached dev windows
are the input), the script captures the learned adjacency of every step and reports:

(a) the spectrum of the normalised Laplacian: range of the non-trivial eigenvalues, median
    and smallest gap between neighbouring eigenvalues;
(b) how the PE moves between consecutive steps: median |cos| between a PE column at step t
    and at step t + 1, and the relative change ||PE_t+1 - PE_t|| / ||PE_t||, for the spectral
    signatures bgb computes and, as the baseline, the eigenvector PE they replaced (the first
    k non-trivial eigenvectors, largest component made positive);
(c) end to end: the relative change of the logits when the input EEG moves by a relative
    1e-6, with the model's PE, with the eigenvector PE swapped in (same weights), and with the
    PE replaced by zeros.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from bgb_model import Detector, DetectorConfig
from bgb_model.laplacian_pe import normalized_laplacian

SFREQ_HZ = 256


def eigenvector_pe(adjacency: Tensor, k: int) -> Tensor:
    """The replaced PE: k non-trivial eigenvectors, each with its largest component positive."""
    _, vectors = torch.linalg.eigh(normalized_laplacian(adjacency.float()))
    vectors = vectors[..., 1 : k + 1]  # (..., N, k)
    pivot = vectors.abs().argmax(dim=-2, keepdim=True)  # (..., 1, k)
    sign = torch.where(vectors.gather(-2, pivot) < 0, -1.0, 1.0)
    return vectors * sign


def capture_adjacency(model: Detector, x: Tensor) -> Tensor:
    """The learned adjacency of every step. Shapes: x (B, 19, S) -> (B, T, 19, 19)."""
    assert model.edge_stream is not None
    seen: list[Tensor] = []
    handle = model.edge_stream.register_forward_hook(lambda _m, _i, out: seen.append(out))
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen[0]


def spectrum_report(adjacency: Tensor) -> str:
    """(a) non-trivial eigenvalue range, median and smallest neighbour gap."""
    eigenvalues = torch.linalg.eigvalsh(normalized_laplacian(adjacency.double()))[..., 1:]
    gaps = eigenvalues.diff(dim=-1)
    return (
        f"non-trivial eigenvalues in [{eigenvalues.min():.3f}, {eigenvalues.max():.3f}] "
        f"(per graph: median spread {(eigenvalues[..., -1] - eigenvalues[..., 0]).median():.3f})"
        f", neighbour gap median {gaps.median():.1e}, smallest {gaps.min():.1e}"
    )


def motion_report(pe: Tensor) -> str:
    """(b) median |cos| of PE columns between consecutive steps and relative change."""
    now, after = pe[:, :-1], pe[:, 1:]  # (B, T-1, N, k)
    cos = torch.nn.functional.cosine_similarity(now, after, dim=-2).abs()  # (B, T-1, k)
    change = (after - now).flatten(-2).norm(dim=-1) / now.flatten(-2).norm(dim=-1)
    return f"median |cos| {cos.median():.3f}, median relative step change {change.median():.2e}"


def sensitivity(model: Detector, x: Tensor, pe_mode: str) -> float:
    """(c) relative logit change for a relative 1e-6 input perturbation, PE swapped as asked."""
    original = model._positional_encoding
    k = model.config.graph.pe_k

    def swapped(adjacency: Tensor) -> Tensor | None:
        if pe_mode == "eigenvectors":
            return eigenvector_pe(adjacency, k)
        if pe_mode == "zeros":
            pe = original(adjacency)
            return None if pe is None else torch.zeros_like(pe)
        return original(adjacency)

    model._positional_encoding = swapped  # type: ignore[method-assign]
    try:
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            base = model(x)
            moved = model(x * (1 + 1e-6 * noise))
    finally:
        del model._positional_encoding
    return float((moved - base).norm() / base.norm())


def report(name: str, model: Detector, x: Tensor) -> None:
    model.eval()
    adjacency = capture_adjacency(model, x)
    k = model.config.graph.pe_k
    print(f"{name}: {x.shape[0]} windows of {x.shape[-1] / SFREQ_HZ:.0f} s, "
          f"{adjacency.shape[1]} steps each, k = {k}")  # fmt: skip
    print(f"  (a) {spectrum_report(adjacency)}")
    print(
        f"  (b) spectral signatures (bgb):  {motion_report(model._positional_encoding(adjacency))}"
    )  # type: ignore[arg-type]
    print(f"      eigenvectors (replaced):     {motion_report(eigenvector_pe(adjacency, k))}")
    for mode in ("model", "eigenvectors", "zeros"):
        print(f"  (c) PE {mode:>12}: relative logit change {sensitivity(model, x, mode):.1e}")


def trained_windows(checkpoint: Path, n_windows: int) -> tuple[Detector, Tensor]:
    """The checkpoint's model and ``n_windows`` windows of its run's cached dev split."""
    from bgb.trained import load_trained
    from bgb_data import WindowDataset

    trained = load_trained(checkpoint, torch.device("cpu"), backend="torch")
    data = trained.config.data
    cache_dir = data.cache_dir
    windows = WindowDataset(cache_dir, "dev", window_s=data.window_s, stride_s=data.stride_s)
    step = max(1, len(windows) // n_windows)
    x = torch.stack([torch.as_tensor(windows[i][0]) for i in range(0, len(windows), step)])
    return trained.model, x[:n_windows]  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a trained bgb checkpoint (best.pt)")
    parser.add_argument("--windows", type=int, default=4, help="dev windows of the checkpoint")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fresh_x = torch.randn(1, 19, 60 * SFREQ_HZ, generator=torch.Generator().manual_seed(0))
    report("default model, fresh initialisation", Detector(DetectorConfig(), "torch"), fresh_x)
    if args.checkpoint is not None:
        model, x = trained_windows(args.checkpoint, args.windows)
        report(f"trained: {args.checkpoint}", model, x)


if __name__ == "__main__":
    main()
