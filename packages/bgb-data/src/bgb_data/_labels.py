"""Seizure labels: finding a recording's annotation file and the per-sample 0/1 mask.

Reading is bgb_events' (:func:`bgb_events.read_annotation`): one reader for training labels
and for scoring. ``.csv_bi`` (term level) is preferred over ``.csv`` (channel level).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bgb_data._errors import RecordingError
from bgb_data._recipe import SFREQ_HZ
from bgb_events import AnnotationError, read_annotation

__all__ = ["find_annotation", "label_mask", "read_seizures"]

_SUFFIXES = (".csv_bi", ".csv")
_DURATION_TOLERANCE_S = 1.0
"""How far an annotation's stated duration or last seizure may reach past the recording."""


def find_annotation(edf_path: str | Path) -> Path | None:
    """The ``.csv_bi`` (preferred) or ``.csv`` file beside an EDF, or None."""
    edf_path = Path(edf_path)
    for suffix in _SUFFIXES:
        candidate = edf_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_seizures(annotation_path: Path, duration_s: float) -> list[tuple[float, float]]:
    """Seizure intervals (start_s, stop_s) of a recording from its annotation file.

    Raises:
        RecordingError: ``bad_annotation`` when the file cannot be read, its stated
            duration differs from the recording's by more than one second, or a seizure
            starts at or after the end of the recording or ends more than one second
            after it (an annotation of another file, or of a longer version of it).
    """
    try:
        annotation = read_annotation(annotation_path)
    except AnnotationError as err:
        raise RecordingError("bad_annotation", str(err)) from err
    stated_s = annotation.duration_s
    if stated_s is not None and abs(stated_s - duration_s) > _DURATION_TOLERANCE_S:
        raise RecordingError(
            "bad_annotation",
            f"{annotation_path}: states a duration of {stated_s:g} s but the "
            f"recording lasts {duration_s:g} s",
        )
    events = annotation.events
    seizures = [
        (float(a), float(b)) for a, b in zip(events["start_s"], events["stop_s"], strict=True)
    ]
    for start_s, stop_s in seizures:
        if start_s >= duration_s or stop_s > duration_s + _DURATION_TOLERANCE_S:
            raise RecordingError(
                "bad_annotation",
                f"{annotation_path}: seizure {start_s:g}-{stop_s:g} s reaches past the end "
                f"of the recording ({duration_s:g} s); check that the annotation belongs "
                "to this EDF",
            )
    return seizures


def label_mask(events: object, n_samples: int, sfreq_hz: float = SFREQ_HZ) -> np.ndarray:
    """Per-sample 0/1 seizure mask, uint8 (n_samples,).

    Sample k (time k / sfreq_hz) is 1 when start_s <= k / sfreq_hz < stop_s for some event.
    ``events`` is a structured array with ``start_s``/``stop_s`` fields (bgb_events'
    ``EVENT_DTYPE``) or anything shaped (n_events, 2) in seconds. Events reaching past the
    end are cut at ``n_samples``; an event starting after the end is an error.
    """
    mask = np.zeros(n_samples, dtype=np.uint8)
    for start_s, stop_s in _as_pairs(events):
        if not (math.isfinite(start_s) and math.isfinite(stop_s)) or start_s >= stop_s:
            raise ValueError(f"label_mask: bad event ({start_s}, {stop_s}) s")
        if start_s < 0 or start_s * sfreq_hz >= n_samples:
            raise ValueError(
                f"label_mask: event ({start_s}, {stop_s}) s starts outside the recording "
                f"(0 to {n_samples / sfreq_hz:g} s)"
            )
        mask[math.ceil(start_s * sfreq_hz) : min(math.ceil(stop_s * sfreq_hz), n_samples)] = 1
    return mask


def _as_pairs(events: object) -> list[tuple[float, float]]:
    array = np.asarray(events)
    if array.dtype.names is not None:
        return list(zip(array["start_s"].tolist(), array["stop_s"].tolist(), strict=True))
    if array.size == 0:
        return []
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"label_mask: events of shape {array.shape}, expected (n_events, 2)")
    return [(float(a), float(b)) for a, b in array.astype(np.float64)]
