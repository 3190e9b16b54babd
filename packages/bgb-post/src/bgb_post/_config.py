"""The post-processing configuration (the original design's defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from ._duration import LongEventPolicy
from ._validate import check_length_samples, check_positive_seconds, check_thresholds

__all__ = ["PostprocessConfig"]


@dataclass(frozen=True)
class PostprocessConfig:
    """How a per-sample probability trace becomes events; validated on construction.

    Kernel lengths are in samples of the trace at its own rate (11 and 31 samples are 43 ms
    and 121 ms at 256 Hz); durations and gaps are in seconds.
    """

    tau_on: float = 0.86
    """Hysteresis onset threshold in [0, 1]: an event must hold a sample with p >= tau_on."""

    tau_off: float = 0.78
    """Hysteresis offset threshold in [0, tau_on]: an event is a maximal run of p >= tau_off."""

    opening_samples: int = 11
    """Opening length in samples of the trace (>= 1; 1 disables): shorter runs are removed."""

    closing_samples: int = 31
    """Closing length in samples of the trace (>= 1; 1 disables): shorter gaps are filled."""

    min_duration_s: float = 3.0
    """Events lasting less than this many seconds are removed (> 0)."""

    max_duration_s: float = 600.0
    """Events lasting more than this many seconds are split or capped (>= 2 x minimum)."""

    long_event_policy: LongEventPolicy = "split"
    """``"split"``: cut a long event into the fewest equal pieces of at most max_duration_s;
    ``"cap"``: keep only its first max_duration_s seconds."""

    merge_gap_s: float | None = None
    """If set (> 0), events separated by a gap shorter than this many seconds are merged
    (after closing, before the duration rule); None disables merging."""

    smoothing_s: float | None = None
    """If set (> 0), the trace is first replaced by its centred moving average over this many
    seconds (``bgb_post.moving_average``), and the thresholds apply to that; None uses the
    trace as it is."""

    trim_to_raw: bool = False
    """With smoothing_s: each event's edges move in to its first and last sample whose
    probability before averaging reaches tau_on (``bgb_post.trim_runs``), after merging and
    before the duration rule. The average finds the events; the trace it came from places
    their edges, which the average spreads by up to half its window on each side."""

    def __post_init__(self) -> None:
        check_thresholds(self.tau_on, self.tau_off)
        check_length_samples(self.opening_samples, "opening_samples")
        check_length_samples(self.closing_samples, "closing_samples")
        check_positive_seconds(self.min_duration_s, "min_duration_s")
        check_positive_seconds(self.max_duration_s, "max_duration_s")
        if self.max_duration_s < 2 * self.min_duration_s:
            raise ValueError(
                f"max_duration_s ({self.max_duration_s}) must be at least twice "
                f"min_duration_s ({self.min_duration_s}) so that split pieces stay above "
                "the minimum"
            )
        if self.long_event_policy not in get_args(LongEventPolicy):
            raise ValueError(
                f"long_event_policy must be one of {get_args(LongEventPolicy)}, "
                f"got {self.long_event_policy!r}"
            )
        if self.merge_gap_s is not None:
            check_positive_seconds(self.merge_gap_s, "merge_gap_s")
        if self.smoothing_s is not None:
            check_positive_seconds(self.smoothing_s, "smoothing_s")
        if not isinstance(self.trim_to_raw, bool):
            raise ValueError(f"trim_to_raw must be true or false, got {self.trim_to_raw!r}")
        if self.trim_to_raw and self.smoothing_s is None:
            raise ValueError(
                "trim_to_raw needs smoothing_s: without an average there is nothing to trim"
            )
