"""A small EDF/EDF+ header reader (for validation) and writer (for the synthetic corpus).

Format (EDF spec, Kemp et al. 1992; EDF+ 2003): a 256-byte ASCII main header, then 256 bytes
per signal (fields stored signal after signal: label 16, transducer 80, physical dimension 8,
physical min 8, physical max 8, digital min 8, digital max 8, prefilter 80, samples per
record 8, reserved 32), then data records of little-endian int16 samples, each record holding
every signal's samples one signal after another. EDF+ adds an ``EDF Annotations`` signal
whose bytes carry time-stamped annotation lists (TALs).

Rules for files that stretch the format:

- The header's number of data records is authoritative: bytes after the last stated record
  are ignored (a warning names the file and how many records they hold); fewer bytes than
  the stated records fill is ``truncated``. A stated ``-1`` (unknown, allowed while
  recording) means as many whole records as the file holds; a partial last record is then
  ``truncated``.
- EDF+D (discontinuous) files are rejected (``discontinuous``): their records have gaps
  that a continuous reading would silently close.
- Labels are stripped of padding: every whitespace character of latin-1 (including the
  non-breaking space 0xA0) and NUL bytes. ``raw_labels`` keeps the names as MNE gives them,
  so a channel can be found in MNE by its position in the header.

References: B. Kemp et al., "A simple format for exchange of digitized polygraphic
recordings", EEG Clin. Neurophysiol. 82 (1992); B. Kemp, J. Olivan, "European data format
'plus' (EDF+)", Clin. Neurophysiol. 114 (2003).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from bgb_data._atomic import publish, temp_path
from bgb_data._errors import RecordingError

__all__ = [
    "ANNOTATION_LABEL",
    "EdfHeader",
    "parse_start_time",
    "read_edf_header",
    "strip_label_padding",
    "write_edf",
]

logger = logging.getLogger(__name__)

ANNOTATION_LABEL = "EDF Annotations"
_DIGITAL_MIN = -32768
_DIGITAL_MAX = 32767
_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("physical_dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefilter", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)
_LABEL_PADDING = "".join(chr(c) for c in range(256) if chr(c).isspace()) + "\x00"
"""Stripped from both ends of a label: latin-1 whitespace (0xA0 included) and NUL bytes."""


@dataclass(frozen=True)
class EdfHeader:
    """What the header of an EDF file states."""

    path: Path
    header_bytes: int
    n_records: int
    """Number of data records the header states (from the file size when it says -1)."""
    record_duration_s: float
    labels: tuple[str, ...]
    """Signal labels stripped of padding (see the module docstring)."""
    raw_labels: tuple[str, ...]
    """Signal labels as MNE names them (latin-1, only ASCII whitespace stripped)."""
    samples_per_record: tuple[int, ...]
    edf_plus: bool
    """EDF+C (continuous EDF+); EDF+D files are rejected."""
    trailing_bytes: int = 0
    """Bytes after the stated data records; never read."""
    start: datetime | None = None
    """Start of the recording from the header's date and time fields (EDF's two-digit year:
    85-99 are 1985-1999, 00-84 are 2000-2084); None when the fields do not parse."""

    def sfreq_hz(self, label: str) -> float:
        """Sampling rate of the signal ``label`` in Hz."""
        return self.samples_per_record[self.labels.index(label)] / self.record_duration_s

    def n_samples(self, label: str) -> int:
        """Samples of the signal ``label`` in the stated data records."""
        return self.n_records * self.samples_per_record[self.labels.index(label)]

    @property
    def duration_s(self) -> float:
        """Recording duration in seconds."""
        return self.n_records * self.record_duration_s

    @property
    def record_bytes(self) -> int:
        """Bytes of one data record (int16 samples of every signal)."""
        return 2 * sum(self.samples_per_record)


def read_edf_header(path: str | Path) -> EdfHeader:
    """Parse and check an EDF header against the file size.

    Bytes after the stated data records are recorded in ``trailing_bytes`` and never read
    (see the module docstring).

    Raises:
        RecordingError: ``not_edf`` when the header cannot be parsed as EDF, ``truncated``
            when the file holds fewer data records than the header states (or a partial one
            when it states -1), ``discontinuous`` for EDF+D.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            main = f.read(256)
            if len(main) < 256 or main[:8] != b"0       ":
                raise RecordingError(
                    "not_edf", f"{path}: not an EDF file (no EDF version field '0')"
                )
            ns = _header_int(main[252:256], "number of signals", path)
            signals = f.read(256 * max(ns, 0))
    except OSError as err:
        raise RecordingError("not_edf", f"{path}: cannot read ({err.strerror})") from err
    if ns <= 0 or len(signals) < 256 * ns:
        raise RecordingError("not_edf", f"{path}: EDF header too short for {ns} signals")
    header_bytes = _header_int(main[184:192], "header bytes", path)
    if header_bytes != 256 * (ns + 1):
        raise RecordingError(
            "not_edf", f"{path}: header bytes {header_bytes} != 256 * (1 + {ns} signals)"
        )
    if main[192:197] == b"EDF+D":
        raise RecordingError(
            "discontinuous",
            f"{path}: EDF+D (discontinuous) recording: its data records have gaps in time "
            "and reading them as one continuous signal would join them; export it as "
            "continuous EDF/EDF+C (or split it at the gaps)",
        )
    n_records = _header_int(main[236:244], "number of data records", path)
    if n_records < -1:
        raise RecordingError("not_edf", f"{path}: number of data records {n_records} < -1")
    record_duration_s = _header_float(main[244:252], "data record duration", path)
    if not record_duration_s > 0:
        raise RecordingError(
            "not_edf", f"{path}: data record duration {record_duration_s} is not positive"
        )
    fields = _split_signal_fields(signals, ns)
    labels = tuple(strip_label_padding(text.decode("latin-1")) for text in fields["label"])
    raw_labels = tuple(text.strip().decode("latin-1") for text in fields["label"])
    samples = tuple(
        _header_int(t, "samples per record", path) for t in fields["samples_per_record"]
    )
    if any(n <= 0 for n in samples):
        raise RecordingError("not_edf", f"{path}: a signal has no samples per record")
    record_bytes = 2 * sum(samples)
    available = (size - header_bytes) // record_bytes
    partial = (size - header_bytes) % record_bytes
    if n_records == -1:
        n_records = available
        if partial:
            raise RecordingError("truncated", f"{path}: the last data record is cut short")
    elif available < n_records:
        raise RecordingError(
            "truncated",
            f"{path}: header states {n_records} data records but the file holds {available}"
            + (" and a partial one" if partial else ""),
        )
    if n_records <= 0:
        raise RecordingError("truncated", f"{path}: no data records")
    return EdfHeader(
        path=path,
        header_bytes=header_bytes,
        n_records=n_records,
        record_duration_s=record_duration_s,
        labels=labels,
        raw_labels=raw_labels,
        samples_per_record=samples,
        edf_plus=main[192:197] == b"EDF+C",
        trailing_bytes=size - header_bytes - n_records * record_bytes,
        start=parse_start_time(main[168:176], main[176:184]),
    )


def parse_start_time(date: bytes, time: bytes) -> datetime | None:
    """``dd.mm.yy`` and ``hh.mm.ss`` header fields as a datetime (None when malformed: some
    exports anonymise them with other text, which is no reason to reject the recording)."""
    try:
        day, month, year = (int(part) for part in date.decode("ascii").split("."))
        hour, minute, second = (int(part) for part in time.decode("ascii").split("."))
        century = 1900 if year >= 85 else 2000
        return datetime(century + year, month, day, hour, minute, second)
    except ValueError:
        return None


def strip_label_padding(label: str) -> str:
    """A signal label without the padding of the module docstring (0xA0, NUL, whitespace)."""
    return label.strip(_LABEL_PADDING)


def _split_signal_fields(block: bytes, ns: int) -> dict[str, list[bytes]]:
    fields: dict[str, list[bytes]] = {}
    offset = 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [block[offset + i * width : offset + (i + 1) * width] for i in range(ns)]
        offset += width * ns
    return fields


def _header_int(raw: bytes, what: str, path: Path) -> int:
    try:
        return int(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise RecordingError("not_edf", f"{path}: EDF header field {what} {raw!r}") from None


def _header_float(raw: bytes, what: str, path: Path) -> float:
    try:
        return float(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise RecordingError("not_edf", f"{path}: EDF header field {what} {raw!r}") from None


def write_edf(
    path: str | Path,
    signals_uv: np.ndarray,
    labels: list[str] | tuple[str, ...],
    sfreq_hz: float,
    *,
    physical_max_uv: np.ndarray | float | None = None,
    edf_plus: bool = True,
    patient_id: str = "X X X X",
    start: datetime | None = None,
    record_duration_s: float = 1.0,
) -> None:
    """Write signals in microvolts as an EDF (EDF+C with ``edf_plus``) file, atomically.

    Each signal gets a symmetric physical range ``[-physical_max_uv, physical_max_uv]``
    (default: its largest absolute value, rounded up to a whole microvolt) quantised onto
    int16; values beyond the range saturate at the digital limits, like an amplifier's ADC.

    Shapes:
        signals_uv: (n_signals, n_samples), n_samples a whole number of data records.
    """
    path = Path(path)
    signals = np.asarray(signals_uv)
    if signals.ndim != 2 or signals.shape[0] != len(labels):
        raise ValueError(f"signals_uv shape {signals.shape} does not match {len(labels)} labels")
    per_record = sfreq_hz * record_duration_s
    if per_record != round(per_record) or per_record < 1:
        raise ValueError(f"{sfreq_hz} Hz x {record_duration_s} s is not a whole sample count")
    ns_signal = round(per_record)
    if signals.shape[1] % ns_signal:
        raise ValueError(f"{signals.shape[1]} samples is not a whole number of data records")
    n_records = signals.shape[1] // ns_signal
    if not np.all(np.isfinite(signals)):
        raise ValueError("signals_uv holds non-finite values")
    peak = np.abs(signals).max(axis=1) if physical_max_uv is None else physical_max_uv
    phys_max = np.broadcast_to(np.asarray(peak, dtype=np.float64), (len(labels),))
    phys_text = [_fit8(max(math.ceil(v), 1)) for v in phys_max]

    n_ann = 8 if edf_plus else 0  # int16 samples per record: 16 bytes of TAL text
    records = np.zeros((n_records, len(labels) * ns_signal + n_ann), dtype="<i2")
    for i, text in enumerate(phys_text):
        # digital = (x - pmin) / (pmax - pmin) * (dmax - dmin) + dmin, with pmin = -pmax
        phys = float(text)
        gain = (_DIGITAL_MAX - _DIGITAL_MIN) / (2 * phys)
        digital = np.rint((signals[i].astype(np.float64) + phys) * gain + _DIGITAL_MIN)
        np.clip(digital, _DIGITAL_MIN, _DIGITAL_MAX, out=digital)
        # (n_samples,) -> (n_records, ns_signal)
        records[:, i * ns_signal : (i + 1) * ns_signal] = digital.reshape(n_records, -1)
    if edf_plus:
        records[:, len(labels) * ns_signal :] = _timekeeping_tals(n_records, record_duration_s)

    all_labels = [*labels, ANNOTATION_LABEL] if edf_plus else list(labels)
    rows = [
        (label, "", "uV", f"-{text}", text, str(_DIGITAL_MIN), str(_DIGITAL_MAX), "", ns_signal)
        for label, text in zip(labels, phys_text, strict=True)
    ]
    if edf_plus:
        rows.append((ANNOTATION_LABEL, "", "", "-1", "1", "-32768", "32767", "", n_ann))
    header = _main_header(
        len(all_labels), n_records, record_duration_s, edf_plus, patient_id, start
    )
    header += _signal_headers(rows)
    tmp = temp_path(path)
    with tmp.open("wb") as f:
        f.write(header)
        f.write(records.tobytes())
    publish(tmp, path)


def _timekeeping_tals(n_records: int, record_duration_s: float) -> np.ndarray:
    """One time-keeping TAL (``+onset\\x14\\x14\\x00``) per record, as (n_records, 8) int16."""
    tals = [f"+{_fmt_number(r * record_duration_s)}\x14\x14\x00" for r in range(n_records)]
    text = "".join(t.ljust(16, "\x00") for t in tals).encode("ascii")
    return np.frombuffer(text, dtype="<i2").reshape(n_records, 8)


def _main_header(
    ns: int,
    n_records: int,
    record_duration_s: float,
    edf_plus: bool,
    patient_id: str,
    start: datetime | None,
) -> bytes:
    when = start if start is not None else datetime(2000, 1, 1)
    recording = f"Startdate {when.strftime('%d-%b-%Y').upper()} X X X" if edf_plus else ""
    fields = [
        ("0", 8),
        (patient_id, 80),
        (recording, 80),
        (when.strftime("%d.%m.%y"), 8),
        (when.strftime("%H.%M.%S"), 8),
        (str(256 * (ns + 1)), 8),
        ("EDF+C" if edf_plus else "", 44),
        (str(n_records), 8),
        (_fmt_number(record_duration_s), 8),
        (str(ns), 4),
    ]
    return b"".join(_ascii_field(text, width) for text, width in fields)


def _signal_headers(rows: list[tuple[str, str, str, str, str, str, str, str, int]]) -> bytes:
    out: list[bytes] = []
    for column, (_, width) in enumerate(_SIGNAL_FIELDS[:-1]):
        out.extend(_ascii_field(str(row[column]), width) for row in rows)
    out.extend(_ascii_field("", 32) for _ in rows)
    return b"".join(out)


def _ascii_field(text: str, width: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > width:
        raise ValueError(f"EDF header field {text!r} is longer than {width} characters")
    return raw.ljust(width, b" ")


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _fit8(value: int) -> str:
    text = str(value)
    if len(text) > 7:  # leaves room for the minus sign of the physical minimum
        raise ValueError(f"physical range {value} uV does not fit an EDF header field")
    return text
