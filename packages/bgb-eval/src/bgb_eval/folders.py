"""Score a folder of hypothesis ``.csv_bi`` files against a folder of reference files.

Files are matched by their path relative to each folder. Each recording's duration is the
reference file's ``# duration`` line (an error when absent). A hypothesis that states a
duration must agree with the reference to within :data:`DURATION_TOLERANCE_S`.

Hypothesis events are scored as written: rows that touch stay separate events (NEDC counts
the events it is given; a long detection that post-processing split into touching pieces
is scored piece by piece, as the training report scores it). Rows that overlap are merged.
Reference rows that touch are one seizure, as everywhere else in bgb.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from bgb_eval.scoring import SetScore, score_recordings
from bgb_eval.szcore import SzcoreParams
from bgb_events import END_SLACK_S, AnnotationError, read_csv_bi

__all__ = ["DURATION_TOLERANCE_S", "FolderMismatchError", "score_folders"]

logger = logging.getLogger(__name__)

DURATION_TOLERANCE_S = 0.01
"""Largest difference allowed between a hypothesis's stated duration and the reference's."""

_SUFFIX = ".csv_bi"


class FolderMismatchError(ValueError):
    """Reference and hypothesis folders do not hold the same recordings."""


def _relative_files(folder: Path) -> set[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    found: set[Path] = set()
    for directory, _, names in os.walk(folder):
        relative = Path(directory).relative_to(folder)
        found.update(relative / name for name in names if name.endswith(_SUFFIX))
    return found


def _list_some(paths: list[Path], folder: Path, limit: int = 5) -> str:
    shown = ", ".join(str(folder / p) for p in paths[:limit])
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return shown + more


def _hypothesis_events(path: Path, duration_s: float) -> np.ndarray:
    """Hypothesis events of ``path`` fitted to the reference duration (see module doc)."""
    hyp = read_csv_bi(path, merge_touching=False)
    if hyp.duration_s is not None and abs(hyp.duration_s - duration_s) > DURATION_TOLERANCE_S:
        raise AnnotationError(
            f"{path}: duration {hyp.duration_s} s differs from the reference's {duration_s} s"
        )
    events = hyp.events
    if events.size and events["stop_s"][-1] > duration_s:
        # Only reachable without a duration line in the hypothesis: apply the reader's rule.
        late = events["stop_s"][-1]
        if late > duration_s + END_SLACK_S or events["start_s"][-1] >= duration_s:
            raise AnnotationError(
                f"{path}: an event stops at {late} s, after the reference duration {duration_s} s"
            )
        logger.warning("%s: last event stop %s s clipped to %s s", path, late, duration_s)
        events = events.copy()
        events["stop_s"][-1] = duration_s
    return events


def score_folders(
    ref_dir: str | Path,
    hyp_dir: str | Path,
    *,
    missing_as_empty: bool = False,
    szcore_params: SzcoreParams | None = None,
) -> SetScore:
    """Pool OVLP, TAES and SzCORE scores over matching ``.csv_bi`` files of two folders.

    A reference without a hypothesis raises :class:`FolderMismatchError`, unless
    ``missing_as_empty`` (then it is scored with no detections); a hypothesis without a
    reference always raises it. Unreadable files raise :class:`AnnotationError`.
    """
    ref_root, hyp_root = Path(ref_dir), Path(hyp_dir)
    ref_files, hyp_files = _relative_files(ref_root), _relative_files(hyp_root)
    if not ref_files:
        raise FolderMismatchError(f"{ref_root}: no {_SUFFIX} reference files")
    orphans = sorted(hyp_files - ref_files)
    if orphans:
        raise FolderMismatchError(
            f"hypothesis files without a reference: {_list_some(orphans, hyp_root)}"
        )
    missing = sorted(ref_files - hyp_files)
    if missing and not missing_as_empty:
        raise FolderMismatchError(
            f"no hypothesis for {_list_some(missing, ref_root)} "
            "(use --missing-as-empty to score them as no detections)"
        )
    items: list[tuple[np.ndarray, np.ndarray, float]] = []
    for relative in sorted(ref_files):
        ref = read_csv_bi(ref_root / relative)
        if ref.duration_s is None:
            raise AnnotationError(f"{ref_root / relative}: no '# duration = ... secs' line")
        if relative in hyp_files:
            hyp_events = _hypothesis_events(hyp_root / relative, ref.duration_s)
        else:
            hyp_events = ref.events[:0]
        items.append((ref.events, hyp_events, ref.duration_s))
    return score_recordings(items, szcore_params=szcore_params)
