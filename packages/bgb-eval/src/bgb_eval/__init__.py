"""bgb_eval: seizure event scoring (NEDC OVLP/TAES, SzCORE), FA/24h, operating points, AUROC.

Events are ``EVENT_DTYPE`` arrays (``start_s``, ``stop_s``, ``confidence``), the same dtype
bgb_post produces. ``plot_sensitivity_fa_curve`` needs the ``plot`` extra (matplotlib).
"""

from bgb_eval._counts import METHODS, Method, MethodScore
from bgb_eval._events import EVENT_DTYPE, check_events, make_events, merge_overlapping
from bgb_eval.annotations import (
    BACKGROUND_LABELS,
    END_SLACK_S,
    SEIZURE_LABELS,
    Annotation,
    AnnotationError,
    read_annotation,
    read_csv_bi,
    read_events_tsv,
    read_tusz_csv,
    write_csv_bi,
    write_events_tsv,
)
from bgb_eval.folders import DURATION_TOLERANCE_S, FolderMismatchError, score_folders
from bgb_eval.nedc import score_ovlp, score_taes
from bgb_eval.operating_points import (
    DEFAULT_TARGETS_FA_PER_24H,
    OperatingPoint,
    SweepResult,
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
    "BACKGROUND_LABELS",
    "DEFAULT_TARGETS_FA_PER_24H",
    "DURATION_TOLERANCE_S",
    "END_SLACK_S",
    "EVENT_DTYPE",
    "METHODS",
    "SEIZURE_LABELS",
    "Annotation",
    "AnnotationError",
    "FolderMismatchError",
    "Method",
    "MethodScore",
    "OperatingPoint",
    "RecordingScore",
    "SetScore",
    "SweepResult",
    "SzcoreParams",
    "auroc",
    "check_events",
    "config_at_threshold",
    "evaluate_at_thresholds",
    "make_events",
    "merge_overlapping",
    "plot_sensitivity_fa_curve",
    "pr_auc",
    "read_annotation",
    "read_csv_bi",
    "read_events_tsv",
    "read_tusz_csv",
    "score_folders",
    "score_method",
    "score_ovlp",
    "score_recording",
    "score_recordings",
    "score_szcore",
    "score_taes",
    "sweep_operating_points",
    "write_csv_bi",
    "write_events_tsv",
]
