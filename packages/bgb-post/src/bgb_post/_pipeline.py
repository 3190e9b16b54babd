"""The post-processing pipeline: probability trace of one recording to events."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._config import PostprocessConfig
from ._duration import apply_duration_rule, merge_close_events
from ._events import events_from_runs_unchecked
from ._hysteresis import hysteresis_runs_unchecked
from ._morphology import close_runs, open_runs
from ._smoothing import moving_average_unchecked, window_samples
from ._trim import trim_runs_unchecked
from ._validate import as_probability_trace, check_sfreq

__all__ = ["postprocess", "postprocess_averaged"]

logger = logging.getLogger(__name__)


def postprocess(
    probs: ArrayLike, sfreq_hz: float = 256.0, config: PostprocessConfig | None = None
) -> NDArray[np.void]:
    """Events of one recording as a sorted structured array of EVENT_DTYPE.

    Steps, each on runs of samples (the trace is read a few times, never looped over):

    0. smoothing: the trace replaced by its centred moving average over smoothing_s seconds,
       when set; every later step, event confidences included, reads that average, except
       step 3b;
    1. hysteresis: maximal runs of p >= tau_off holding a sample with p >= tau_on;
    2. opening (runs shorter than opening_samples removed), then closing (gaps shorter
       than closing_samples filled), with the recording's borders as in ``bgb_post.opening``;
    3. merging of events closer than merge_gap_s seconds, when set;
    3b. edge trim, with trim_to_raw: each run narrowed to its first and last sample whose
       probability before averaging reaches tau_on (``bgb_post.trim_runs``);
    4. duration rule: events under min_duration_s removed, events over max_duration_s
       split or capped by long_event_policy;
    5. events: start_s = first sample / sfreq_hz, stop_s = (last sample + 1) / sfreq_hz,
       confidence = mean probability over the event's samples.

    Shapes: ``probs`` (n_samples,) of probabilities in [0, 1] at ``sfreq_hz``; float32 and
    float64 traces are read without a copy. Returns (n_events,) EVENT_DTYPE, disjoint and
    sorted by start_s. Raises ValueError on a bad trace, rate or configuration.
    """
    if config is None:
        config = PostprocessConfig()
    elif not isinstance(config, PostprocessConfig):
        raise ValueError(f"config must be a PostprocessConfig, got {type(config).__name__}")
    raw = as_probability_trace(probs)
    sfreq = check_sfreq(sfreq_hz)
    if config.smoothing_s is None:
        return _events(raw, raw, sfreq, config)
    averaged = moving_average_unchecked(raw, window_samples(config.smoothing_s, sfreq))
    return _events(averaged, raw, sfreq, config)


def postprocess_averaged(
    averaged: ArrayLike,
    raw: ArrayLike | None,
    sfreq_hz: float,
    config: PostprocessConfig,
) -> NDArray[np.void]:
    """Steps 1-5 of :func:`postprocess` on a trace the caller has already averaged.

    For callers that threshold one average many times (a threshold sweep):
    ``postprocess(p, fs, config)`` equals ``postprocess_averaged(moving_average(p, fs,
    config.smoothing_s), p, fs, config)``. ``raw``, the trace before averaging (same shape),
    is read only by the edge trim and is required when ``config.trim_to_raw`` is set.
    Raises ValueError on bad traces, a shape mismatch, a missing ``raw`` or a config without
    smoothing_s.
    """
    if not isinstance(config, PostprocessConfig):
        raise ValueError(f"config must be a PostprocessConfig, got {type(config).__name__}")
    if config.smoothing_s is None:
        raise ValueError("postprocess_averaged needs a config with smoothing_s set")
    trace = as_probability_trace(averaged, "averaged")
    sfreq = check_sfreq(sfreq_hz)
    if raw is None:
        if config.trim_to_raw:
            raise ValueError("trim_to_raw needs the trace before averaging: raw is None")
        return _events(trace, trace, sfreq, config)
    before = as_probability_trace(raw, "raw")
    if before.shape != trace.shape:
        raise ValueError(
            f"raw has {before.size} samples and averaged {trace.size}: they must match"
        )
    return _events(trace, before, sfreq, config)


def _events(
    trace: NDArray[np.floating[Any]],
    raw: NDArray[np.floating[Any]],
    sfreq: float,
    config: PostprocessConfig,
) -> NDArray[np.void]:
    """Steps 1-5 on checked traces: ``trace`` thresholded, ``raw`` read by the trim only."""
    runs = hysteresis_runs_unchecked(trace, config.tau_on, config.tau_off)
    n_hysteresis = len(runs)
    runs = close_runs(open_runs(runs, config.opening_samples), config.closing_samples)
    if config.merge_gap_s is not None:
        runs = merge_close_events(runs, sfreq, config.merge_gap_s)
    if config.trim_to_raw:
        runs = trim_runs_unchecked(raw, runs, config.tau_on)
    runs = apply_duration_rule(
        runs, sfreq, config.min_duration_s, config.max_duration_s, config.long_event_policy
    )
    logger.debug("%d hysteresis runs -> %d events", n_hysteresis, len(runs))
    return events_from_runs_unchecked(trace, runs, sfreq)
