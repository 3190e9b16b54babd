"""Post-processing of a per-sample seizure probability trace into events (numpy only).

``postprocess(probs, sfreq_hz, config)`` runs the whole pipeline (``postprocess_averaged``
the part after the moving average); the steps are public too, on traces
(``moving_average``), on bool masks (``hysteresis``, ``opening``, ``closing``) or on runs of
samples (``trim_runs`` among them), and so is the check every trace goes through
(``as_probability_trace``).
Events are bgb_events' ``EVENT_DTYPE``, re-exported here as the type the pipeline returns.
"""

from bgb_events import EVENT_DTYPE

from ._config import PostprocessConfig
from ._duration import LongEventPolicy, apply_duration_rule, max_piece_samples, merge_close_events
from ._events import events_from_runs
from ._hysteresis import hysteresis, hysteresis_runs
from ._morphology import close_runs, closing, open_runs, opening
from ._pipeline import postprocess, postprocess_averaged
from ._runs import Runs, find_runs, join_runs, runs_to_mask
from ._smoothing import moving_average, window_samples
from ._trim import trim_runs
from ._validate import as_probability_trace

__all__ = [
    "EVENT_DTYPE",
    "LongEventPolicy",
    "PostprocessConfig",
    "Runs",
    "apply_duration_rule",
    "as_probability_trace",
    "close_runs",
    "closing",
    "events_from_runs",
    "find_runs",
    "hysteresis",
    "hysteresis_runs",
    "join_runs",
    "max_piece_samples",
    "merge_close_events",
    "moving_average",
    "open_runs",
    "opening",
    "postprocess",
    "postprocess_averaged",
    "runs_to_mask",
    "trim_runs",
    "window_samples",
]
