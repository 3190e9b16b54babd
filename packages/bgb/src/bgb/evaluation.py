"""Whole-recording evaluation: stitched inference per recording, post-processing, scoring
pooled over a split, operating points chosen on dev and frozen for eval, and the report.

Recordings the cache skipped (too short, unreadable, ...) cannot be scored, but they are part
of the split: each score is given twice, over the scored recordings and over the whole split,
where a skipped recording counts as one on which the detector output nothing (its seizures
missed, its hours in the FA/24h denominator), as NEDC scores an empty hypothesis file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgb.calibration import Calibration, calibration_from_sweep
from bgb.config import RunConfig
from bgb.corpus import ensure_cache
from bgb.inference import inference_batch_size, predict_recording, resolve_device
from bgb.plots import plot_probability_trace
from bgb.reporting import format_markdown
from bgb.skipped import Missed, as_missed, skipped_recordings, whole_split_summary
from bgb.trained import load_trained, store_calibration
from bgb_data import SFREQ_HZ, Manifest, RecordingEntry, open_labels, open_signal
from bgb_eval import (
    SweepResult,
    auroc,
    plot_sensitivity_fa_curve,
    pr_auc,
    score_recordings,
    sweep_operating_points,
)
from bgb_events import make_events, merge_overlapping
from bgb_post import PostprocessConfig, postprocess

__all__ = [
    "RecordingPrediction",
    "SplitSweep",
    "evaluate",
    "evaluate_run",
    "predict_split",
    "sample_ranking",
    "sweep_split",
]

log = logging.getLogger(__name__)


@dataclass
class RecordingPrediction:
    """One recording's stitched probability trace next to its reference events."""

    entry: RecordingEntry
    probs: np.ndarray
    reference: np.ndarray
    duration_s: float


def predict_split(
    model: torch.nn.Module, config: RunConfig, cache_dir: Path, split: str, device: torch.device
) -> list[RecordingPrediction]:
    """Stitched per-sample probabilities for every usable recording of ``split``."""

    window_n = round(config.data.window_s * SFREQ_HZ)
    stride_n = round(config.inference_stride_s() * SFREQ_HZ)
    predictions = []
    for entry in Manifest.load(cache_dir).select(split=split):
        probs = predict_recording(
            model,
            open_signal(cache_dir, entry),
            window_n=window_n,
            stride_n=stride_n,
            batch_size=inference_batch_size(config.evaluation.batch_size, device),
            device=device,
            mixed_precision=config.training.mixed_precision,
        )
        seizures = np.asarray(entry.seizures, dtype=np.float64).reshape(-1, 2)
        reference = merge_overlapping(make_events(seizures[:, 0], seizures[:, 1]))
        duration_s = len(probs) / SFREQ_HZ
        predictions.append(RecordingPrediction(entry, probs, reference, duration_s))
    return predictions


_TAIL_THRESHOLDS = (0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999)
"""Extra sweep thresholds near 1: a detector whose scores saturate (boosted trees, a
well-separated network) otherwise has no point between the top of the even grid and
nothing, and its strict operating points are lost."""


def sweep_thresholds(n: int) -> np.ndarray:
    """``n`` evenly spaced thresholds strictly inside (0, 1), plus the tail thresholds."""
    even = (np.arange(n) + 0.5) / n
    return np.unique(np.concatenate([even, _TAIL_THRESHOLDS]))


@dataclass
class SplitSweep:
    """An OVLP threshold sweep over one split's predictions."""

    result: SweepResult
    targets: tuple[float, ...]

    def summary(self) -> dict[str, float | None]:
        """Per target: sensitivity, FA/24h and threshold of the chosen point (None if none)."""
        row: dict[str, float | None] = {}
        for target in self.targets:
            point = self.result.best[float(target)]
            row[f"sensitivity_at_{target:g}fa"] = None if point is None else point.sensitivity
            row[f"fa_at_{target:g}fa"] = None if point is None else point.fa_per_24h
            row[f"threshold_at_{target:g}fa"] = None if point is None else point.threshold
        return row


def sweep_split(predictions: Sequence[RecordingPrediction], config: RunConfig) -> SplitSweep:
    """Sweep hysteresis thresholds over a split and choose one per FA/24h target."""

    targets = tuple(
        sorted({*config.evaluation.fa_targets, config.evaluation.early_stopping_fa}, reverse=True)
    )
    result = sweep_operating_points(
        [p.probs for p in predictions],
        [p.reference for p in predictions],
        [p.duration_s for p in predictions],
        SFREQ_HZ,
        config.postprocess_config(),
        sweep_thresholds(config.evaluation.n_thresholds).tolist(),
        targets,
        method="ovlp",
    )
    return SplitSweep(result=result, targets=targets)


def _score_all(
    predictions: Sequence[RecordingPrediction],
    post_config: PostprocessConfig,
    missed: Sequence[Missed],
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Per method, the scores pooled over the scored recordings, and under ``whole_split``
    over them and the ``missed`` (skipped) ones; also each scored recording's events."""

    events = [postprocess(p.probs, SFREQ_HZ, post_config) for p in predictions]
    scored = [(p.reference, hyp, p.duration_s) for p, hyp in zip(predictions, events, strict=True)]
    scores = _methods(score_recordings(scored).to_dict())
    # One pool, so that every method counts a skipped recording exactly as NEDC counts an
    # empty hypothesis file (SzCORE's merging of close seizures included).
    whole = _methods(score_recordings([*scored, *missed]).to_dict()) if missed else dict(scores)
    return {**scores, "whole_split": whole}, events


def _methods(scores: dict[str, Any]) -> dict[str, Any]:
    return {key: scores[key] for key in ("ovlp", "taes", "szcore")}


def sample_ranking(predictions: Sequence[RecordingPrediction], cache_dir: Path) -> dict[str, Any]:

    probs = np.concatenate([p.probs for p in predictions])
    labels = np.concatenate([np.asarray(open_labels(cache_dir, p.entry)) for p in predictions])
    if labels.min() == labels.max():
        return {"auroc": None, "pr_auc": None}
    return {"auroc": auroc(probs, labels), "pr_auc": pr_auc(probs, labels)}


def _operating_points(
    predictions: Sequence[RecordingPrediction], calibration: Calibration, missed: Sequence[Missed]
) -> list[dict[str, Any]]:
    """Scores of ``predictions`` (and of the whole split) at each calibrated operating point."""
    points = []
    for point in calibration.points:
        entry: dict[str, Any] = {
            "target_fa_per_24h": point.target_fa_per_24h,
            "tau_on": point.tau_on,
            "tau_off": point.tau_off,
            "dev_sensitivity": point.dev_sensitivity,
            "dev_fa_per_24h": point.dev_fa_per_24h,
        }
        if point.usable:
            scores, _ = _score_all(predictions, calibration.post_config(point), missed)
            entry.update(**scores)
        points.append(entry)
    return points


def _settings_differ(calibration: Calibration, config: RunConfig) -> str | None:
    """Why ``calibration`` does not fit this evaluation's inference settings, or None."""
    if calibration.window_s != config.data.window_s:
        return f"window {calibration.window_s} s there, {config.data.window_s} s here"
    if calibration.inference_stride_s != config.inference_stride_s():
        return (
            f"inference stride {calibration.inference_stride_s} s there, "
            f"{config.inference_stride_s()} s here"
        )
    # Through the dataclass, so that fields added since the checkpoint take their defaults.
    stored = dataclasses.asdict(PostprocessConfig(**calibration.postprocessing))
    if stored != dataclasses.asdict(config.postprocess_config()):
        return "other post-processing settings"
    return None


def _figures(
    predictions: Sequence[RecordingPrediction],
    events: Sequence[np.ndarray],
    split_sweep: SplitSweep,
    operating_points: Sequence[dict[str, Any]],
    config: RunConfig,
    out_dir: Path,
) -> list[str]:

    names: list[str] = []
    if any(point.sensitivity is not None for point in split_sweep.result.points):
        names.append("sensitivity_fa_curve.png")
        plot_sensitivity_fa_curve(
            split_sweep.result.points,
            out_dir / names[0],
            title="OVLP sensitivity vs false alarms (operating points chosen on dev)",
            targets_fa_per_24h=config.evaluation.fa_targets,
            marked=[
                (p["ovlp"]["fa_per_24h"], p["ovlp"]["sensitivity"], f"{p['target_fa_per_24h']:g}")
                for p in operating_points
                if "ovlp" in p and p["ovlp"]["sensitivity"] is not None
            ],
        )
    else:
        log.warning("the evaluated split holds no seizure: no sensitivity-FA curve is drawn")
    post = config.postprocess_config()
    order = sorted(range(len(predictions)), key=lambda i: -len(predictions[i].reference))
    for i in order[: config.evaluation.max_plots]:
        name = f"recordings/{Path(predictions[i].entry.path).stem}.png"
        plot_probability_trace(
            out_dir / name,
            predictions[i].probs,
            SFREQ_HZ,
            events[i],
            reference=predictions[i].reference,
            thresholds=(post.tau_on, post.tau_off),
            smoothing_s=post.smoothing_s,
            title=predictions[i].entry.path,
        )
        names.append(name)
    return names


def evaluate_run(
    checkpoint: Path,
    config: RunConfig,
    cache_dir: Path,
    split: str,
    out_dir: Path,
    *,
    recalibrate: bool = False,
) -> dict[str, Any]:
    """Evaluate a checkpoint on ``split`` and write ``metrics.json``, ``report.md`` and
    figures into ``out_dir``; return the report.

    The operating points (thresholds per FA/24h target) are the checkpoint's calibration,
    chosen on dev and frozen. They are chosen on dev again, and stored in the checkpoint, when
    ``split`` is dev, when ``recalibrate`` is set, when the checkpoint has none, or when its
    calibration was made with other inference settings (window, stride, post-processing) than
    ``config`` holds; the report's ``thresholds_from`` says which.

    Every score is also given under ``whole_split`` for the whole split: the recordings the
    cache skipped (``skipped_recordings``, read back from the corpus at ``config.data.root``)
    are added as recordings with no detections; the report's ``whole_split`` says what that
    covers and whether it is complete.
    """

    device = resolve_device(config.training.device)
    trained = load_trained(checkpoint, device)
    stored = trained.calibration
    why = "asked" if recalibrate else None
    if stored is None:
        why = "the checkpoint holds no calibration"
    elif why is None and split != "dev":
        differ = _settings_differ(stored, config)
        why = None if differ is None else f"its calibration used {differ}"
    dev: list[RecordingPrediction] = []
    dev_sweep: SplitSweep | None = None
    if split == "dev" or why is not None:
        dev = predict_split(trained.model, config, cache_dir, "dev", device)
        if not dev:
            raise ValueError(f"{cache_dir}: no usable dev recordings to choose thresholds on")
        dev_sweep = sweep_split(dev, config)
        calibration = calibration_from_sweep(dev_sweep.result, config, trained.epoch, "dev")
        store_calibration(checkpoint, calibration)
        thresholds_from = "dev, chosen by this evaluation" + (f" ({why})" if why else "")
        log.info("operating points chosen on dev and stored in %s", checkpoint)
    else:
        assert stored is not None
        calibration = stored
        thresholds_from = f"checkpoint calibration (dev, epoch {calibration.epoch})"
    predictions = (
        dev if split == "dev" else predict_split(trained.model, config, cache_dir, split, device)
    )
    if not predictions:
        raise ValueError(f"{cache_dir}: no usable recordings in split {split!r}")
    skipped = skipped_recordings(cache_dir, split, config.data.root)
    missed = as_missed(skipped)
    if len(missed) < len(skipped):
        log.warning(
            "%d of the %d recordings the cache skipped in %s have unknown seizures or duration; "
            "the whole-split scores leave them out (see skipped_recordings in metrics.json)",
            len(skipped) - len(missed), len(skipped), split,
        )  # fmt: skip
    default_scores, events = _score_all(predictions, config.postprocess_config(), missed)
    post = config.postprocess_config()
    report: dict[str, Any] = {
        "split": split,
        "checkpoint": str(checkpoint),
        "epoch": trained.epoch,
        "thresholds_from": thresholds_from,
        "n_recordings": len(predictions),
        "total_duration_s": float(sum(p.duration_s for p in predictions)),
        "n_seizures": int(sum(len(p.reference) for p in predictions)),
        **sample_ranking(predictions, cache_dir),
        "default_thresholds": {"tau_on": post.tau_on, "tau_off": post.tau_off, **default_scores},
        "operating_points": _operating_points(predictions, calibration, missed),
        "calibration": calibration.to_dict(),
        "whole_split": whole_split_summary(predictions, skipped, missed, config.data.limit_files),
        "skipped_recordings": [s.to_dict() for s in skipped],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    split_sweep = (
        dev_sweep if split == "dev" and dev_sweep is not None else sweep_split(predictions, config)
    )
    figures = _figures(
        predictions, events, split_sweep, report["operating_points"], config, out_dir
    )
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(format_markdown(report, figures))
    log.info("evaluation of %s on %s written to %s", checkpoint, split, out_dir)
    return report


def evaluate(
    checkpoint: str | Path,
    config: RunConfig,
    split: str = "eval",
    out_dir: str | Path | None = None,
    *,
    recalibrate: bool = False,
) -> dict[str, Any]:
    """Score whole recordings of ``split`` at the checkpoint's operating points.

    The corpus of ``config.data`` is cached first (reusing what is cached). The report, its
    figures and ``metrics.json`` go to ``out_dir`` (default ``RUN_DIR/eval-<split>``); see
    :func:`evaluate_run` for when the operating points are chosen on dev again.

    Raises:
        ConfigError: no corpus at ``data.root``.
        ValueError: the split has no usable recordings, or the checkpoint cannot be used.
    """
    out = Path(out_dir) if out_dir is not None else config.output.run_dir / f"eval-{split}"
    cache_dir = ensure_cache(config, progress=config.training.progress)
    return evaluate_run(Path(checkpoint), config, cache_dir, split, out, recalibrate=recalibrate)
