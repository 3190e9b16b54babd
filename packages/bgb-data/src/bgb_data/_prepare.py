"""One EDF in, one preprocessed (19, n_samples) ``.npy`` at 256 Hz out, in bounded memory.

Stages (each touches one row, or one time chunk, at a time; see :class:`bgb_data.Recipe`):

1. read: the 19 picked channels of the EDF (read by MNE) or of an MNE ``Raw``, in time
   chunks into a float32 row file (:mod:`bgb_data._sources`);
2. filter: per channel, flat/saturated check, polyphase resampling, zero-phase filtering
   and its typical amplitude; then the amplitude-outlier rule across channels;
3. write: per electrode, interpolation from neighbours, common average, robust scaling,
   clipping, then the row goes into the output ``.npy``, which replaces ``out_path`` only
   when complete (temp name, fsync, rename: :func:`bgb_data._atomic.publish`).

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
from typing import Any

import numpy as np

from bgb_data._atomic import publish, temp_path
from bgb_data._channels import (
    ELECTRODES,
    NEIGHBOURS,
    ElectrodeMatch,
    known_reference_suffixes,
    match_electrodes,
)
from bgb_data._errors import RecordingError
from bgb_data._recipe import Recipe
from bgb_data._rowfile import RowFile, npy_row_writer
from bgb_data._signal import (
    amplitude_outliers,
    bad_channel_kind,
    design_sos,
    n_resampled,
    resample_and_filter,
    resample_factors,
    robust_scale,
    typical_ptp_uv,
)
from bgb_data._sources import SignalSource, edf_source, raw_source

__all__ = ["PreparedInfo", "prepare_recording"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedInfo:
    """What :func:`prepare_recording` did to one recording."""

    source: str
    """The EDF's path, or a description of the MNE ``Raw`` read."""
    out_path: Path
    n_samples: int
    """Samples per channel at ``Recipe.sfreq_hz`` in the output file."""
    duration_s: float
    """Duration of the input recording, seconds."""
    sfreq_in_hz: float
    reference: str
    """Reference named by the labels: ``AR``, ``LE``, ``A1``/``A2``/``M1``/``M2``, ``unknown``
    or ``mixed`` (see :class:`bgb_data._channels.ElectrodeMatch`)."""
    channel_of: dict[str, str]
    """Electrode -> the file channel read for it."""
    missing: tuple[str, ...]
    """Electrodes absent from the file (interpolated)."""
    bad_channels: dict[str, str]
    """Electrode -> ``flat``/``saturated``/``amplitude`` for channels present in the file
    but replaced by interpolation, in :data:`ELECTRODES` order."""
    interpolated: tuple[str, ...]
    """All interpolated electrodes (missing plus bad), in :data:`ELECTRODES` order."""
    recipe_hash: str
    typical_ptp_uv: dict[str, float] = field(default_factory=dict)
    """Electrode -> median 1 s peak-to-peak after filtering, microvolts, for every electrode
    read and neither flat nor saturated: what the amplitude rule compared."""
    scale_uv: dict[str, float] = field(default_factory=dict)
    """Electrode -> IQR / 1.349 of its re-referenced row, microvolts: a stored row is
    (x - median) / scale, clipped, so ``scale_uv`` turns it back into microvolts."""
    timings_s: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: ``read``, ``filter``, ``write``."""

    @property
    def interpolation_reasons(self) -> dict[str, str]:
        """Interpolated electrode -> ``missing`` or its :attr:`bad_channels` reason."""
        return {e: self.bad_channels.get(e, "missing") for e in self.interpolated}


def prepare_recording(
    source: str | os.PathLike[str] | Any, out_path: str | Path, recipe: Recipe | None = None
) -> PreparedInfo:
    """Preprocess one recording into a (19, n_samples) ``.npy`` of ``recipe.dtype`` at 256 Hz.

    ``source`` is an EDF path, or an ``mne.io.BaseRaw`` already in hand (its EEG in volts,
    as MNE stores it); both go through the same steps. Memory stays near a few copies of one
    channel (24 h at 256 Hz: ~90 MB per float32 copy); scratch files sit in a temporary
    folder beside ``out_path``. Of an EDF, only the data records the header states are read
    (see :mod:`bgb_data._edf`).

    Raises:
        RecordingError: bad input, with ``reason`` ``not_edf``, ``truncated``,
            ``discontinuous``, ``too_short``, ``bipolar_montage``, ``unknown_reference``,
            ``missing_electrodes``, ``duplicate_electrodes`` or ``mixed_rates`` (before any
            output), ``zero_spread`` (during).
    """
    recipe = recipe if recipe is not None else Recipe()
    out_path = Path(out_path)
    if isinstance(source, (str, os.PathLike)):
        signal = edf_source(Path(source))
    else:
        signal = raw_source(source)
    name = signal.name
    match = match_electrodes(signal.labels)
    _check_montage(name, match)
    sfreq_in_hz = _check_recording(signal, match.channel_of, match.duplicates, recipe)
    if len(match.missing) > recipe.max_interpolated:
        raise RecordingError(
            "missing_electrodes",
            f"{name}: missing electrodes: {', '.join(match.missing)} "
            f"(at most {recipe.max_interpolated} can be interpolated)",
        )
    present = [e for e in ELECTRODES if e in match.channel_of]
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=".prep-", dir=out_path.parent) as scratch:
        t0 = time.perf_counter()
        picked = [match.channel_of[e] for e in present]
        with signal.read_rows(picked, Path(scratch)) as raw:
            t1 = time.perf_counter()
            filtered, bad, typical = _filter_rows(raw, present, sfreq_in_hz, recipe, Path(scratch))
        with filtered:
            t2 = time.perf_counter()
            weights, interpolated = _mixing_weights(present, (*match.missing, *bad), recipe, name)
            scale_uv = _write_output(filtered, weights, recipe, out_path, name)
        timings = {"read": t1 - t0, "filter": t2 - t1, "write": time.perf_counter() - t2}
    return PreparedInfo(
        source=name,
        out_path=out_path,
        n_samples=filtered.n_cols,
        duration_s=signal.duration_s,
        sfreq_in_hz=sfreq_in_hz,
        reference=match.reference,
        channel_of=dict(match.channel_of),
        missing=match.missing,
        bad_channels=bad,
        interpolated=interpolated,
        recipe_hash=recipe.hash(),
        typical_ptp_uv=typical,
        scale_uv=scale_uv,
        timings_s=timings,
    )


def _check_montage(name: str, match: ElectrodeMatch) -> None:
    """Reject bipolar-only files and electrode channels with an unknown reference suffix."""
    path = name
    if not match.channel_of and match.bipolar:
        shown = ", ".join(match.bipolar[:4]) + (", ..." if len(match.bipolar) > 4 else "")
        raise RecordingError(
            "bipolar_montage",
            f"{path}: bipolar montage: referential electrodes needed (the file holds "
            f"{len(match.bipolar)} bipolar derivations such as {shown}; re-export it "
            "referentially, e.g. FP1-REF)",
        )
    if match.unknown_suffixes:
        label, suffix = next(iter(match.unknown_suffixes.items()))
        more = len(match.unknown_suffixes) - 1
        raise RecordingError(
            "unknown_reference",
            f"{path}: channel {label!r} has the unknown reference suffix '-{suffix}'"
            + (f" (and {more} more channels)" if more else "")
            + f"; known: {', '.join(f'-{s}' for s in known_reference_suffixes())}. Rename "
            "the channels or add the reference to bgb_data's channel map",
        )


def _check_recording(
    signal: SignalSource,
    channel_of: dict[str, str],
    duplicates: dict[str, tuple[str, ...]],
    recipe: Recipe,
) -> float:
    """Reject duplicates, mixed rates and short recordings; return the input rate in Hz."""
    path = signal.name
    if duplicates:
        listed = "; ".join(f"{e}: {', '.join(ls)}" for e, ls in duplicates.items())
        raise RecordingError("duplicate_electrodes", f"{path}: several channels for {listed}")
    if not channel_of:
        raise RecordingError(
            "missing_electrodes",
            f"{path}: missing electrodes: all 19 (no referential 10-20 channel among "
            f"{', '.join(signal.labels[:8])}{', ...' if len(signal.labels) > 8 else ''})",
        )
    rates = {signal.sfreq_hz(label) for label in channel_of.values()}
    if len(rates) > 1:
        raise RecordingError(
            "mixed_rates", f"{path}: EEG channels at different rates {sorted(rates)} Hz"
        )
    if signal.duration_s < recipe.min_duration_s:
        raise RecordingError(
            "too_short",
            f"{path}: {signal.duration_s:g} s is shorter than one window "
            f"({recipe.min_duration_s:g} s)",
        )
    return rates.pop()


def _filter_rows(
    raw_rows: RowFile, present: list[str], sfreq_in_hz: float, recipe: Recipe, scratch: Path
) -> tuple[RowFile, dict[str, str], dict[str, float]]:
    """Stage 2: flag bad channels, resample and filter the others into a float32 row file.

    Returns the filtered rows, electrode -> bad-channel reason (in :data:`ELECTRODES`
    order), and electrode -> typical 1 s peak-to-peak after filtering (microvolts) of each
    channel that is neither flat nor saturated.
    """
    up, down = resample_factors(sfreq_in_hz, recipe.sfreq_hz)
    sos = design_sos(recipe)
    out = RowFile(scratch / "filtered.f32", len(present), n_resampled(raw_rows.n_cols, up, down),
                  "float32")  # fmt: skip
    bad: dict[str, str] = {}
    typical: dict[str, float] = {}
    try:
        for i, electrode in enumerate(present):
            row = raw_rows.read(i)
            kind = bad_channel_kind(row, sfreq_in_hz, recipe)
            if kind is not None:
                logger.info("%s: electrode %s is %s", raw_rows.path, electrode, kind)
                bad[electrode] = kind
                continue
            filtered = resample_and_filter(row, up, down, sos)
            typical[electrode] = typical_ptp_uv(filtered, recipe.sfreq_hz)
            out.write(i, 0, filtered)
    except BaseException:
        out.close()
        raise
    # Judged before any mixing: the common average would spread an outlier into every row.
    for electrode in amplitude_outliers(typical, recipe):
        others_uv = np.median([v for e, v in typical.items() if e != electrode])
        logger.info(
            "%s: electrode %s is an amplitude outlier (typical 1 s peak-to-peak %.0f uV, "
            "the other electrodes' median %.0f uV)",
            raw_rows.path, electrode, typical[electrode], others_uv,
        )  # fmt: skip
        bad[electrode] = "amplitude"
    return out, {e: bad[e] for e in present if e in bad}, typical


def _mixing_weights(
    present: list[str], unusable: tuple[str, ...], recipe: Recipe, name: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(19, n_present) weights before referencing: electrode i = sum_k w[i, k] * row k.

    Usable electrodes copy their own row; unusable ones (missing, flat, saturated, amplitude
    outliers) take the plain mean of their usable neighbours
    (:data:`bgb_data._channels.NEIGHBOURS`).
    """
    interpolated = tuple(e for e in ELECTRODES if e in unusable)
    if len(interpolated) > recipe.max_interpolated:
        raise RecordingError(
            "missing_electrodes",
            f"{name}: missing electrodes: {', '.join(interpolated)} (missing, flat, "
            f"saturated or amplitude outliers; at most {recipe.max_interpolated} can be "
            "interpolated)",
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
                f"{name}: missing electrodes: cannot interpolate {electrode} from "
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
    filtered: RowFile, weights: np.ndarray, recipe: Recipe, out_path: Path, name: str
) -> dict[str, float]:
    """Stage 3: mix rows, re-reference, scale each electrode robustly, clip, write, rename.

    Returns electrode -> robust scale (IQR / 1.349) of its re-referenced row, microvolts.
    """
    tmp = temp_path(out_path)
    writer = npy_row_writer(tmp, len(ELECTRODES), filtered.n_cols, recipe.dtype)
    scale_uv: dict[str, float] = {}
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
                    f"{name}: electrode {electrode} has zero spread after re-referencing",
                )
            row -= np.float32(median)
            row *= np.float32(1.0 / scale)
            np.clip(row, -recipe.clip, recipe.clip, out=row)
            writer.write(i, 0, row)
            scale_uv[electrode] = scale
        writer.close()
        publish(tmp, out_path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return scale_uv
