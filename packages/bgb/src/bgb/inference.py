"""Whole-recording inference: overlapping windows, stitched back into one probability trace."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from bgb_data import RowFile, window_starts

__all__ = ["autocast_context", "inference_batch_size", "predict_recording", "resolve_device"]


def resolve_device(choice: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA device")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def autocast_context(
    device: torch.device, enabled: bool
) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast where the device supports it, fp16 on older CUDA, nothing when off."""
    if not enabled:
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast(device.type, dtype=torch.bfloat16)


def inference_batch_size(configured: int | None, device: torch.device) -> int:
    """Windows per forward pass: ``configured`` when set, else 16 on CUDA and 1 on CPU.

    On CPU a batch of 16 full-sized windows was about twice as slow per window as one window
    at a time, and took five times the memory: its activations exceed what the allocator keeps
    for reuse, so every large tensor costs fresh pages.
    """
    if configured is not None:
        return configured
    return 16 if device.type == "cuda" else 1


def _batches(starts: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for first in range(0, len(starts), batch_size):
        yield starts[first : first + batch_size]


@torch.inference_mode()
def predict_recording(
    model: nn.Module,
    signal: np.ndarray | RowFile,
    *,
    window_n: int,
    stride_n: int,
    batch_size: int,
    device: torch.device,
    mixed_precision: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Per-sample seizure probability of one whole recording.

    Windows of ``window_n`` samples every ``stride_n`` samples (the last one ending on the
    last sample) go through the model a batch at a time; where windows overlap, their
    probabilities are averaged. Only one batch of windows is in memory at a time, so a
    memory-mapped ``signal``, or a :func:`bgb_data.open_npy_rows` reader that keeps no more than
    those columns resident, of any length works. A recording shorter than one window is
    zero-padded at its end (zero is each channel's normalised centre) and the padding's
    output dropped.

    Shapes:
        signal: (19, n_samples) -> returns (n_samples,) float32 in [0, 1].
    """
    n_channels, n_samples = signal.shape
    padded_n = max(n_samples, window_n)
    starts = window_starts(padded_n, window_n, stride_n)
    total = np.zeros(padded_n, dtype=np.float32)
    counts = np.zeros(padded_n, dtype=np.uint16)
    model.eval()
    for batch_starts in _batches(starts, batch_size):
        windows = np.zeros((len(batch_starts), n_channels, window_n), dtype=np.float32)
        for row, start in enumerate(batch_starts):
            piece = signal[:, start : min(start + window_n, n_samples)]
            windows[row, :, : piece.shape[1]] = piece
        x = torch.from_numpy(windows).to(device, _parameter_dtype(model))
        with autocast_context(device, mixed_precision):
            logits = model(x)
        probs = torch.sigmoid(logits.float()).cpu().numpy()
        for row, start in enumerate(batch_starts):
            total[start : start + window_n] += probs[row]
            counts[start : start + window_n] += 1
        if on_batch is not None:
            on_batch(len(batch_starts))
    if np.any(counts[:n_samples] == 0):
        raise RuntimeError("window placement left samples uncovered; this is a bug")
    return (total[:n_samples] / counts[:n_samples]).astype(np.float32)


def _parameter_dtype(model: nn.Module) -> torch.dtype:
    """The dtype the model computes in (float64 after ``training.float64``, else float32)."""
    first = next(model.parameters(), None)
    return torch.float32 if first is None else first.dtype
