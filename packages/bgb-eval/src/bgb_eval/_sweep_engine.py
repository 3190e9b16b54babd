"""bgb_post.postprocess at many thresholds over many recordings, exactly and fast.

Why it is exact: postprocess works on runs of samples. Its events come from maximal runs
of ``p >= tau_off`` that hold a sample ``>= tau_on`` (hysteresis), then run-level rules:
dropping short runs (opening), joining runs closer than ``closing_samples`` (closing) or
``merge_gap_s`` (merging), and the per-event duration rule. Samples below ``tau_off`` never
belong to a run, so at one threshold:

1. Find the "regions" of ``p >= tau_off`` and group regions closer than ``reach`` samples
   (anything the run rules could join) into clusters.
2. Only clusters whose maximum is ``>= tau_on`` can hold an event; copy those (with one
   sample of margin each side, below tau_off) into one compact trace, separated by
   ``reach`` zeros so that nothing joins across clusters.
3. Run postprocess once on the compact trace and map each event's sample indices back to
   its recording: the same integer samples over the same ``sfreq_hz`` give the same
   ``start_s``/``stop_s``, and the confidence is the mean over the same samples.

Thresholds are visited in ascending order and tau_off grows with them, so each compact
trace is cut from the previous one (everything dropped stays below later thresholds): the
work shrinks as the threshold rises. Thresholds whose tau_off is 0 (every sample is in a
run) use postprocess on the full traces. When the configs smooth the trace, each trace is
smoothed once, before all of this, and the clusters are those of the average; with
``trim_to_raw`` the trace before averaging is cropped beside it, sample for sample, so that
the trim reads the same values inside each run (a run never leaves its crop).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bgb_events import EVENT_DTYPE
from bgb_post import (
    PostprocessConfig,
    as_probability_trace,
    close_runs,
    find_runs,
    moving_average,
    postprocess,
    postprocess_averaged,
)

__all__ = ["postprocess_many"]

_MARGIN = 1  # samples kept around each cluster; they are below every tau_off
_RESCAN_STEP = 0.1  # rescan the compact trace when tau_off rose this much since the last scan
_COPY_BELOW = 0.7  # drop crops under the threshold only when this fraction of samples stays


@dataclass(frozen=True)
class _Compact:
    """A trace made of crops of recordings: ``original index = index + shift`` per crop."""

    trace: np.ndarray  # (n_samples,)
    raw: np.ndarray | None  # (n_samples,): the trace before averaging, when the trim reads it
    crop_starts: np.ndarray  # (n_crops,) int64, first index of each crop, ascending
    shifts: np.ndarray  # (n_crops,) int64
    recordings: np.ndarray  # (n_crops,) int64
    peaks: np.ndarray  # (n_crops,) float64, largest value in each crop


def _whole(trace: np.ndarray, raw: np.ndarray | None, recording: int) -> _Compact:
    one = np.zeros(1, np.int64)
    return _Compact(trace, raw, one, one, np.array([recording]), np.array([np.inf]))


def _checked_trace(trace: np.ndarray, index: int) -> np.ndarray:
    """bgb_post's check of a probability trace, its error naming the trace."""
    try:
        return as_probability_trace(trace)
    except ValueError as err:
        raise ValueError(f"trace {index}: {err}") from None


def _reach_samples(config: PostprocessConfig, sfreq_hz: float) -> int:
    """A gap of this many samples is never bridged by closing or merging."""
    reach = config.closing_samples
    if config.merge_gap_s is not None:
        reach = max(reach, math.ceil(config.merge_gap_s * sfreq_hz) + 1)
    return reach + 1


def _clusters(
    trace: np.ndarray, floor: float, reach: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regions of ``trace >= floor`` grouped when closer than ``reach`` samples.

    Returns per cluster the first and last+1 sample of its regions and its peak value.
    """
    # Grouping regions closer than reach is closing with an element of reach samples.
    clusters = close_runs(find_runs(trace >= floor), reach)
    if len(clusters) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    # Samples between clusters lie below floor, so the maximum over [starts[i],
    # starts[i + 1]) is the peak of cluster i: one reduceat, no slicing per cluster.
    peaks = np.maximum.reduceat(trace, clusters.starts).astype(np.float64)
    return clusters.starts, clusters.stops, peaks


def _refine(sources: Sequence[_Compact], floor: float, peak_min: float, reach: int) -> _Compact:
    """The compact trace of the clusters of ``sources`` at ``floor`` that reach ``peak_min``."""
    pieces: list[np.ndarray] = []
    raw_pieces: list[np.ndarray] = []
    crop_starts: list[np.ndarray] = []
    shifts: list[np.ndarray] = []
    recordings: list[np.ndarray] = []
    crop_peaks: list[np.ndarray] = []
    position = 0
    for source in sources:
        first, last, peaks = _clusters(source.trace, floor, reach)
        keep = peaks >= peak_min
        first, last = first[keep], last[keep]
        crop_peaks.append(peaks[keep])
        if first.size == 0:
            continue
        crop = np.searchsorted(source.crop_starts, first, side="right") - 1  # source crop
        lo = np.maximum(first - _MARGIN, 0)
        hi = np.minimum(last + _MARGIN, source.trace.size)
        sizes = hi - lo
        new_starts = position + np.concatenate(([0], np.cumsum(sizes + reach)[:-1]))
        crop_starts.append(new_starts)
        shifts.append(source.shifts[crop] + lo - new_starts)
        recordings.append(source.recordings[crop])
        pieces.append(_recropped(source.trace, lo, hi, reach))
        if source.raw is not None:
            raw_pieces.append(_recropped(source.raw, lo, hi, reach))
        position = int(new_starts[-1] + sizes[-1] + reach)
    trace = _joined(pieces, [source.trace for source in sources])
    raw = None
    if sources[0].raw is not None:
        raw = _joined(raw_pieces, [source.raw for source in sources if source.raw is not None])
    if not pieces:
        empty = np.empty(0, dtype=np.int64)
        return _Compact(trace, raw, empty, empty, empty, np.empty(0))
    return _Compact(
        trace=trace,
        raw=raw,
        crop_starts=np.concatenate(crop_starts),
        shifts=np.concatenate(shifts),
        recordings=np.concatenate(recordings),
        peaks=np.concatenate(crop_peaks),
    )


def _joined(pieces: list[np.ndarray], whole: list[np.ndarray]) -> np.ndarray:
    """``pieces`` in one array, of the dtype of the ``whole`` traces they were cut from."""
    dtype = np.result_type(*whole)
    return np.concatenate(pieces).astype(dtype, copy=False) if pieces else np.empty(0, dtype)


def _drop_low(compact: _Compact, peak_min: float, reach: int) -> _Compact:
    """``compact`` without the crops whose peak is below ``peak_min`` (no rescan), when
    that removes enough samples to pay for the copy."""
    keep = compact.peaks >= peak_min
    stops = np.append(compact.crop_starts[1:] - reach, compact.trace.size - reach)
    starts, stops = compact.crop_starts[keep], stops[keep]
    sizes = stops - starts
    if sizes.sum() > _COPY_BELOW * compact.trace.size:
        return compact  # crops below peak_min give no event; copying would cost more
    new_starts = np.concatenate(([0], np.cumsum(sizes + reach)[:-1])).astype(np.int64)
    return _Compact(
        trace=_recropped(compact.trace, starts, stops, reach),
        raw=None if compact.raw is None else _recropped(compact.raw, starts, stops, reach),
        crop_starts=new_starts,
        shifts=compact.shifts[keep] + starts - new_starts,
        recordings=compact.recordings[keep],
        peaks=compact.peaks[keep],
    )


def _recropped(trace: np.ndarray, starts: np.ndarray, stops: np.ndarray, reach: int) -> np.ndarray:
    """The crops ``[starts[i], stops[i])`` of ``trace``, each followed by ``reach`` zeros."""
    separator = np.zeros(reach, dtype=trace.dtype)
    pieces: list[np.ndarray] = []
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        pieces += (trace[a:b], separator)
    return np.concatenate(pieces) if pieces else trace[:0]


def _run(
    trace: np.ndarray, raw: np.ndarray | None, sfreq_hz: float, config: PostprocessConfig
) -> np.ndarray:
    """postprocess on ``trace``, already averaged when the config smooths."""
    if config.smoothing_s is None:
        return postprocess(trace, sfreq_hz, config)
    return postprocess_averaged(trace, raw, sfreq_hz, config)


def _events_by_recording(
    compact: _Compact, n_recordings: int, sfreq_hz: float, config: PostprocessConfig
) -> list[np.ndarray]:
    """postprocess on the compact trace, events mapped back to their recordings."""
    per_recording = [np.empty(0, dtype=EVENT_DTYPE) for _ in range(n_recordings)]
    if compact.trace.size == 0:
        return per_recording
    events = _run(compact.trace, compact.raw, sfreq_hz, config)
    if events.size == 0:
        return per_recording
    first_sample = np.rint(events["start_s"] * sfreq_hz).astype(np.int64)
    last_sample = np.rint(events["stop_s"] * sfreq_hz).astype(np.int64)
    crop = np.searchsorted(compact.crop_starts, first_sample, side="right") - 1
    mapped = np.empty(events.size, dtype=EVENT_DTYPE)
    mapped["start_s"] = (first_sample + compact.shifts[crop]) / sfreq_hz
    mapped["stop_s"] = (last_sample + compact.shifts[crop]) / sfreq_hz
    mapped["confidence"] = events["confidence"]
    recording = compact.recordings[crop]
    order = np.argsort(recording, kind="stable")
    bounds = np.searchsorted(recording[order], np.arange(n_recordings + 1))
    for r in range(n_recordings):
        per_recording[r] = mapped[order[bounds[r] : bounds[r + 1]]]
    return per_recording


def postprocess_many(
    traces: Sequence[np.ndarray],
    sfreq_hz: float,
    configs: Sequence[PostprocessConfig],
) -> list[list[np.ndarray]]:
    """``postprocess(trace, sfreq_hz, config)`` for every config and trace: [config][trace].

    The configs may differ only in ``tau_on``/``tau_off``; the result equals calling
    postprocess on each pair (see the module docstring for why and how).
    """
    if not configs:
        return []
    reference = configs[0]
    for config in configs:
        if config != replace(reference, tau_on=config.tau_on, tau_off=config.tau_off):
            raise ValueError("postprocess_many: configs may differ only in tau_on and tau_off")
    traces = [_checked_trace(t, i) for i, t in enumerate(traces)]
    raws: list[np.ndarray] | list[None] = [None] * len(traces)
    if reference.smoothing_s is not None:
        # Smoothing does not depend on the thresholds: once per trace, then the run rules.
        if reference.trim_to_raw:
            raws = traces
        traces = [moving_average(t, sfreq_hz, reference.smoothing_s) for t in traces]
    reach = _reach_samples(reference, sfreq_hz)
    results: dict[int, list[np.ndarray]] = {}
    sources = [
        _whole(trace, raw, i) for i, (trace, raw) in enumerate(zip(traces, raws, strict=True))
    ]
    scanned_floor = -math.inf
    for index in sorted(range(len(configs)), key=lambda i: configs[i].tau_on):
        config = configs[index]
        if config.tau_off <= 0:
            results[index] = [
                _run(t, raw, sfreq_hz, config) for t, raw in zip(traces, raws, strict=True)
            ]
            continue
        if config.tau_off >= scanned_floor + _RESCAN_STEP:
            compact = _refine(sources, config.tau_off, config.tau_on, reach)
            scanned_floor = config.tau_off
        else:
            # A compact cut at a lower floor is still valid; only drop hopeless crops.
            compact = _drop_low(sources[0], config.tau_on, reach)
        results[index] = _events_by_recording(compact, len(traces), sfreq_hz, config)
        sources = [compact]
    return [results[i] for i in range(len(configs))]
