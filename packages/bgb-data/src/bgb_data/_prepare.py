"""One EDF in, one preprocessed (19, n_samples) ``.npy`` at 256 Hz out, in bounded memory.

Stages (each touches one row, or one time chunk, at a time; see :class:`bgb_data.Recipe`):

1. read: MNE reads the 19 picked channels in time chunks into a float32 row file;
2. filter: per channel, bad-channel check, polyphase resampling, zero-phase filtering;
3. write: per electrode, interpolation from neighbours, common average, robust scaling,
   clipping, then the row goes into the output ``.npy``, which replaces ``out_path`` only
   when complete (temp name + ``os.replace``).

Linear steps that mix channels (interpolation, average reference) commute with the
per-channel ones (resampling, filtering), which is what lets stage 2 run per channel.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bgb_data._channels import ELECTRODES, NEIGHBOURS, match_electrodes
from bgb_data._edf import EdfHeader, read_edf_header
from bgb_data._errors import RecordingError
from bgb_data._recipe import Recipe
from bgb_data._rowfile import RowFile, npy_row_writer
from bgb_data._signal import (
    bad_channel_kind,
    design_sos,
    n_resampled,
    resample_and_filter,
    resample_factors,
    robust_scale,
)

__all__ = ["PreparedInfo", "prepare_recording"]

logger = logging.getLogger(__name__)

_READ_CHUNK_N = 1 << 18
"""Input samples per channel read from the EDF at a time (19 x 2^18 float64 = 40 MB)."""


@dataclass(frozen=True)
class PreparedInfo:
    """What :func:`prepare_recording` did to one recording."""

    edf_path: Path
    out_path: Path
    n_samples: int
    """Samples per channel at ``Recipe.sfreq_hz`` in the output file."""
    duration_s: float
    """Duration of the input recording, seconds."""
    sfreq_in_hz: float
    reference: str
    """Reference named by the channel labels: ``AR``, ``LE``, ``unknown`` or ``mixed``."""
    channel_of: dict[str, str]
    """Electrode -> the file channel read for it."""
    missing: tuple[str, ...]
    """Electrodes absent from the file (interpolated)."""
    bad_channels: dict[str, str]
    """Electrode -> ``flat``/``saturated`` for channels replaced by interpolation."""
    interpolated: tuple[str, ...]
    """All interpolated electrodes (missing plus bad), in :data:`ELECTRODES` order."""
    recipe_hash: str
    timings_s: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: ``read``, ``filter``, ``write``."""


def prepare_recording(
    edf_path: str | Path, out_path: str | Path, recipe: Recipe | None = None
) -> PreparedInfo:
    """Preprocess one EDF into a (19, n_samples) ``.npy`` of ``recipe.dtype`` at 256 Hz.

    Memory stays near a few copies of one channel (24 h at 256 Hz: ~90 MB per float32
    copy); scratch files sit in a temporary folder beside ``out_path``.

    Raises:
        RecordingError: bad input, with ``reason`` ``not_edf``, ``truncated``,
            ``too_short``, ``missing_electrodes``, ``duplicate_electrodes`` or
            ``mixed_rates`` (before any output), ``zero_spread`` (during).
    """
    recipe = recipe if recipe is not None else Recipe()
    edf_path, out_path = Path(edf_path), Path(out_path)
    header = read_edf_header(edf_path)
    match = match_electrodes(header.labels)
    sfreq_in_hz = _check_recording(header, match.channel_of, match.duplicates, recipe)
    if len(match.missing) > recipe.max_interpolated:
        raise RecordingError(
            "missing_electrodes",
            f"{edf_path}: missing electrodes: {', '.join(match.missing)} "
            f"(at most {recipe.max_interpolated} can be interpolated)",
        )
    present = [e for e in ELECTRODES if e in match.channel_of]
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=".prep-", dir=out_path.parent) as scratch:
        t0 = time.perf_counter()
        raw_rows = _read_rows(edf_path, [match.channel_of[e] for e in present], Path(scratch))
        t1 = time.perf_counter()
        filtered, bad = _filter_rows(raw_rows, present, sfreq_in_hz, recipe, Path(scratch))
        raw_rows.close()
        t2 = time.perf_counter()
        weights, interpolated = _mixing_weights(present, (*match.missing, *bad), recipe, edf_path)
        _write_output(filtered, weights, recipe, out_path, edf_path)
        filtered.close()
        timings = {"read": t1 - t0, "filter": t2 - t1, "write": time.perf_counter() - t2}
    return PreparedInfo(
        edf_path=edf_path,
        out_path=out_path,
        n_samples=filtered.n_cols,
        duration_s=header.duration_s,
        sfreq_in_hz=sfreq_in_hz,
        reference=match.reference,
        channel_of=dict(match.channel_of),
        missing=match.missing,
        bad_channels=bad,
        interpolated=interpolated,
        recipe_hash=recipe.hash(),
        timings_s=timings,
    )


def _check_recording(
    header: EdfHeader,
    channel_of: dict[str, str],
    duplicates: dict[str, tuple[str, ...]],
    recipe: Recipe,
) -> float:
    """Reject duplicates, mixed rates and short recordings; return the input rate in Hz."""
    path = header.path
    if duplicates:
        listed = "; ".join(f"{e}: {', '.join(ls)}" for e, ls in duplicates.items())
        raise RecordingError("duplicate_electrodes", f"{path}: several channels for {listed}")
    if not channel_of:
        raise RecordingError(
            "missing_electrodes",
            f"{path}: missing electrodes: all 19 (no referential 10-20 channel among "
            f"{', '.join(header.labels[:8])}{', ...' if len(header.labels) > 8 else ''})",
        )
    rates = {header.sfreq_hz(label) for label in channel_of.values()}
    if len(rates) > 1:
        raise RecordingError(
            "mixed_rates", f"{path}: EEG channels at different rates {sorted(rates)} Hz"
        )
    if header.duration_s < recipe.min_duration_s:
        raise RecordingError(
            "too_short",
            f"{path}: {header.duration_s:g} s is shorter than one window "
            f"({recipe.min_duration_s:g} s)",
        )
    return rates.pop()


def _read_rows(edf_path: Path, labels: list[str], scratch: Path) -> RowFile:
    """Stage 1: MNE reads the picked channels in time chunks into a float32 uV row file."""
    import mne

    try:
        raw = mne.io.read_raw_edf(
            edf_path, include=labels, preload=False, infer_types=False, verbose="error"
        )
    except (ValueError, RuntimeError, OSError) as err:
        raise RecordingError("not_edf", f"{edf_path}: MNE cannot read it: {err}") from err
    picks = [raw.ch_names.index(label) for label in labels]
    n_in = raw.n_times
    rows = RowFile(scratch / "raw.f32", len(labels), n_in, "float32")
    for start in range(0, n_in, _READ_CHUNK_N):
        stop = min(start + _READ_CHUNK_N, n_in)
        chunk = raw.get_data(picks=picks, start=start, stop=stop)  # (n_picks, stop - start), V
        chunk *= 1e6
        for i in range(len(labels)):
            rows.write(i, start, chunk[i])
    return rows


def _filter_rows(
    raw_rows: RowFile, present: list[str], sfreq_in_hz: float, recipe: Recipe, scratch: Path
) -> tuple[RowFile, dict[str, str]]:
    """Stage 2: flag bad channels, resample and filter the others into a float32 row file."""
    up, down = resample_factors(sfreq_in_hz, recipe.sfreq_hz)
    sos = design_sos(recipe)
    out = RowFile(scratch / "filtered.f32", len(present), n_resampled(raw_rows.n_cols, up, down),
                  "float32")  # fmt: skip
    bad: dict[str, str] = {}
    for i, electrode in enumerate(present):
        row = raw_rows.read(i)
        kind = bad_channel_kind(row, sfreq_in_hz, recipe)
        if kind is not None:
            logger.info("%s: electrode %s is %s", raw_rows.path, electrode, kind)
            bad[electrode] = kind
            continue
        out.write(i, 0, resample_and_filter(row, up, down, sos))
    return out, bad


def _mixing_weights(
    present: list[str], unusable: tuple[str, ...], recipe: Recipe, edf_path: Path
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(19, n_present) weights before referencing: electrode i = sum_k w[i, k] * row k.

    Usable electrodes copy their own row; unusable ones (missing, flat, saturated) take the
    plain mean of their usable neighbours (:data:`bgb_data._channels.NEIGHBOURS`).
    """
    interpolated = tuple(e for e in ELECTRODES if e in unusable)
    if len(interpolated) > recipe.max_interpolated:
        raise RecordingError(
            "missing_electrodes",
            f"{edf_path}: missing electrodes: {', '.join(interpolated)} (missing, flat or "
            f"saturated; at most {recipe.max_interpolated} can be interpolated)",
        )
    column = {e: k for k, e in enumerate(present) if e not in unusable}
    weights = np.zeros((len(ELECTRODES), len(present)), dtype=np.float64)
    for i, electrode in enumerate(ELECTRODES):
        if electrode in column:
            weights[i, column[electrode]] = 1.0
            continue
        usable = [n for n in NEIGHBOURS[electrode] if n in column]
        if len(usable) < recipe.min_neighbours:
            raise RecordingError(
                "missing_electrodes",
                f"{edf_path}: missing electrodes: cannot interpolate {electrode} from "
                f"{len(usable)} usable neighbours (need {recipe.min_neighbours})",
            )
        for n in usable:
            weights[i, column[n]] = 1.0 / len(usable)
    return weights, interpolated


def _weighted_sum(rows: RowFile, weights: np.ndarray) -> np.ndarray:
    """sum_k weights[k] * row k over the non-zero weights, float32."""
    out = np.zeros(rows.n_cols, dtype=np.float32)
    for k in np.flatnonzero(weights):
        out += np.float32(weights[k]) * rows.read(int(k))
    return out


def _write_output(
    filtered: RowFile, weights: np.ndarray, recipe: Recipe, out_path: Path, edf_path: Path
) -> None:
    """Stage 3: mix rows, re-reference, scale each electrode robustly, clip, write, rename."""
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    writer = npy_row_writer(tmp, len(ELECTRODES), filtered.n_cols, recipe.dtype)
    try:
        # Common average = mean over the 19 mixed electrodes = one weighted sum of rows.
        average = (
            _weighted_sum(filtered, weights.mean(axis=0)) if recipe.reference == "average"
            else None
        )  # fmt: skip
        for i, electrode in enumerate(ELECTRODES):
            row = _weighted_sum(filtered, weights[i])
            if average is not None:
                row -= average
            median, scale = robust_scale(row)
            if not scale > 0:
                raise RecordingError(
                    "zero_spread",
                    f"{edf_path}: electrode {electrode} has zero spread after re-referencing",
                )
            row -= np.float32(median)
            row *= np.float32(1.0 / scale)
            np.clip(row, -recipe.clip, recipe.clip, out=row)
            writer.write(i, 0, row)
        writer.close()
        os.replace(tmp, out_path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
