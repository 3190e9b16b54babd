"""Seizure annotation files: TUSZ ``.csv_bi`` / ``.csv`` and BIDS ``*_events.tsv``.

Every reader returns an :class:`Annotation` whose ``events`` are the term-level seizure
intervals: sorted, overlapping or touching intervals merged (confidence of a merge is the
maximum), as an ``EVENT_DTYPE`` array. :func:`read_csv_bi` can keep touching intervals
apart (``merge_touching=False``): that is how a detector's output is read for scoring,
where each event written is one event, as NEDC's scorer counts them (a long detection
split into touching pieces by post-processing is several events, not one).

Formats:

- TUSZ ``.csv_bi`` (term level): ``#`` header lines (``# version = csv_v1.0.0``,
  ``# bname = ...``, ``# duration = 720.00 secs``, ``# montage_file = ...``), then the
  header ``channel,start_time,stop_time,label,confidence`` and rows such as
  ``TERM,38.0000,59.0000,seiz,1.0000``. The channel must be ``TERM``.
- TUSZ ``.csv`` (channel level): same layout, channels such as ``FP1-F7`` and seizure-type
  labels; the seizure intervals are the union over channels.
- BIDS ``*_events.tsv`` in SzCORE's HED-SCORE form: tab-separated columns ``onset``,
  ``duration``, ``eventType`` (``sz`` or ``sz_*`` for seizures, ``bckg``), ``confidence``,
  ``channels``, ``dateTime``, ``recordingDuration``; ``n/a`` where unknown.

Labels: :data:`SEIZURE_LABELS` are seizures; ``bckg`` and ``nesz`` (non-epileptic) are
background; any other label is an error, so that an unknown label never silently changes
a score.

Policies for bad content (all errors are :class:`AnnotationError`, naming file and line):

- malformed rows, unknown labels, non-finite or negative times, ``start >= stop``: error;
- an event that starts at or after the stated duration: error;
- an event that stops after the stated duration by at most :data:`END_SLACK_S`: clipped
  to the duration with a logged warning (rounding in the writer of the file); by more: error.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ._events import EVENT_DTYPE, check_events, make_events, merge_overlapping

__all__ = [
    "BACKGROUND_LABELS",
    "END_SLACK_S",
    "SEIZURE_LABELS",
    "Annotation",
    "AnnotationError",
    "read_annotation",
    "read_csv_bi",
    "read_events_tsv",
    "read_tusz_csv",
    "write_csv_bi",
    "write_events_tsv",
]

logger = logging.getLogger(__name__)

SEIZURE_LABELS: frozenset[str] = frozenset(
    {"fnsz", "gnsz", "spsz", "cpsz", "absz", "tnsz", "cnsz", "tcsz", "atsz", "mysz", "seiz"}
)
"""TUSZ labels that count as seizures (``nesz`` is non-epileptic and is not one)."""

BACKGROUND_LABELS: frozenset[str] = frozenset({"bckg", "nesz"})
"""TUSZ labels that count as background."""

END_SLACK_S = 1.0
"""Events stopping at most this many seconds after the stated duration are clipped to it."""

_CSV_HEADER = ("channel", "start_time", "stop_time", "label", "confidence")
_TSV_COLUMNS = (
    "onset",
    "duration",
    "eventType",
    "confidence",
    "channels",
    "dateTime",
    "recordingDuration",
)
_DURATION_RE = re.compile(r"^#\s*duration\s*=\s*(\S+)\s*(?:secs?|s)?\s*$", re.IGNORECASE)


class AnnotationError(ValueError):
    """An annotation file that cannot be read as stated; the message names file and line."""


@dataclass(frozen=True)
class Annotation:
    """The seizure intervals of one recording, as read from an annotation file."""

    events: np.ndarray
    """``EVENT_DTYPE`` array: sorted, merged seizure intervals in seconds (term level)."""
    duration_s: float | None
    """Recording duration in seconds from the file header, None when the file has none."""
    path: Path | None
    """The file read, None when built in memory."""


def read_annotation(path: str | Path) -> Annotation:
    """Read an annotation file, choosing the format from its name.

    ``.csv_bi`` is TUSZ term level, ``.csv`` TUSZ channel level, ``.tsv`` BIDS events.
    """
    path = Path(path)
    if path.suffix == ".csv_bi":
        return read_csv_bi(path)
    if path.suffix == ".csv":
        return read_tusz_csv(path)
    if path.suffix == ".tsv":
        return read_events_tsv(path)
    raise AnnotationError(f"{path}: unknown annotation format (expected .csv_bi, .csv or .tsv)")


def read_csv_bi(path: str | Path, *, merge_touching: bool = True) -> Annotation:
    """Read a TUSZ term-level ``.csv_bi`` file (channel ``TERM`` on every row).

    Overlapping rows are always merged; rows that only touch are merged unless
    ``merge_touching`` is False (see the module doc).
    """
    return _read_tusz(Path(path), term_level=True, merge_touching=merge_touching)


def read_tusz_csv(path: str | Path) -> Annotation:
    """Read a TUSZ channel-level ``.csv`` file; seizures are the union over channels."""
    return _read_tusz(Path(path), term_level=False)


def _read_text(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except OSError as err:
        raise AnnotationError(f"{path}: cannot read ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not UTF-8 text ({err.reason})") from err


def _parse_float(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{where}: {what} {text!r} is not finite")
    return value


def _read_tusz(path: Path, *, term_level: bool, merge_touching: bool = True) -> Annotation:
    duration_s: float | None = None
    header_seen = False
    rows: list[tuple[float, float, float, int]] = []
    for lineno, raw in enumerate(_read_text(path), start=1):
        line = raw.strip()
        where = f"{path}:{lineno}"
        if not line:
            continue
        if line.startswith("#"):
            if "duration" in line.lower():
                parsed = _parse_duration(line, where)
                duration_s = parsed if parsed is not None else duration_s
            continue
        fields = [f.strip() for f in line.split(",")]
        if not header_seen:
            if tuple(f.lower() for f in fields) != _CSV_HEADER:
                raise AnnotationError(
                    f"{where}: expected the header {','.join(_CSV_HEADER)!r}, got {line!r}"
                )
            header_seen = True
            continue
        if len(fields) != len(_CSV_HEADER):
            raise AnnotationError(f"{where}: expected 5 comma-separated fields, got {line!r}")
        channel, start_text, stop_text, label, conf_text = fields
        if term_level and channel != "TERM":
            raise AnnotationError(
                f"{where}: channel {channel!r} in a term-level .csv_bi file (expected TERM; "
                "channel-level files are .csv)"
            )
        label = label.lower()
        if label not in SEIZURE_LABELS and label not in BACKGROUND_LABELS:
            raise AnnotationError(f"{where}: unknown label {label!r}")
        start = _parse_float(start_text, "start_time", where)
        stop = _parse_float(stop_text, "stop_time", where)
        conf = _parse_float(conf_text, "confidence", where)
        _check_interval(start, stop, where)
        if label in SEIZURE_LABELS:
            rows.append((start, stop, conf, lineno))
    if not header_seen:
        raise AnnotationError(f"{path}: no header line {','.join(_CSV_HEADER)!r} found")
    return _finish(path, rows, duration_s, merge_touching=merge_touching)


def _parse_duration(line: str, where: str) -> float | None:
    """The seconds of a ``# duration = 720.00 secs`` line; None for other comments."""
    match = _DURATION_RE.match(line)
    if match is None:
        if re.match(r"^#\s*duration\b", line, re.IGNORECASE):
            raise AnnotationError(f"{where}: cannot read the duration line {line!r}")
        return None
    duration_s = _parse_float(match.group(1), "duration", where)
    if duration_s <= 0:
        raise AnnotationError(f"{where}: duration {duration_s} must be positive")
    return duration_s


def _check_interval(start: float, stop: float, where: str) -> None:
    if start < 0:
        raise AnnotationError(f"{where}: start {start} s is negative")
    if start >= stop:
        raise AnnotationError(f"{where}: start {start} s is not before stop {stop} s")


def _finish(
    path: Path,
    rows: list[tuple[float, float, float, int]],
    duration_s: float | None,
    *,
    merge_touching: bool = True,
) -> Annotation:
    """Check rows against the duration (clipping within the slack) and merge them."""
    starts, stops, confs = [], [], []
    for start, stop, conf, lineno in rows:
        if duration_s is not None:
            where = f"{path}:{lineno}"
            if start >= duration_s:
                raise AnnotationError(
                    f"{where}: event starts at {start} s, at or after the end of the "
                    f"recording ({duration_s} s)"
                )
            if stop > duration_s + END_SLACK_S:
                raise AnnotationError(
                    f"{where}: event stops at {stop} s, more than {END_SLACK_S} s after the "
                    f"end of the recording ({duration_s} s)"
                )
            if stop > duration_s:
                logger.warning(
                    "%s: event stop %s s clipped to the recording duration %s s",
                    where,
                    stop,
                    duration_s,
                )
                stop = duration_s
        starts.append(start)
        stops.append(stop)
        confs.append(conf)
    events = make_events(starts, stops, confs)
    if len(starts) > 1:
        events = merge_overlapping(events, touching=merge_touching)
    return Annotation(events=events, duration_s=duration_s, path=path)


def read_events_tsv(path: str | Path) -> Annotation:
    """Read a BIDS ``*_events.tsv`` file in SzCORE's HED-SCORE form.

    ``recordingDuration`` (when present and not ``n/a``) gives the duration; it must be the
    same on every row. ``confidence`` ``n/a`` becomes NaN.
    """
    path = Path(path)
    lines = _read_text(path)
    if not lines or not lines[0].strip():
        raise AnnotationError(f"{path}:1: empty file; expected a header with onset, duration")
    columns = [c.strip() for c in lines[0].split("\t")]
    for required in ("onset", "duration", "eventType"):
        if required not in columns:
            raise AnnotationError(f"{path}:1: missing column {required!r} in {columns}")
    col = {name: i for i, name in enumerate(columns)}
    duration_s: float | None = None
    rows: list[tuple[float, float, float, int]] = []
    for lineno, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        fields = [f.strip() for f in raw.split("\t")]
        if len(fields) != len(columns):
            raise AnnotationError(
                f"{where}: expected {len(columns)} tab-separated fields, got {len(fields)}"
            )
        if "recordingDuration" in col and fields[col["recordingDuration"]] != "n/a":
            row_duration = _parse_float(
                fields[col["recordingDuration"]], "recordingDuration", where
            )
            if duration_s is not None and row_duration != duration_s:
                raise AnnotationError(
                    f"{where}: recordingDuration {row_duration} differs from {duration_s} "
                    "on an earlier row"
                )
            duration_s = row_duration
        event_type = fields[col["eventType"]]
        if event_type == "bckg":
            continue
        if not (event_type == "sz" or event_type.startswith("sz_")):
            raise AnnotationError(f"{where}: unknown eventType {event_type!r} (sz*, bckg)")
        onset = _parse_float(fields[col["onset"]], "onset", where)
        length = _parse_float(fields[col["duration"]], "duration", where)
        conf = math.nan
        if "confidence" in col and fields[col["confidence"]] != "n/a":
            conf = _parse_float(fields[col["confidence"]], "confidence", where)
        _check_interval(onset, onset + length, where)
        rows.append((onset, onset + length, conf, lineno))
    return _finish(path, rows, duration_s)


def write_csv_bi(
    path: str | Path,
    events: np.ndarray,
    duration_s: float,
    *,
    bname: str | None = None,
    montage_file: str = "$NEDC_NFC/lib/nedc_eas_default_montage.txt",
    version: str = "csv_v1.0.0",
    comments: Sequence[tuple[str, str]] = (),
) -> None:
    """Write events as a TUSZ term-level ``.csv_bi`` file (times with 4 decimals).

    A recording without events gets one ``bckg`` row over its whole duration, as in TUSZ.
    ``bname`` defaults to the file stem. ``comments`` adds ``# key = value`` header lines after
    the standard ones (readers, this package's included, skip them).
    """
    path = Path(path)
    _check_writable(events, duration_s)
    lines = [
        f"# version = {version}",
        f"# bname = {bname if bname is not None else path.stem}",
        f"# duration = {_duration_text(duration_s)} secs",
        f"# montage_file = {montage_file}",
        *(f"# {key} = {' '.join(value.split())}" for key, value in comments),
        "#",
        ",".join(_CSV_HEADER),
    ]
    if events.size == 0:
        lines.append(f"TERM,{0.0:.4f},{duration_s:.4f},bckg,{1.0:.4f}")
    for event in events:
        lines.append(
            f"TERM,{event['start_s']:.4f},{event['stop_s']:.4f},seiz,{event['confidence']:.4f}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_events_tsv(
    path: str | Path,
    events: np.ndarray,
    duration_s: float,
    *,
    date_time: datetime | None = None,
    channels: str = "n/a",
) -> None:
    """Write events as a BIDS ``*_events.tsv`` file in SzCORE's HED-SCORE form.

    Seizures get eventType ``sz``; a recording without events gets one ``bckg`` row over its
    whole duration. ``date_time`` is the recording start (``n/a`` when None; SzCORE's tools
    expect a value). NaN confidence is written ``n/a``.
    """
    path = Path(path)
    _check_writable(events, duration_s)
    when = date_time.strftime("%Y-%m-%d %H:%M:%S") if date_time is not None else "n/a"
    lines = ["\t".join(_TSV_COLUMNS)]
    if events.size == 0:
        lines.append(f"0.0000\t{duration_s:.4f}\tbckg\tn/a\t{channels}\t{when}\t{duration_s:.4f}")
    for event in events:
        conf = event["confidence"]
        conf_text = "n/a" if math.isnan(conf) else f"{conf:.4f}"
        length = event["stop_s"] - event["start_s"]
        lines.append(
            f"{event['start_s']:.4f}\t{length:.4f}\tsz\t{conf_text}\t{channels}\t{when}\t"
            f"{duration_s:.4f}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _duration_text(duration_s: float) -> str:
    """TUSZ writes two decimals; keep four when two would change the value."""
    two = f"{duration_s:.2f}"
    return two if float(two) == duration_s else f"{duration_s:.4f}"


def _check_writable(events: np.ndarray, duration_s: float) -> None:
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be positive and finite, got {duration_s}")
    check_events(events, "events", duration_s)
    if events.dtype != EVENT_DTYPE:
        raise ValueError(f"events: expected EVENT_DTYPE {EVENT_DTYPE}, got {events.dtype}")
