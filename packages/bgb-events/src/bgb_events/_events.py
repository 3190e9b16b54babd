"""Event arrays: the structured ``EVENT_DTYPE``, built, merged and checked.

An event array is a 1-D structured array with fields ``start_s``, ``stop_s`` (seconds from
the start of the recording) and ``confidence``. "Canonical" means sorted by start, every
event non-empty (``start_s < stop_s``), finite, and disjoint (no two events share time;
touching endpoints are allowed).
"""

from __future__ import annotations

import numpy as np

__all__ = ["EVENT_DTYPE", "check_events", "make_events", "merge_overlapping"]

EVENT_DTYPE = np.dtype([("start_s", "f8"), ("stop_s", "f8"), ("confidence", "f8")])
"""One event: onset and offset in seconds from the recording start, and its confidence
(for detections, the mean probability over the event's samples; for annotations, the
file's value, NaN where it says ``n/a``)."""


def make_events(
    starts_s: object,
    stops_s: object,
    confidences: object | None = None,
) -> np.ndarray:
    """Build an ``EVENT_DTYPE`` array from start/stop times in seconds (confidence 1 by default).

    No sorting or merging is done; use :func:`merge_overlapping` for that.
    """
    starts = np.asarray(starts_s, dtype=np.float64).reshape(-1)
    stops = np.asarray(stops_s, dtype=np.float64).reshape(-1)
    if starts.shape != stops.shape:
        raise ValueError(f"starts ({starts.size}) and stops ({stops.size}) differ in length")
    events = np.empty(starts.size, dtype=EVENT_DTYPE)
    events["start_s"] = starts
    events["stop_s"] = stops
    if confidences is None:
        events["confidence"] = 1.0
    else:
        conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
        if conf.shape != starts.shape:
            raise ValueError(f"confidences ({conf.size}) and starts ({starts.size}) differ")
        events["confidence"] = conf
    return events


def merge_overlapping(events: np.ndarray, *, touching: bool = True) -> np.ndarray:
    """Sort events and merge those that overlap; confidence of a merge is the max.

    With ``touching`` (the default), events that only touch (one stops where the next
    starts) are merged too; without it they stay apart, as separate events. Input events
    must each be finite with ``start_s < stop_s``.
    """
    if events.size == 0:
        return np.empty(0, dtype=EVENT_DTYPE)
    ordered = np.sort(events, order=("start_s", "stop_s"))
    starts, stops, conf = ordered["start_s"], ordered["stop_s"], ordered["confidence"]
    # A new group starts where the start lies beyond every earlier stop.
    running_stop = np.maximum.accumulate(stops)
    new_group = np.ones(ordered.size, dtype=bool)
    beyond = np.greater if touching else np.greater_equal
    new_group[1:] = beyond(starts[1:], running_stop[:-1])
    first = np.flatnonzero(new_group)
    last = np.append(first[1:], ordered.size) - 1
    merged = np.empty(first.size, dtype=EVENT_DTYPE)
    merged["start_s"] = starts[first]
    merged["stop_s"] = running_stop[last]
    merged["confidence"] = np.maximum.reduceat(conf, first)
    return merged


def check_events(events: np.ndarray, name: str, duration_s: float | None = None) -> np.ndarray:
    """Return ``events`` if canonical (and inside ``[0, duration_s]``), else raise ValueError.

    ``name`` says which argument is checked, for the message.
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise ValueError(f"{name}: expected a structured array of EVENT_DTYPE, got {events!r}")
    missing = {"start_s", "stop_s"} - set(events.dtype.names)
    if missing:
        raise ValueError(f"{name}: missing fields {sorted(missing)} (use EVENT_DTYPE)")
    if events.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D event array, got shape {events.shape}")
    if events.size == 0:
        return events
    # Fast path: one pass per condition; the slower diagnosis below runs only on failure.
    starts, stops = events["start_s"], events["stop_s"]
    if (
        bool(np.all(starts < stops))
        and bool(np.all(starts[1:] >= stops[:-1]))
        and starts[0] >= 0
        and np.isfinite(stops[-1])
        and (duration_s is None or stops[-1] <= duration_s)
    ):
        return events
    starts = events["start_s"].astype(np.float64)
    stops = events["stop_s"].astype(np.float64)
    if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(stops))):
        raise ValueError(f"{name}: event times must be finite")
    bad = np.flatnonzero(starts >= stops)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: event {i} has start_s {starts[i]} >= stop_s {stops[i]}")
    overlap = np.flatnonzero(starts[1:] < stops[:-1])
    if overlap.size:
        i = int(overlap[0]) + 1
        raise ValueError(
            f"{name}: event {i} starts at {starts[i]} s before event {i - 1} stops at "
            f"{stops[i - 1]} s; events must be sorted and disjoint (see merge_overlapping)"
        )
    if starts.size and starts[0] < 0:
        raise ValueError(f"{name}: event 0 starts at {starts[0]} s, before the recording")
    if duration_s is not None and stops.size and stops[-1] > duration_s:
        raise ValueError(
            f"{name}: event {stops.size - 1} stops at {stops[-1]} s, after the recording "
            f"end at {duration_s} s"
        )
    return events
