"""Operating points chosen on dev, stored in the checkpoint so they travel with the model.

A checkpoint's ``calibration`` entry records, for each FA/24h target, the hysteresis
thresholds dev evaluation chose and what they gave on dev, with the inference settings they
were chosen under (window, stride, post-processing). ``bgb detect`` and ``bgb evaluate --split
eval`` apply those thresholds, so what a user runs is what the report measured.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bgb.config import RunConfig
from bgb_eval import SweepResult
from bgb_post import PostprocessConfig

__all__ = [
    "Calibration",
    "CalibrationPoint",
    "calibration_from_sweep",
    "read_calibration",
]


@dataclass(frozen=True)
class CalibrationPoint:
    """The thresholds chosen on dev for one FA/24h target, and what they gave there."""

    target_fa_per_24h: float
    tau_on: float | None
    """None when no threshold of the sweep met the target on dev."""
    tau_off: float | None
    dev_sensitivity: float | None
    dev_fa_per_24h: float | None

    @property
    def usable(self) -> bool:
        """Whether dev found thresholds for this target."""
        return self.tau_on is not None and self.tau_off is not None


@dataclass(frozen=True)
class Calibration:
    """Operating points of one model, chosen on ``split`` at ``epoch``."""

    split: str
    epoch: int
    window_s: float
    inference_stride_s: float
    postprocessing: dict[str, Any]
    """The post-processing the sweep ran (its tau_on/tau_off are replaced per point)."""
    points: tuple[CalibrationPoint, ...]

    def point(self, target_fa_per_24h: float) -> CalibrationPoint | None:
        """The point for ``target_fa_per_24h``, or None when it was not a target."""
        for point in self.points:
            if point.target_fa_per_24h == target_fa_per_24h:
                return point
        return None

    def post_config(self, point: CalibrationPoint) -> PostprocessConfig:
        """The ``bgb_post.PostprocessConfig`` of ``point``: the sweep's, with its thresholds."""
        if point.tau_on is None or point.tau_off is None:
            raise ValueError(f"no dev operating point for {point.target_fa_per_24h:g} FA/24h")
        base = PostprocessConfig(**self.postprocessing)
        return dataclasses.replace(base, tau_on=point.tau_on, tau_off=point.tau_off)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (dicts, lists, numbers, strings) for the checkpoint and JSON."""
        plain = dataclasses.asdict(self)
        plain["points"] = [dataclasses.asdict(point) for point in self.points]
        return plain

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Read back :meth:`to_dict` output."""
        fields = {key: value for key, value in data.items() if key != "points"}
        points = tuple(CalibrationPoint(**point) for point in data["points"])
        return cls(**fields, points=points)


def calibration_from_sweep(
    sweep: SweepResult, config: RunConfig, epoch: int, split: str
) -> Calibration:
    """The operating points of a dev threshold sweep, for the run's
    ``evaluation.fa_targets``."""
    post = config.postprocess_config()
    points = []
    for target in config.evaluation.fa_targets:
        chosen = sweep.best.get(float(target))
        points.append(
            CalibrationPoint(
                target_fa_per_24h=float(target),
                tau_on=None if chosen is None else float(chosen.threshold),
                tau_off=None if chosen is None else float(chosen.tau_off),
                dev_sensitivity=None if chosen is None else chosen.sensitivity,
                dev_fa_per_24h=None if chosen is None else chosen.fa_per_24h,
            )
        )
    return Calibration(
        split=split,
        epoch=epoch,
        window_s=float(config.data.window_s),
        inference_stride_s=float(config.inference_stride_s()),
        postprocessing=dataclasses.asdict(post),
        points=tuple(points),
    )


def read_calibration(state: dict[str, Any]) -> Calibration | None:
    """The calibration of a loaded checkpoint, or None when it was never calibrated."""
    data = state.get("calibration")
    return None if data is None else Calibration.from_dict(data)
