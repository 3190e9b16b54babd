"""bgb_eval: seizure event scoring (NEDC OVLP/TAES, SzCORE), FA/24h, operating points, AUROC.

Events are bgb_events' ``EVENT_DTYPE`` arrays (``start_s``, ``stop_s``, ``confidence``), the
dtype bgb_post produces; reading and writing annotation files is bgb_events' too.
``plot_sensitivity_fa_curve`` needs the ``plot`` extra (matplotlib).
"""

from bgb_eval._counts import METHODS, Method, MethodScore
from bgb_eval.folders import DURATION_TOLERANCE_S, FolderMismatchError, score_folders
from bgb_eval.nedc import score_ovlp, score_taes
from bgb_eval.operating_points import (
    DEFAULT_TARGETS_FA_PER_24H,
    WIDE_PLATEAU,
    OperatingPoint,
    SweepResult,
    best_operating_point,
    config_at_threshold,
    evaluate_at_thresholds,
    sweep_operating_points,
)
from bgb_eval.plot import plot_sensitivity_fa_curve
from bgb_eval.ranking import auroc, pr_auc
from bgb_eval.scoring import (
    RecordingScore,
    SetScore,
    score_method,
    score_recording,
    score_recordings,
)
from bgb_eval.szcore import SzcoreParams, score_szcore

__all__ = [
    "DEFAULT_TARGETS_FA_PER_24H",
    "DURATION_TOLERANCE_S",
    "METHODS",
    "WIDE_PLATEAU",
    "FolderMismatchError",
    "Method",
    "MethodScore",
    "OperatingPoint",
    "RecordingScore",
    "SetScore",
    "SweepResult",
    "SzcoreParams",
    "auroc",
    "best_operating_point",
    "config_at_threshold",
    "evaluate_at_thresholds",
    "plot_sensitivity_fa_curve",
    "pr_auc",
    "score_folders",
    "score_method",
    "score_ovlp",
    "score_recording",
    "score_recordings",
    "score_szcore",
    "score_taes",
    "sweep_operating_points",
]
