"""Operating points: sensitivity at target false-alarm rates from a threshold sweep.

A threshold ``t`` is the hysteresis onset ``tau_on = t``; the offset keeps the base
config's gap, ``tau_off = max(0, t - (base.tau_on - base.tau_off))``. Every other
post-processing setting is the base config's. At each threshold the traces of a split go
through ``bgb_post.postprocess`` (by the exact fast path of ``_sweep_engine``) and are
scored per recording, pooled over the split.

For each target FA/24h the chosen threshold is one with the best sensitivity among those
with ``fa_per_24h <= target``; how ties are broken is :func:`best_operating_point`'s rule
(the middle of a wide plateau, else the highest). Thresholds are then frozen and applied
unchanged to another split with :func:`evaluate_at_thresholds`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from bgb_eval._counts import Method, MethodScore
from bgb_eval._sweep_engine import postprocess_many
from bgb_eval.scoring import method_counts
from bgb_eval.szcore import SzcoreParams
from bgb_events import check_events
from bgb_post import PostprocessConfig

__all__ = [
    "DEFAULT_TARGETS_FA_PER_24H",
    "WIDE_PLATEAU",
    "OperatingPoint",
    "SweepResult",
    "best_operating_point",
    "config_at_threshold",
    "evaluate_at_thresholds",
    "sweep_operating_points",
]

DEFAULT_TARGETS_FA_PER_24H: tuple[float, ...] = (10.0, 5.0, 2.5, 1.0)

WIDE_PLATEAU = 0.2
"""Threshold span from which a run of tied points counts as a plateau whose middle is taken
(see :func:`best_operating_point`)."""


@dataclass(frozen=True)
class OperatingPoint:
    """The pooled score of a split at one threshold."""

    threshold: float
    """Hysteresis onset tau_on."""
    tau_off: float
    """Hysteresis offset used with it."""
    score: MethodScore
    """Pooled counts of the sweep's method."""

    @property
    def sensitivity(self) -> float | None:
        """Pooled sensitivity (None without reference seizures)."""
        return self.score.sensitivity

    @property
    def fa_per_24h(self) -> float | None:
        """Pooled false alarms per 24 h."""
        return self.score.fa_per_24h


@dataclass(frozen=True)
class SweepResult:
    """All operating points of a sweep and the one chosen for each FA/24h target."""

    method: Method
    points: tuple[OperatingPoint, ...]
    """One per threshold, in ascending threshold order."""
    best: dict[float, OperatingPoint | None]
    """Per target FA/24h, the chosen point; None when no threshold meets the target."""

    def frozen_thresholds(self) -> dict[float, float]:
        """Target FA/24h -> chosen threshold, for targets some threshold meets."""
        return {target: p.threshold for target, p in self.best.items() if p is not None}


def config_at_threshold(base_config: PostprocessConfig, threshold: float) -> PostprocessConfig:
    """``base_config`` with tau_on = threshold and tau_off = max(0, threshold - base gap)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    gap = base_config.tau_on - base_config.tau_off
    return replace(base_config, tau_on=threshold, tau_off=max(0.0, threshold - gap))


def _score_split(
    events_per_recording: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    durations_s: Sequence[float],
    method: Method,
    szcore_params: SzcoreParams | None,
) -> MethodScore:
    pooled = MethodScore(method=method, tp=0.0, fn=0.0, fp=0.0, duration_s=0.0)
    for hyp, ref, duration_s in zip(events_per_recording, refs, durations_s, strict=True):
        # Checked in _points: refs here, and hypotheses lie inside their traces.
        pooled = pooled + method_counts(method, ref, hyp, duration_s, szcore_params)
    return pooled


def _points(
    probs_list: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    durations_s: Sequence[float],
    sfreq_hz: float,
    base_config: PostprocessConfig,
    thresholds: Sequence[float],
    method: Method,
    szcore_params: SzcoreParams | None,
) -> list[OperatingPoint]:
    if not len(probs_list) == len(refs) == len(durations_s):
        raise ValueError(
            f"probs_list ({len(probs_list)}), refs ({len(refs)}) and durations_s "
            f"({len(durations_s)}) must have one entry per recording"
        )
    for i, (trace, ref, duration_s) in enumerate(zip(probs_list, refs, durations_s, strict=True)):
        if not np.isfinite(duration_s) or duration_s <= 0:
            raise ValueError(f"recording {i}: duration_s must be positive, got {duration_s}")
        if np.shape(trace)[0] / sfreq_hz > duration_s:
            raise ValueError(
                f"recording {i}: the trace lasts {np.shape(trace)[0] / sfreq_hz} s, longer "
                f"than its duration_s {duration_s}"
            )
        check_events(ref, f"refs[{i}]", duration_s)
    configs = [config_at_threshold(base_config, float(t)) for t in thresholds]
    detections = postprocess_many(probs_list, sfreq_hz, configs)
    return [
        OperatingPoint(
            threshold=config.tau_on,
            tau_off=config.tau_off,
            score=_score_split(events, refs, durations_s, method, szcore_params),
        )
        for config, events in zip(configs, detections, strict=True)
    ]


def best_operating_point(points: Sequence[OperatingPoint], target: float) -> OperatingPoint | None:
    """The point of best sensitivity among those with fa_per_24h <= target, or None.

    ``points`` are a sweep's, in ascending threshold order. A point without a defined
    sensitivity never qualifies. When several qualifying points share the best sensitivity:

    1. among them, those with the fewest false alarms are kept, and their longest run of
       consecutive points of the sweep is found (the lowest such run when several are as long);
    2. if that run spans at least ``WIDE_PLATEAU`` in threshold, its middle point is taken
       (the lower of two middles);
    3. otherwise the highest threshold among all the tied points is taken.

    A wide plateau is where a detector separates the split perfectly over a range of
    thresholds; its top sits just under the split's highest non-seizure peaks and its bottom
    just above the lowest seizure peaks, so the middle leaves room on both sides for another
    split's peaks. A narrow run says nothing of the sort, and the highest threshold is the
    cautious choice there.
    """
    thresholds = [point.threshold for point in points]
    if any(b <= a for a, b in pairwise(thresholds)):
        raise ValueError("best_operating_point: points must be in ascending threshold order")
    sensitivity = {
        i: point.sensitivity
        for i, point in enumerate(points)
        if point.sensitivity is not None
        and point.fa_per_24h is not None
        and point.fa_per_24h <= target
    }
    if not sensitivity:
        return None
    best = max(sensitivity.values())
    tied = [i for i, value in sensitivity.items() if value == best]  # ascending thresholds
    fewest = min(points[i].score.fp for i in tied)
    run = _longest_run([i for i in tied if points[i].score.fp == fewest])
    if points[run[-1]].threshold - points[run[0]].threshold >= WIDE_PLATEAU:
        return points[run[(len(run) - 1) // 2]]
    return points[tied[-1]]


def _longest_run(indices: Sequence[int]) -> list[int]:
    """The longest run of consecutive integers in ascending ``indices`` (the first if tied)."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return max(runs, key=len)


def sweep_operating_points(
    probs_list: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    durations_s: Sequence[float],
    sfreq_hz: float,
    base_config: PostprocessConfig,
    thresholds: Sequence[float],
    targets_fa_per_24h: Sequence[float] = DEFAULT_TARGETS_FA_PER_24H,
    method: Method = "ovlp",
    *,
    szcore_params: SzcoreParams | None = None,
) -> SweepResult:
    """Score a split at every threshold and choose one per FA/24h target.

    Shapes/units: ``probs_list[i]`` (n_samples_i,) probabilities at ``sfreq_hz``;
    ``refs[i]`` that recording's reference ``EVENT_DTYPE`` events; ``durations_s[i]`` its
    duration in seconds. Thresholds in [0, 1] (see the module docstring for tau_off).
    """
    ordered = sorted({float(t) for t in thresholds})
    if not ordered:
        raise ValueError("thresholds must not be empty")
    points = _points(
        probs_list, refs, durations_s, sfreq_hz, base_config, ordered, method, szcore_params
    )
    best = {
        float(target): best_operating_point(points, float(target)) for target in targets_fa_per_24h
    }
    return SweepResult(method=method, points=tuple(points), best=best)


def evaluate_at_thresholds(
    probs_list: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    durations_s: Sequence[float],
    sfreq_hz: float,
    base_config: PostprocessConfig,
    frozen_thresholds: Mapping[float, float],
    method: Method = "ovlp",
    *,
    szcore_params: SzcoreParams | None = None,
) -> dict[float, OperatingPoint]:
    """Apply frozen thresholds (target FA/24h -> threshold, e.g. from
    :meth:`SweepResult.frozen_thresholds` on dev) to another split; same target keys."""
    targets = list(frozen_thresholds)
    points = _points(
        probs_list,
        refs,
        durations_s,
        sfreq_hz,
        base_config,
        [frozen_thresholds[t] for t in targets],
        method,
        szcore_params,
    )
    return dict(zip(targets, points, strict=True))
