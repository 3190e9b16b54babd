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
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgb_cli.inference import inference_batch_size, predict_recording
from bgb_cli.plots import plot_probability_trace
from bgb_cli.trained import TrainedDetector

__all__ = [
    "DetectionOutput",
    "OperatingPointChoice",
    "choose_operating_point",
    "detect_file",
    "output_stem",
    "unique_stems",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperatingPointChoice:
    """The post-processing ``bgb detect`` applies and a one-line account of where it came from."""

    post_config: Any
    """``bgb_post.PostprocessConfig`` with the chosen thresholds."""
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
    changes = {k: v for k, v in (("tau_on", tau_on), ("tau_off", tau_off)) if v is not None}
    if not changes:
        return choice
    return dataclasses.replace(
        choice,
        post_config=dataclasses.replace(choice.post_config, **changes),
        source=f"--tau-on/--tau-off over the {choice.source}",
        dev_sensitivity=None,
        dev_fa_per_24h=None,
    )


@dataclass
class DetectionOutput:
    """The events found in one recording and the files written for it."""

    edf: Path
    events: np.ndarray
    duration_s: float
    csv_bi: Path
    events_tsv: Path
    png: Path
    sidecar: Path
    interpolated: dict[str, str]
    """Electrode -> why it was interpolated from its neighbours (missing, flat, ...)."""


def detect_file(
    edf: Path,
    detector: TrainedDetector,
    out_dir: Path,
    device: torch.device,
    *,
    choice: OperatingPointChoice | None = None,
    stride_s: float | None = None,
    on_batch: Callable[[int], None] | None = None,
    stem: str | None = None,
) -> DetectionOutput:
    """Preprocess ``edf`` into a temporary memory-mapped array, run the detector over it in
    overlapping windows, post-process, and write ``<stem>.csv_bi``, ``<stem>_events.tsv``,
    ``<stem>.png`` and ``<stem>_detect.json`` (the settings and thresholds used) into
    ``out_dir``. ``choice`` (default: :func:`choose_operating_point`'s) gives the thresholds;
    ``stride_s`` (default: the checkpoint's inference stride) is the step between window
    starts, at most the window length. ``stem`` names the outputs (default: the EDF's name
    without its suffix). Each file is written to a temporary name and renamed into place, so
    a reader never sees a half-written output.

    Raises:
        bgb_data.RecordingError: the file is not a usable EEG recording (the reason says why).
    """
    from bgb_data import SFREQ_HZ, prepare_recording, read_edf_header
    from bgb_eval import write_csv_bi, write_events_tsv
    from bgb_post import postprocess

    config = detector.config
    choice = choice if choice is not None else choose_operating_point(detector)
    post = choice.post_config
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
    stem = stem if stem is not None else output_stem(edf)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = DetectionOutput(
        edf=edf,
        events=events,
        duration_s=duration_s,
        csv_bi=out_dir / f"{stem}.csv_bi",
        events_tsv=out_dir / f"{stem}_events.tsv",
        png=out_dir / f"{stem}.png",
        sidecar=out_dir / f"{stem}_detect.json",
        interpolated=dict(info.interpolation_reasons),
    )
    comments = [
        ("bgb_checkpoint", str(detector.path)),
        ("bgb_operating_point", choice.source),
        ("bgb_tau_on", f"{post.tau_on:.6g}"),
        ("bgb_tau_off", f"{post.tau_off:.6g}"),
        ("bgb_stride_s", f"{stride:g}"),
    ]
    with _published(output.csv_bi) as tmp:
        write_csv_bi(tmp, events, duration_s, bname=stem, comments=comments)
    with _published(output.events_tsv) as tmp:
        write_events_tsv(tmp, events, duration_s, date_time=read_edf_header(edf).start)
    with _published(output.png) as tmp:
        plot_probability_trace(
            tmp,
            probs,
            SFREQ_HZ,
            events,
            thresholds=(post.tau_on, post.tau_off),
            title=edf.name,
        )
    sidecar = {
        "edf": str(edf),
        "checkpoint": str(detector.path),
        "checkpoint_epoch": detector.epoch,
        "duration_s": duration_s,
        "n_events": len(events),
        "window_s": config.data.window_s,
        "stride_s": stride,
        "operating_point": choice.to_dict(),
        "channels": {
            "sfreq_in_hz": info.sfreq_in_hz,
            "reference": info.reference,
            "read_from": info.channel_of,
            "interpolated": output.interpolated,
        },
    }
    with _published(output.sidecar) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n")
    log.info("%s: %d events in %.0f s", edf, len(events), duration_s)
    return output


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
