"""One recording of a cache build: prepare the signal, write the labels and its entry.

Files appear under their final names only when complete (temp name, fsync, rename), and
the entry file, written last, is what a later build trusts: a build killed at any moment
leaves either a complete recording with its entry or no entry at all. An entry that cannot
be read, or whose arrays do not have the size it states, is rebuilt (and logged).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bgb_data._atomic import publish, temp_path
from bgb_data._edf import read_edf_header
from bgb_data._errors import RecordingError
from bgb_data._labels import find_annotation, label_mask, read_seizures
from bgb_data._layout import SourceFile
from bgb_data._manifest import RecordingEntry, write_json_atomic
from bgb_data._npymap import read_layout
from bgb_data._prepare import prepare_recording
from bgb_data._recipe import Recipe
from bgb_data._windows import window_seizure_fractions, window_starts

__all__ = [
    "Task",
    "cache_paths",
    "process",
    "process_guarded",
    "trusted_entry",
    "unexpected_entry",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """What a worker needs to build one recording (picklable)."""

    source: SourceFile
    data_root: Path
    cache_dir: Path
    recipe: Recipe
    window_n: int
    stride_n: int


def cache_paths(cache_dir: Path, rel_path: str) -> tuple[Path, Path, Path]:
    """(signal, labels, entry) files of a recording, mirroring its path under the root."""
    stem = cache_dir / "recordings" / Path(rel_path).with_suffix("")
    return (
        stem.with_name(stem.name + ".signal.npy"),
        stem.with_name(stem.name + ".labels.npy"),
        stem.with_name(stem.name + ".entry.json"),
    )


def trusted_entry(task: Task) -> RecordingEntry | None:
    """The entry of an earlier build when it can be reused as is, else None.

    Reused when the entry file exists and reads back, names this recipe, and the source EDF
    still has the size and modification time it had; for ``ok`` entries the signal and
    label files must be complete ``.npy`` files of the recorded shape and dtype. A damaged
    entry or array is logged (as a warning naming the recording) and rebuilt.
    """
    signal_path, labels_path, entry_path = cache_paths(task.cache_dir, task.source.rel_path)
    if not entry_path.is_file():
        return None
    entry = _read_entry(entry_path)
    if entry is None:
        return None
    stat = task.source.path.stat()
    if (
        entry.recipe_hash != task.recipe.hash()
        or entry.source_size != stat.st_size
        or entry.source_mtime_ns != stat.st_mtime_ns
        or len(entry.window_seizure_fraction) != _expected_windows(entry, task)
    ):
        return None
    if entry.status == "ok":
        problem = _npy_problem(
            signal_path, (19, entry.n_samples), task.recipe.dtype
        ) or _npy_problem(labels_path, (entry.n_samples,), "uint8")
        if problem is not None:
            logger.warning("rebuilding %s: %s", task.source.rel_path, problem)
            return None
    return entry


def _read_entry(entry_path: Path) -> RecordingEntry | None:
    """The entry stored in ``entry_path``, or None (logged) when it cannot be read back."""
    try:
        data = json.loads(entry_path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        return RecordingEntry.from_dict(data)
    except (OSError, ValueError, TypeError) as err:  # JSON, UTF-8 and field errors included
        logger.warning("rebuilding: %s is unreadable (%s)", entry_path, err)
        return None


def _expected_windows(entry: RecordingEntry, task: Task) -> int:
    if entry.status != "ok" or entry.n_samples is None:
        return 0
    return len(window_starts(entry.n_samples, task.window_n, task.stride_n))


def _npy_problem(path: Path, shape: tuple[int | None, ...], dtype: str) -> str | None:
    """What is wrong with the ``.npy`` at ``path`` for an array of ``shape``, or None."""
    if not path.is_file():
        return f"{path} is missing"
    try:
        layout = read_layout(path)
    except (OSError, ValueError) as err:
        return f"{path} has no readable .npy header ({err})"
    if layout.shape != shape or layout.dtype != np.dtype(dtype):
        return f"{path} holds {layout.dtype} {layout.shape}, the entry says {dtype} {shape}"
    size = path.stat().st_size
    expected = layout.offset + layout.data_bytes
    if size != expected:
        return f"{path} is {size} bytes, a complete {dtype} {shape} array is {expected}"
    return None


def process(task: Task) -> RecordingEntry:
    """Build one recording; a bad recording gives a ``skipped`` entry, not an exception."""
    source = task.source
    stat = source.path.stat()
    entry = RecordingEntry(
        path=source.rel_path,
        split=source.split,
        patient=source.patient,
        session=source.session,
        montage=source.montage,
        status="ok",
        reason=None,
        message=None,
        recipe_hash=task.recipe.hash(),
        source_size=stat.st_size,
        source_mtime_ns=stat.st_mtime_ns,
    )
    signal_path, labels_path, entry_path = cache_paths(task.cache_dir, source.rel_path)
    signal_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _build(task, entry, signal_path, labels_path)
    except RecordingError as err:
        logger.info("skipped %s: %s", source.rel_path, err)
        entry.status, entry.reason, entry.message = "skipped", err.reason, str(err)
        signal_path.unlink(missing_ok=True)
        labels_path.unlink(missing_ok=True)
    except BaseException:
        # No entry is written for an unexpected error; leave no arrays without one either.
        signal_path.unlink(missing_ok=True)
        labels_path.unlink(missing_ok=True)
        raise
    write_json_atomic(entry_path, entry.to_dict())
    return entry


def process_guarded(task: Task) -> RecordingEntry:
    """:func:`process`, with an unexpected error turned into its entry by
    :func:`unexpected_entry` instead of raised."""
    try:
        return process(task)
    except Exception as err:  # recorded as skipped and logged with its traceback
        return unexpected_entry(task, err)


def unexpected_entry(task: Task, err: Exception) -> RecordingEntry:
    """A failure that is not a known bad-input case: logged with its traceback and returned
    as a ``skipped`` entry (reason ``unexpected_error``) that is not stored, so the next
    build retries the recording."""
    logger.error("unexpected error on %s", task.source.path, exc_info=err)
    try:
        stat = task.source.path.stat()
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
    except OSError:  # the source vanished; this entry is not stored, so -1 matches nothing
        size, mtime_ns = -1, -1
    return RecordingEntry(
        path=task.source.rel_path,
        split=task.source.split,
        patient=task.source.patient,
        session=task.source.session,
        montage=task.source.montage,
        status="skipped",
        reason="unexpected_error",
        message=f"{task.source.path}: {type(err).__name__}: {err}",
        recipe_hash=task.recipe.hash(),
        source_size=size,
        source_mtime_ns=mtime_ns,
    )


def _build(task: Task, entry: RecordingEntry, signal_path: Path, labels_path: Path) -> None:
    source = task.source
    if source.layout_error is not None:
        raise RecordingError("bad_layout", f"{source.path}: {source.layout_error}")
    header = read_edf_header(source.path)
    annotation = find_annotation(source.path)
    if annotation is None:
        raise RecordingError(
            "no_annotation", f"{source.path}: no .csv_bi or .csv annotation file beside it"
        )
    seizures = read_seizures(annotation, header.duration_s)
    info = prepare_recording(source.path, signal_path, task.recipe)
    if info.n_samples < task.window_n:
        raise RecordingError(
            "too_short", f"{source.path}: {info.n_samples} samples, fewer than one window"
        )
    labels = label_mask(seizures, info.n_samples, task.recipe.sfreq_hz)
    tmp = temp_path(labels_path)
    with tmp.open("wb") as f:
        np.save(f, labels)
    publish(tmp, labels_path)
    starts = window_starts(info.n_samples, task.window_n, task.stride_n)
    fractions = window_seizure_fractions(labels, starts, task.window_n)
    entry.sfreq_in_hz = info.sfreq_in_hz
    entry.duration_s = info.duration_s
    entry.n_samples = info.n_samples
    entry.seizures = seizures
    entry.annotation_file = annotation.relative_to(task.data_root).as_posix()
    entry.signal_file = signal_path.relative_to(task.cache_dir).as_posix()
    entry.label_file = labels_path.relative_to(task.cache_dir).as_posix()
    entry.reference = info.reference
    entry.interpolated = list(info.interpolated)
    entry.bad_channels = dict(info.bad_channels)
    entry.interpolation_reasons = info.interpolation_reasons
    entry.window_seizure_fraction = [round(float(f), 4) for f in fractions]
