"""Seizure detection in a user's EDF recordings, a file at a time, in bounded memory."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgb.inference import inference_batch_size, predict_recording, resolve_device
from bgb.plots import plot_probability_trace
from bgb.trained import TrainedDetector, load_trained
from bgb_data import SFREQ_HZ, open_npy_rows, prepare_recording, read_edf_header
from bgb_events import write_csv_bi, write_events_tsv
from bgb_post import PostprocessConfig, postprocess

__all__ = [
    "Detection",
    "DetectionFiles",
    "OperatingPointChoice",
    "Recording",
    "choose_operating_point",
    "detect",
    "output_stem",
    "unique_stems",
    "write_detection",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperatingPointChoice:
    """The post-processing ``bgb detect`` applies and a one-line account of where it came from."""

    post_config: PostprocessConfig
    """The post-processing, with the chosen thresholds."""
    source: str
    """E.g. "10 FA/24h operating point chosen on dev at epoch 3"."""
    target_fa_per_24h: float | None
    """The calibrated target used, None when the thresholds did not come from one."""
    dev_sensitivity: float | None
    dev_fa_per_24h: float | None
    calibration_stride_s: float | None
    """The inference stride the thresholds were chosen at (None without calibration)."""

    def describe(self) -> str:
        """One line for the user: which point, which thresholds."""
        post = self.post_config
        line = f"{self.source}: tau_on {post.tau_on:.4f}, tau_off {post.tau_off:.4f}"
        if post.smoothing_s is not None:
            line += f" on the {post.smoothing_s:g} s moving average"
            if post.trim_to_raw:
                line += ", edges from the raw trace"
        if self.dev_sensitivity is not None and self.dev_fa_per_24h is not None:
            line += (
                f" (dev OVLP sensitivity {self.dev_sensitivity:.3f} at "
                f"{self.dev_fa_per_24h:.2f} FA/24h)"
            )
        return line

    def to_dict(self) -> dict[str, Any]:
        """For the JSON sidecar."""
        return {
            "source": self.source,
            "target_fa_per_24h": self.target_fa_per_24h,
            "tau_on": self.post_config.tau_on,
            "tau_off": self.post_config.tau_off,
            "dev_sensitivity": self.dev_sensitivity,
            "dev_fa_per_24h": self.dev_fa_per_24h,
            "calibration_stride_s": self.calibration_stride_s,
            "postprocessing": dataclasses.asdict(self.post_config),
        }


DEFAULT_OPERATING_POINT_FA = 10.0
"""The calibrated point ``bgb detect`` applies unless told otherwise (FA/24h)."""


def choose_operating_point(
    detector: TrainedDetector,
    target_fa_per_24h: float | None = None,
    tau_on: float | None = None,
    tau_off: float | None = None,
) -> OperatingPointChoice:
    """The thresholds to detect with: the checkpoint's calibrated point for
    ``target_fa_per_24h`` (default 10 FA/24h), then ``tau_on``/``tau_off`` where given.

    Without a calibration, or when dev found no threshold for the default target, the run
    config's thresholds are used and ``source`` says so.

    Raises:
        ValueError: ``target_fa_per_24h`` was asked for and the checkpoint has no usable point
            for it (the message lists the ones it has), or the thresholds are inconsistent.
    """
    calibration = detector.calibration
    asked = target_fa_per_24h is not None
    target = DEFAULT_OPERATING_POINT_FA if target_fa_per_24h is None else target_fa_per_24h
    point = None if calibration is None else calibration.point(target)
    if asked and (calibration is None or point is None or not point.usable):
        usable = [] if calibration is None else [p for p in calibration.points if p.usable]
        have = (
            "no calibration"
            if calibration is None
            else "usable points for "
            + (", ".join(f"{p.target_fa_per_24h:g}" for p in usable) or "no")
            + " FA/24h"
        )
        raise ValueError(
            f"--operating-point {target:g}: the checkpoint has {have}; "
            "give --tau-on/--tau-off, or another target"
        )
    if calibration is not None and point is not None and point.usable:
        choice = OperatingPointChoice(
            post_config=calibration.post_config(point),
            source=(
                f"{target:g} FA/24h operating point chosen on {calibration.split} "
                f"at epoch {calibration.epoch}"
            ),
            target_fa_per_24h=target,
            dev_sensitivity=point.dev_sensitivity,
            dev_fa_per_24h=point.dev_fa_per_24h,
            calibration_stride_s=calibration.inference_stride_s,
        )
    else:
        why = (
            "the checkpoint holds no calibration"
            if calibration is None
            else f"dev found no threshold reaching {target:g} FA/24h"
        )
        choice = OperatingPointChoice(
            post_config=detector.config.postprocess_config(),
            source=f"{why}; the run config's thresholds",
            target_fa_per_24h=None,
            dev_sensitivity=None,
            dev_fa_per_24h=None,
            calibration_stride_s=None,
        )
    if tau_on is None and tau_off is None:
        return choice
    post = choice.post_config
    return dataclasses.replace(
        choice,
        post_config=dataclasses.replace(
            post,
            tau_on=post.tau_on if tau_on is None else tau_on,
            tau_off=post.tau_off if tau_off is None else tau_off,
        ),
        source=f"--tau-on/--tau-off over the {choice.source}",
        dev_sensitivity=None,
        dev_fa_per_24h=None,
    )


@dataclass(frozen=True)
class DetectionFiles:
    """The files :func:`detect` wrote for one recording."""

    csv_bi: Path
    """TUSZ events, with header comments naming the checkpoint and thresholds."""
    events_tsv: Path
    """BIDS/SzCORE events."""
    png: Path | None
    """The probability trace with thresholds and events (None when not plotted)."""
    sidecar: Path
    """``<stem>_detect.json``: checkpoint, stride, operating point, channels."""


@dataclass(frozen=True)
class Detection:
    """The seizures found in one recording, with the probability trace they came from."""

    source: str
    """The EDF's path, or the name given to an MNE ``Raw``."""
    events: np.ndarray
    """``EVENT_DTYPE`` events (``start_s``, ``stop_s``, ``confidence``), seconds from the start."""
    probabilities: np.ndarray
    """Per-sample seizure probability at ``sfreq_hz``; shape (n_samples,)."""
    sfreq_hz: float
    duration_s: float
    stride_s: float
    """Seconds between window starts of the inference."""
    thresholds: OperatingPointChoice
    interpolated: dict[str, str]
    """Electrode -> why it was interpolated from its neighbours (missing, flat, ...)."""
    channels: dict[str, Any]
    """Input rate, reference, and which input channel each electrode was read from."""
    files: DetectionFiles | None
    """What was written (None without ``out_dir``)."""


Recording = str | os.PathLike[str] | Any
"""An EDF path, or an ``mne.io.BaseRaw`` (any object with ``ch_names``, ``info`` and
``get_data``)."""


def detect(
    recording: Recording,
    checkpoint: str | os.PathLike[str] | TrainedDetector,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device = "auto",
    operating_point: float | None = None,
    tau_on: float | None = None,
    tau_off: float | None = None,
    stride_s: float | None = None,
    stem: str | None = None,
    on_batch: Callable[[int], None] | None = None,
    plot: bool = True,
) -> Detection:
    """Detect seizures in one recording: an EDF file or an MNE ``Raw``.

    The recording goes through the cache's preprocessing (same recipe as training) into a
    temporary memory-mapped array; the detector runs over it in windows ``stride_s`` apart
    (default: the checkpoint's inference stride, at most the window length); the trace is
    post-processed at the checkpoint's operating point for ``operating_point`` FA/24h
    (default 10, chosen on dev), with ``tau_on``/``tau_off`` overriding its thresholds.

    With ``out_dir``, ``<stem>.csv_bi``, ``<stem>_events.tsv``, ``<stem>.png`` (unless
    ``plot`` is False) and ``<stem>_detect.json`` are written there, each under a temporary
    name renamed into place (``stem`` defaults to the EDF's name without suffix, or ``raw``
    for a ``Raw``).
    ``checkpoint`` may be a path or a detector :func:`bgb.load_trained` returned (loading once
    for many recordings); ``on_batch`` is called with the number of windows after each batch.

    Raises:
        bgb_data.RecordingError: the recording is not usable EEG (the reason says why).
        ValueError: a bad stride or operating point, or a checkpoint that cannot be used.
    """
    torch_device = resolve_device(device) if isinstance(device, str) else device
    detector = (
        checkpoint
        if isinstance(checkpoint, TrainedDetector)
        else load_trained(Path(checkpoint), torch_device)
    )
    choice = choose_operating_point(detector, operating_point, tau_on, tau_off)
    config = detector.config
    window_n = round(config.data.window_s * SFREQ_HZ)
    stride = config.inference_stride_s() if stride_s is None else stride_s
    stride_n = round(stride * SFREQ_HZ)
    if not 0 < stride_n <= window_n:
        raise ValueError(f"detect: stride {stride} s must be in (0, {config.data.window_s}] s")
    is_path = isinstance(recording, (str, os.PathLike))
    source = str(recording) if is_path else str(stem or "raw")
    with tempfile.TemporaryDirectory(prefix="bgb-detect-") as scratch:
        prepared = Path(scratch) / "signal.npy"
        info = prepare_recording(Path(recording) if is_path else recording, prepared)
        # read a batch's columns at a time: a memory map read from end to end would keep the
        # whole prepared recording resident (0.84 GB for 24 h)
        with open_npy_rows(prepared) as signal:
            probs = predict_recording(
                detector.model,
                signal,
                window_n=window_n,
                stride_n=stride_n,
                batch_size=inference_batch_size(config.evaluation.batch_size, torch_device),
                device=torch_device,
                on_batch=on_batch,
            )
    detection = Detection(
        source=source,
        events=postprocess(probs, SFREQ_HZ, choice.post_config),
        probabilities=probs,
        sfreq_hz=float(SFREQ_HZ),
        duration_s=float(info.duration_s),
        stride_s=stride,
        thresholds=choice,
        interpolated=dict(info.interpolation_reasons),
        channels={
            "sfreq_in_hz": info.sfreq_in_hz,
            "reference": info.reference,
            "read_from": info.channel_of,
            "interpolated": dict(info.interpolation_reasons),
        },
        files=None,
    )
    log.info("%s: %d events in %.0f s", source, len(detection.events), detection.duration_s)
    if out_dir is None:
        return detection
    if stem is None:
        stem = output_stem(Path(recording)) if is_path else "raw"
    start = read_edf_header(Path(recording)).start if is_path else _raw_start(recording)
    files = write_detection(detection, detector, Path(out_dir), stem, start, plot=plot)
    return dataclasses.replace(detection, files=files)


def _raw_start(raw: Any) -> datetime | None:
    """The recording start of an MNE ``Raw`` (its ``meas_date``), None when unknown."""
    start = raw.info.get("meas_date")
    return start if isinstance(start, datetime) else None


def write_detection(
    detection: Detection,
    detector: TrainedDetector,
    out_dir: Path,
    stem: str,
    start: datetime | None,
    *,
    plot: bool = True,
) -> DetectionFiles:
    """Write a detection's files into ``out_dir``, each renamed into place when whole.

    Four files, or three with ``plot`` False (no ``<stem>.png``).
    """
    post = detection.thresholds.post_config
    events, duration_s = detection.events, detection.duration_s
    out_dir.mkdir(parents=True, exist_ok=True)
    files = DetectionFiles(
        csv_bi=out_dir / f"{stem}.csv_bi",
        events_tsv=out_dir / f"{stem}_events.tsv",
        png=out_dir / f"{stem}.png" if plot else None,
        sidecar=out_dir / f"{stem}_detect.json",
    )
    comments = [
        ("bgb_checkpoint", str(detector.path)),
        ("bgb_operating_point", detection.thresholds.source),
        ("bgb_tau_on", f"{post.tau_on:.6g}"),
        ("bgb_tau_off", f"{post.tau_off:.6g}"),
        ("bgb_stride_s", f"{detection.stride_s:g}"),
    ]
    if post.smoothing_s is not None:
        comments.append(("bgb_smoothing_s", f"{post.smoothing_s:g}"))
        comments.append(("bgb_trim_to_raw", "true" if post.trim_to_raw else "false"))
    with _published(files.csv_bi) as tmp:
        write_csv_bi(tmp, events, duration_s, bname=stem, comments=comments)
    with _published(files.events_tsv) as tmp:
        write_events_tsv(tmp, events, duration_s, date_time=start)
    if files.png is not None:
        with _published(files.png) as tmp:
            plot_probability_trace(
                tmp,
                detection.probabilities,
                detection.sfreq_hz,
                events,
                thresholds=(post.tau_on, post.tau_off),
                smoothing_s=post.smoothing_s,
                title=Path(detection.source).name,
            )
    sidecar = {
        "edf": detection.source,
        "checkpoint": str(detector.path),
        "checkpoint_epoch": detector.epoch,
        "duration_s": duration_s,
        "n_events": len(events),
        "window_s": detector.config.data.window_s,
        "stride_s": detection.stride_s,
        "operating_point": detection.thresholds.to_dict(),
        "channels": detection.channels,
    }
    with _published(files.sidecar) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n")
    return files


def output_stem(edf: Path) -> str:
    """The name detect's outputs for ``edf`` start with: the file name without its suffix."""
    return edf.name[: -len(edf.suffix)] if edf.suffix else edf.name


def unique_stems(edfs: Sequence[Path]) -> list[str]:
    """Output stems for ``edfs``, made distinct: a stem that several inputs share gets the
    input's position among them appended (``x``, ``x_2``, ``x_3``), so no output overwrites
    another's. Unique stems stay as they are."""
    stems = [output_stem(edf) for edf in edfs]
    shared = {stem for stem in stems if stems.count(stem) > 1}
    seen: dict[str, int] = {}
    result = []
    for stem in stems:
        if stem not in shared:
            result.append(stem)
            continue
        seen[stem] = seen.get(stem, 0) + 1
        result.append(stem if seen[stem] == 1 else f"{stem}_{seen[stem]}")
    return result


@contextmanager
def _published(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``; on success it is flushed to disk and renamed onto
    ``path``, on failure removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
