"""Where :func:`bgb_data.prepare_recording` reads a recording from: an EDF file, or an MNE
``Raw`` a caller already holds. Both give the same view: labels, rates, duration, and the
picked channels copied in time chunks into a float32 microvolt row file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgb_data._edf import EdfHeader, read_edf_header, strip_label_padding
from bgb_data._errors import RecordingError
from bgb_data._rowfile import RowFile

__all__ = ["READ_CHUNK_N", "SignalSource", "copy_rows", "edf_source", "raw_source"]

logger = logging.getLogger(__name__)

READ_CHUNK_N = 1 << 18
"""Input samples per channel read at a time (19 x 2^18 float64 = 40 MB)."""

_FIFF_UNIT_V = 107
"""MNE's unit code for volts (``mne.io.constants.FIFF.FIFF_UNIT_V``)."""


@dataclass(frozen=True)
class SignalSource:
    """One recording as :func:`bgb_data.prepare_recording` reads it."""

    name: str
    """What messages call it: the EDF's path, or a description of the ``Raw``."""
    labels: tuple[str, ...]
    """Channel labels stripped of padding."""
    sfreq_hz: Callable[[str], float]
    """Sampling rate of a channel, Hz."""
    duration_s: float
    read_rows: Callable[[list[str], Path], RowFile]
    """Copy the channels of these labels, in this order, into a row file in a scratch folder."""


def edf_source(path: Path) -> SignalSource:
    """An EDF file: the header read here, the samples read by MNE when asked for.

    Raises:
        RecordingError: not an EDF, or one bgb cannot read (see :func:`read_edf_header`).
    """
    header = read_edf_header(path)
    if header.trailing_bytes:
        logger.warning(
            "%s: %d bytes (%d whole data records) after the %d data records the header "
            "states; reading only the stated records",
            path, header.trailing_bytes, header.trailing_bytes // header.record_bytes,
            header.n_records,
        )  # fmt: skip
    return SignalSource(
        name=str(path),
        labels=header.labels,
        sfreq_hz=header.sfreq_hz,
        duration_s=header.duration_s,
        read_rows=lambda labels, scratch: _read_edf_rows(header, labels, scratch),
    )


def raw_source(raw: Any) -> SignalSource:
    """An ``mne.io.BaseRaw`` (preloaded or not); its channels must be in volts, as MNE
    stores EEG.

    Raises:
        RecordingError: ``raw`` is not an MNE ``Raw`` (reason ``not_edf``).
    """
    try:
        names = list(raw.ch_names)
        sfreq = float(raw.info["sfreq"])
        n_times = int(raw.n_times)
        units = [int(ch["unit"]) for ch in raw.info["chs"]]
    except (AttributeError, KeyError, TypeError) as err:
        raise RecordingError(
            "not_edf", f"{type(raw).__name__} is neither an EDF path nor an MNE Raw ({err})"
        ) from None
    described = raw.filenames[0] if getattr(raw, "filenames", None) else None
    name = f"MNE Raw ({described})" if described else "MNE Raw"
    labels = tuple(strip_label_padding(n) for n in names)

    def read_rows(picked: list[str], scratch: Path) -> RowFile:
        positions = [labels.index(label) for label in picked]
        not_volts = [names[p] for p in positions if units[p] != _FIFF_UNIT_V]
        if not_volts:
            raise RecordingError(
                "not_edf",
                f"{name}: channels {', '.join(not_volts)} are not in volts; set their type "
                "to EEG (raw.set_channel_types) so that MNE stores them in volts",
            )
        return copy_rows(raw, positions, n_times, scratch)

    return SignalSource(
        name=name,
        labels=labels,
        sfreq_hz=lambda label: sfreq,
        duration_s=n_times / sfreq,
        read_rows=read_rows,
    )


def _read_edf_rows(header: EdfHeader, labels: list[str], scratch: Path) -> RowFile:
    """MNE reads the picked channels of an EDF in time chunks into a float32 uV row file.

    Channels are found in MNE by their position in the header, not by name (MNE keeps
    padding such as 0xA0 that the header parser strips); only the stated records are read.
    """
    import mne

    edf_path = header.path
    try:
        raw = mne.io.read_raw_edf(
            edf_path,
            include=[header.raw_labels[header.labels.index(label)] for label in labels],
            preload=False,
            infer_types=False,
            verbose="error",
        )
    except (ValueError, RuntimeError, OSError) as err:
        raise RecordingError("not_edf", f"{edf_path}: MNE cannot read it: {err}") from err
    picks = _mne_positions(header, labels, list(raw.ch_names))
    n_in = header.n_samples(labels[0])
    if raw.n_times < n_in:
        raise RecordingError(
            "truncated",
            f"{edf_path}: MNE reads {raw.n_times} samples per channel, the header states {n_in}",
        )
    return copy_rows(raw, picks, n_in, scratch)


def copy_rows(raw: Any, picks: list[int], n_samples: int, scratch: Path) -> RowFile:
    """The first ``n_samples`` of the MNE ``Raw``'s channels at positions ``picks``, in time
    chunks, into a float32 microvolt row file (one row per pick, in order)."""
    rows = RowFile(scratch / "raw.f32", len(picks), n_samples, "float32")
    try:
        for start in range(0, n_samples, READ_CHUNK_N):
            stop = min(start + READ_CHUNK_N, n_samples)
            chunk = raw.get_data(picks=picks, start=start, stop=stop)  # (n_picks, n), V
            chunk *= 1e6
            for i in range(len(picks)):
                rows.write(i, start, chunk[i])
    except BaseException:
        rows.close()
        raise
    return rows


def _mne_positions(header: EdfHeader, labels: list[str], mne_names: list[str]) -> list[int]:
    """Position in MNE's channel list of each of ``labels`` (MNE keeps header order)."""
    in_header = sorted(header.labels.index(label) for label in labels)
    if len(mne_names) != len(in_header):
        raise RecordingError(
            "not_edf",
            f"{header.path}: MNE found {len(mne_names)} of the {len(in_header)} electrode "
            f"channels asked for ({', '.join(labels)}); MNE sees {mne_names}",
        )
    for position, index in enumerate(in_header):
        stripped = strip_label_padding(mne_names[position])
        if stripped != header.labels[index]:
            raise RecordingError(
                "not_edf",
                f"{header.path}: MNE names signal {index} {mne_names[position]!r}, the "
                f"header {header.labels[index]!r}",
            )
    return [in_header.index(header.labels.index(label)) for label in labels]
