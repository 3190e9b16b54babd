"""Recordings of a split that the cache skipped, read back from the corpus, so that reports
can score the whole split: each counts as a recording on which the detector output nothing
(its seizures missed, its hours in the FA/24h denominator), as NEDC scores an empty
hypothesis file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bgb_data import Manifest, RecordingEntry, RecordingError, find_annotation, read_edf_header
from bgb_events import AnnotationError, check_events, read_annotation

__all__ = ["Missed", "SkippedRecording", "as_missed", "skipped_recordings", "whole_split_summary"]


@dataclass
class SkippedRecording:
    """A recording of the split that the cache skipped, with its seizures and duration as far
    as the corpus gives them (a skipped manifest entry stores neither)."""

    entry: RecordingEntry
    reference: np.ndarray | None
    """Merged seizure events of its annotation file; None when unknown."""
    duration_s: float | None
    """Recorded seconds; None when unknown."""
    duration_from: str | None
    """``manifest``, ``annotation`` (its ``# duration`` line, what NEDC scores with) or
    ``edf_header``; None when unknown."""
    unknown: str | None
    """Why its seizures or duration are unknown; None when both are known."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: path, status, reason, message, duration, seizures, what is unknown."""
        return {
            "path": self.entry.path,
            "status": self.entry.status,
            "reason": self.entry.reason,
            "message": self.entry.message,
            "duration_s": self.duration_s,
            "duration_from": self.duration_from,
            "n_seizures": None if self.reference is None else len(self.reference),
            "unknown": self.unknown,
        }


def skipped_recordings(
    cache_dir: Path, split: str, data_root: Path | None = None
) -> list[SkippedRecording]:
    """Every recording of ``split`` whose manifest status is not ``ok``, with its seizures and
    duration read from the corpus at ``data_root`` (default: the manifest's data root)."""

    manifest = Manifest.load(cache_dir)
    root = Path(manifest.data_root) if data_root is None else data_root
    entries = manifest.select(split=split, status=None)
    return [_read_skipped(entry, root) for entry in entries if entry.status != "ok"]


def _read_skipped(entry: RecordingEntry, root: Path) -> SkippedRecording:
    """Seizures from the annotation beside the EDF; duration from the manifest, else the
    annotation's ``# duration`` line, else the EDF header. What cannot be read is unknown."""

    edf = root / entry.path
    problems: list[str] = []
    reference: np.ndarray | None = None
    duration_s, duration_from = entry.duration_s, "manifest"
    annotation = root / entry.annotation_file if entry.annotation_file else find_annotation(edf)
    if annotation is None:
        problems.append(f"seizures: no .csv_bi or .csv annotation beside {edf}")
    else:
        try:
            read = read_annotation(annotation)
        except AnnotationError as err:
            problems.append(f"seizures: {err}")
        else:
            reference = read.events
            if duration_s is None and read.duration_s is not None:
                duration_s, duration_from = read.duration_s, "annotation"
    if duration_s is None:
        try:
            duration_s, duration_from = read_edf_header(edf).duration_s, "edf_header"
        except RecordingError as err:
            problems.append(f"duration: {err}")
    if reference is not None and duration_s is not None:
        try:
            check_events(reference, f"seizures of {annotation}", duration_s)
        except ValueError as err:
            problems.append(f"seizures do not fit the recording's {duration_s:g} s: {err}")
            reference = None
    return SkippedRecording(
        entry=entry,
        reference=reference,
        duration_s=duration_s,
        duration_from=duration_from if duration_s is not None else None,
        unknown="; ".join(problems) or None,
    )


Missed = tuple[np.ndarray, np.ndarray, float]
"""(reference events, no detections, duration_s) of a skipped recording, for the pooled scorer."""


def as_missed(skipped: Sequence[SkippedRecording]) -> list[Missed]:
    """The skipped recordings whose seizures and duration are known, each with no detections."""
    return [
        (s.reference, s.reference[:0], s.duration_s)
        for s in skipped
        if s.reference is not None and s.duration_s is not None
    ]


def whole_split_summary(
    predictions: Sequence[Any],
    skipped: Sequence[SkippedRecording],
    missed: Sequence[Missed],
    limit_files: int | None,
) -> dict[str, Any]:
    """What the whole-split rows cover: the scored recordings and the ``missed`` ones (the
    skipped recordings whose seizures and duration are known); not ``complete`` without all."""
    return {
        "n_recordings": len(predictions) + len(missed),
        "n_skipped": len(skipped),
        "n_unknown": len(skipped) - len(missed),
        "complete": len(missed) == len(skipped),
        "total_duration_s": float(
            sum(p.duration_s for p in predictions) + sum(m[2] for m in missed)
        ),
        "n_seizures": sum(len(p.reference) for p in predictions) + sum(len(m[0]) for m in missed),
        "skipped_by_reason": dict(
            Counter(s.entry.reason or "no reason given" for s in skipped).most_common()
        ),
        "limit_files": limit_files,
    }
