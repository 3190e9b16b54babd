"""Seizure detection in a user's EDF recordings, a file at a time, in bounded memory."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bgb_cli.inference import inference_batch_size, predict_recording
from bgb_cli.plots import plot_probability_trace
from bgb_cli.trained import TrainedDetector

__all__ = ["DetectionOutput", "detect_file"]

log = logging.getLogger(__name__)


@dataclass
class DetectionOutput:
    """The events found in one recording and the files written for it."""

    edf: Path
    events: np.ndarray
    duration_s: float
    csv_bi: Path
    events_tsv: Path
    png: Path


def detect_file(
    edf: Path,
    detector: TrainedDetector,
    out_dir: Path,
    device: torch.device,
    *,
    post_config: object | None = None,
    stride_s: float | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> DetectionOutput:
    """Preprocess ``edf`` into a temporary memory-mapped array, run the detector over it in
    overlapping windows, post-process, and write ``<stem>.csv_bi``, ``<stem>_events.tsv`` and
    ``<stem>.png`` into ``out_dir``. ``stride_s`` (default: the checkpoint's inference stride)
    is the step between window starts, at most the window length.

    Raises:
        bgb_data.RecordingError: the file is not a usable EEG recording (the reason says why).
    """
    from bgb_data import SFREQ_HZ, prepare_recording
    from bgb_eval import write_csv_bi, write_events_tsv
    from bgb_post import postprocess

    config = detector.config
    post = post_config if post_config is not None else config.postprocess_config()
    window_n = round(config.data.window_s * SFREQ_HZ)
    stride = config.evaluation.inference_stride_s if stride_s is None else stride_s
    stride_n = round(stride * SFREQ_HZ)
    if not 0 < stride_n <= window_n:
        raise ValueError(f"detect: stride {stride} s must be in (0, {config.data.window_s}] s")
    with tempfile.TemporaryDirectory(prefix="bgb-detect-") as scratch:
        prepared = Path(scratch) / "signal.npy"
        info = prepare_recording(edf, prepared)
        signal = np.load(prepared, mmap_mode="r")
        probs = predict_recording(
            detector.model,
            signal,
            window_n=window_n,
            stride_n=stride_n,
            batch_size=inference_batch_size(config.evaluation.batch_size, device),
            device=device,
            on_batch=on_batch,
        )
        del signal
    events = postprocess(probs, SFREQ_HZ, post)
    duration_s = float(info.duration_s)
    stem = edf.name[: -len(edf.suffix)] if edf.suffix else edf.name
    out_dir.mkdir(parents=True, exist_ok=True)
    output = DetectionOutput(
        edf=edf,
        events=events,
        duration_s=duration_s,
        csv_bi=out_dir / f"{stem}.csv_bi",
        events_tsv=out_dir / f"{stem}_events.tsv",
        png=out_dir / f"{stem}.png",
    )
    write_csv_bi(output.csv_bi, events, duration_s)
    write_events_tsv(output.events_tsv, events, duration_s)
    plot_probability_trace(
        output.png,
        probs,
        SFREQ_HZ,
        events,
        thresholds=(post.tau_on, post.tau_off),  # type: ignore[attr-defined]
        title=edf.name,
    )
    log.info("%s: %d events in %.0f s", edf, len(events), duration_s)
    return output
