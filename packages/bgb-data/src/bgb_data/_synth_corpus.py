"""A synthetic corpus in TUSZ v2 layout: real EDF files with ``.csv_bi`` and ``.csv`` labels.

Two profiles. ``basic`` (the demo's): one background model, blinks, muscle and pops, evolving
rhythmic seizures of 10-120 s, montages ``01_tcp_ar`` and ``02_tcp_le``. ``clinical``
(:mod:`bgb_data._synth_clinical`): backgrounds that differ between patients, artifacts louder
than the seizures (chewing, EMG, blinks and lateral eye movements, pops, photic stimulation),
focal, 3 Hz spike-wave and low-amplitude seizures of 10 s to 5 min with post-ictal slowing,
amplitude scales that differ by patient, session, montage and electrode, and the montage
``03_tcp_ar_a`` (average reference, no A1/A2 channels) besides the other two.

``OUT/edf/<split>/<patient>/<session>/<montage>/<patient>_<sNNN>_<tNNN>.edf`` with
patients assigned to one split each (train, dev, eval in turn, then 3:1:1), sessions of
one or two recordings, montage folders ``01_tcp_ar`` (labels ``EEG FP1-REF``, average
reference) or ``02_tcp_le`` (``EEG FP1-LE``, linked ears), TUSZ's extra channels (A1, A2,
ROC, LOC, EKG1, T1, T2, PHOTIC, IBI, BURSTS, SUPPR), and rates 250/256/400/512 Hz.
Every recording and its labels come from ``numpy.random.default_rng([seed, index])``, so
the same seed gives byte-identical files.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bgb_data._edf import write_edf
from bgb_data._layout import SPLITS
from bgb_data._synth_clinical import (
    SEIZURE_KINDS,
    ClinicalSeizure,
    ClinicalTraits,
    PhoticSession,
    clinical_recording,
)
from bgb_data._synth_signal import (
    FOCI,
    SITES,
    TCP_PAIRS,
    PatientTraits,
    SeizurePlan,
    synth_recording,
)
from bgb_events import make_events, write_csv_bi

__all__ = [
    "PROFILES",
    "SEIZURE_TABLE",
    "SEIZURE_TABLE_HEADER",
    "SynthSummary",
    "generate_corpus",
    "write_tusz_channel_csv",
]

logger = logging.getLogger(__name__)

_FILE_ORDER = (
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
    "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ",
)  # fmt: skip
_MONTAGES = {"01_tcp_ar": "REF", "02_tcp_le": "LE"}
_CLINICAL_MONTAGES = {**_MONTAGES, "03_tcp_ar_a": "REF"}
_MONTAGE_GAIN = {"01_tcp_ar": 1.0, "02_tcp_le": 1.4, "03_tcp_ar_a": 0.7}
"""Clinical profile: amplifier calibration per montage folder (TUSZ's folders come from
different recording eras; the factors are assumptions, chosen to make amplitude unreliable)."""
PROFILES = ("basic", "clinical")
SEIZURE_TABLE = "seizures.tsv"
"""The generator's truth about every seizure, at the corpus root: which recording, split, onset
and offset (s), kind (``clinical``: focal, spike_wave, low_amplitude; ``basic``: evolving),
peak amplitude as a multiple of the patient's background (``clinical``; n/a for ``basic``),
focus electrode, and extent (focal, or both hemispheres). For breaking a detector's
sensitivity down by kind; the labels a detector is scored against stay the ``.csv_bi`` files."""
SEIZURE_TABLE_HEADER = "recording\tsplit\tstart_s\tstop_s\tkind\tamplitude\tfocus\textent"
_MIN_RECORDING_S = 90


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate_corpus` wrote."""

    out_dir: Path
    n_recordings: int
    n_patients: int
    total_duration_s: float
    n_seizures: int
    seizure_duration_s: float
    recordings: list[str] = field(default_factory=list)
    """EDF paths relative to ``out_dir``."""


@dataclass(frozen=True)
class _Plan:
    index: int
    patient: str
    split: str
    session: str
    montage: str
    token: str
    sfreq_hz: int
    duration_s: int


def generate_corpus(
    out_dir: str | Path,
    hours: float = 1.0,
    seed: int = 0,
    *,
    recording_minutes: tuple[float, float] = (5.0, 15.0),
    n_patients: int | None = None,
    sampling_rates: tuple[int, ...] = (250, 256, 400, 512),
    seizures_per_hour: float = 6.0,
    no_seizure_share: float = 0.25,
    profile: str = "basic",
) -> SynthSummary:
    """Write about ``hours`` of synthetic EEG in TUSZ layout under ``out_dir``.

    Recordings last ``recording_minutes`` (scaled so they add up to ``hours``; at least
    three so every split gets a patient, shortened to a third of ``hours`` each
    when ``hours`` is too short for three); ``no_seizure_share`` of them have no seizure
    (their ``.csv_bi`` holds one ``bckg`` row), the others Poisson(``seizures_per_hour``)
    seizures, at least one, each 10-120 s (``basic``) or 10-300 s (``clinical``).
    ``profile`` is one of :data:`PROFILES` (see the module docstring).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown synthetic profile {profile!r}; known: {', '.join(PROFILES)}")
    clinical = profile == "clinical"
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    montages = _CLINICAL_MONTAGES if clinical else _MONTAGES
    plans = _plan_recordings(rng, hours, recording_minutes, n_patients, sampling_rates, montages)
    make_traits: Callable[[np.random.Generator], PatientTraits | ClinicalTraits]
    make_traits = _clinical_traits if clinical else _traits
    traits = {p.patient: make_traits(np.random.default_rng([seed, 10_000 + i]))
              for i, p in enumerate(_unique_patients(plans))}  # fmt: skip
    written, n_seizures, seizure_s = [], 0, 0.0
    truth: list[str] = [SEIZURE_TABLE_HEADER]
    for plan in plans:
        rec_rng = np.random.default_rng([seed, plan.index])
        patient = traits[plan.patient]
        seizures: list[SeizurePlan]
        if isinstance(patient, ClinicalTraits):
            clinical_seizures = _plan_clinical_seizures(
                rec_rng, plan.duration_s, patient, seizures_per_hour, no_seizure_share
            )
            rel = _write_clinical(out, plan, patient, clinical_seizures, rec_rng)
            seizures = list(clinical_seizures)
        else:
            seizures = _plan_seizures(
                rec_rng, plan.duration_s, patient, seizures_per_hour, no_seizure_share
            )
            rel = _write_recording(out, plan, patient, seizures, rec_rng)
        written.append(rel)
        truth.extend(_truth_row(rel, plan.split, s) for s in seizures)
        n_seizures += len(seizures)
        seizure_s += sum(s.stop_s - s.start_s for s in seizures)
    (out / SEIZURE_TABLE).write_text("\n".join(truth) + "\n", encoding="utf-8")
    logger.info("wrote %d synthetic recordings to %s", len(plans), out)
    return SynthSummary(
        out_dir=out,
        n_recordings=len(plans),
        n_patients=len(traits),
        total_duration_s=float(sum(p.duration_s for p in plans)),
        n_seizures=n_seizures,
        seizure_duration_s=seizure_s,
        recordings=written,
    )


def _truth_row(recording: str, split: str, seizure: SeizurePlan) -> str:
    """One line of :data:`SEIZURE_TABLE` for ``seizure`` of ``recording``."""
    if isinstance(seizure, ClinicalSeizure):
        kind, amplitude = seizure.kind, f"{seizure.amplitude:.3f}"
    else:
        kind, amplitude = "evolving", "n/a"
    extent = "both" if seizure.generalised else "focal"
    return "\t".join((recording, split, f"{seizure.start_s:.2f}", f"{seizure.stop_s:.2f}", kind,
                      amplitude, seizure.focus, extent))  # fmt: skip


def _unique_patients(plans: list[_Plan]) -> list[_Plan]:
    seen: dict[str, _Plan] = {}
    for p in plans:
        seen.setdefault(p.patient, p)
    return list(seen.values())


def _patient_id(i: int) -> str:
    letters = []
    for _ in range(8):
        i, r = divmod(i, 26)
        letters.append(chr(ord("a") + r))
    return "".join(reversed(letters))


def _plan_recordings(
    rng: np.random.Generator,
    hours: float,
    recording_minutes: tuple[float, float],
    n_patients: int | None,
    sampling_rates: tuple[int, ...],
    montages: dict[str, str] = _MONTAGES,
) -> list[_Plan]:
    total_s = hours * 3600.0
    lo, hi = (m * 60.0 for m in recording_minutes)
    if not 0 < lo <= hi:
        raise ValueError(f"recording_minutes {recording_minutes} must be 0 < min <= max")
    if total_s < 3 * lo:  # too little time for three recordings of that length
        lo = hi = total_s / 3
    n_rec = max(3, round(total_s / ((lo + hi) / 2)))
    raw = rng.uniform(lo, hi, size=n_rec)
    durations = np.floor(raw * total_s / raw.sum()).astype(int)
    if durations.min() < _MIN_RECORDING_S:
        raise ValueError(
            f"{hours} h in {n_rec} recordings leaves one under {_MIN_RECORDING_S} s; "
            "ask for more hours or shorter recording_minutes"
        )
    n_pat = n_patients if n_patients is not None else max(3, math.ceil(n_rec / 2))
    if not 3 <= n_pat <= n_rec:
        raise ValueError(f"n_patients {n_pat} must be between 3 and the {n_rec} recordings")
    split_cycle = ("train", "dev", "eval", "train", "train")
    per_patient: dict[int, int] = {}
    plans = []
    session_setup: dict[tuple[int, int], tuple[str, int, int]] = {}
    for i, duration in enumerate(durations):
        p = i % n_pat
        k = per_patient.get(p, 0)
        per_patient[p] = k + 1
        session = k // 2
        if (p, session) not in session_setup:
            session_setup[(p, session)] = (
                str(rng.choice(list(montages))),
                int(rng.choice(sampling_rates)),
                int(rng.integers(2002, 2016)),
            )
        montage, sfreq, year = session_setup[(p, session)]
        plans.append(
            _Plan(i, _patient_id(p), split_cycle[p % len(split_cycle)],
                  f"s{session + 1:03d}_{year}", montage, f"t{k % 2:03d}", sfreq, int(duration))
        )  # fmt: skip
    assert {p.split for p in plans} == set(SPLITS)
    return plans


def _traits(rng: np.random.Generator) -> PatientTraits:
    return PatientTraits(
        background_uv=float(rng.uniform(15.0, 30.0)),
        alpha_hz=float(rng.uniform(8.5, 11.5)),
        alpha_uv=float(rng.uniform(10.0, 30.0)),
        focus=str(rng.choice(FOCI)),
        generalised_share=float(rng.uniform(0.1, 0.5)),
        start_hz=float(rng.uniform(5.0, 7.0)),
        end_hz=float(rng.uniform(2.5, 3.5)),
    )


def _clinical_traits(rng: np.random.Generator) -> ClinicalTraits:
    kinds = rng.dirichlet([2.0, 1.0, 1.0])
    return ClinicalTraits(
        gain=float(np.exp(rng.normal(0.0, 0.35))),
        background_uv=float(rng.uniform(10.0, 35.0)),
        spectral_exponent=float(rng.uniform(0.6, 1.1)),
        alpha_hz=float(rng.uniform(7.0, 12.0)),
        alpha_uv=float(rng.uniform(5.0, 35.0)),
        theta_uv=float(rng.uniform(5.0, 20.0)),
        slowing_uv=float(rng.uniform(10.0, 30.0)) if rng.random() < 0.3 else 0.0,
        beta_uv=float(rng.uniform(5.0, 15.0)) if rng.random() < 0.3 else 0.0,
        focal_slowing=str(rng.choice(FOCI)) if rng.random() < 0.2 else None,
        focus=str(rng.choice(FOCI)),
        kind_weights=(float(kinds[0]), float(kinds[1]), float(kinds[2])),
        start_hz=float(rng.uniform(5.0, 8.0)),
        end_hz=float(rng.uniform(2.0, 3.5)),
        blink_gap_s=float(rng.uniform(3.0, 15.0)),
        chewing_per_hour=float(rng.uniform(2.0, 20.0)),
        photomyogenic=bool(rng.random() < 0.3),
        theta_bursts_per_hour=float(rng.uniform(5.0, 20.0)) if rng.random() < 0.3 else 0.0,
        movement_per_hour=float(rng.uniform(1.0, 4.0)) if rng.random() < 0.25 else 0.0,
    )


_CLINICAL_LENGTH_S = {"focal": (10.0, 300.0), "spike_wave": (10.0, 40.0),
                      "low_amplitude": (10.0, 300.0)}  # fmt: skip
_CLINICAL_AMPLITUDE = {"focal": (1.5, 4.0), "spike_wave": (4.0, 8.0),
                       "low_amplitude": (1.0, 1.8)}  # fmt: skip


def _plan_clinical_seizures(
    rng: np.random.Generator,
    duration_s: int,
    traits: ClinicalTraits,
    per_hour: float,
    no_seizure_share: float,
) -> list[ClinicalSeizure]:
    if rng.random() < no_seizure_share:
        return []
    count = max(1, int(rng.poisson(per_hour * duration_s / 3600.0)))
    kinds = [str(k) for k in rng.choice(SEIZURE_KINDS, size=count, p=traits.kind_weights)]
    lengths = [round(float(np.exp(rng.uniform(*np.log(_CLINICAL_LENGTH_S[k])))), 2) for k in kinds]
    # the 60 s gap leaves room for post-ictal slowing
    starts = _place(rng, lengths, duration_s, margin=10.0, gap=60.0)
    plans = []
    for kind, length, start in zip(kinds[: len(starts)], lengths, starts, strict=True):
        focus = traits.focus if rng.random() < 0.8 else str(rng.choice(FOCI))
        spread_both = kind == "focal" and bool(rng.random() < 0.3)
        amplitude = float(rng.uniform(*_CLINICAL_AMPLITUDE[kind]))
        plans.append(
            ClinicalSeizure(
                start,
                round(start + length, 2),
                focus,
                kind == "spike_wave" or spread_both,
                kind=kind,
                amplitude=amplitude,
                spread_both=spread_both,
            )
        )
    return plans


def _plan_photic(
    rng: np.random.Generator, duration_s: int, seizures: list[SeizurePlan]
) -> PhoticSession | None:
    """A photic session in a third of the recordings, clear of seizures and their aftermath."""
    if rng.random() >= 1 / 3:
        return None
    length = PhoticSession(0.0).duration_s
    if duration_s <= length + 10:
        return None
    for _ in range(10):
        start = float(rng.uniform(5.0, duration_s - length - 5.0))
        if all(start + length < s.start_s - 10 or start > s.stop_s + 60 for s in seizures):
            return PhoticSession(round(start, 2))
    return None


def _place(
    rng: np.random.Generator, lengths: list[float], duration_s: int, margin: float, gap: float
) -> list[float]:
    """Onsets (s, rounded to 0.01) of the first seizures of ``lengths`` that fit in
    ``duration_s`` with ``margin`` at both ends and ``gap`` between them, in order, the free
    time shared out at random; those that do not fit are dropped from ``lengths``."""
    while lengths and sum(lengths) + gap * (len(lengths) - 1) + 2 * margin > duration_s:
        lengths.pop()
    if not lengths:
        return []
    slack = duration_s - 2 * margin - sum(lengths) - gap * (len(lengths) - 1)
    spaces = rng.dirichlet(np.ones(len(lengths) + 1)) * slack
    starts, t = [], margin
    for length, space in zip(lengths, spaces[:-1], strict=True):
        start = round(t + float(space), 2)
        starts.append(start)
        t = start + float(length) + gap
    return starts


def _plan_seizures(
    rng: np.random.Generator,
    duration_s: int,
    traits: PatientTraits,
    per_hour: float,
    no_seizure_share: float,
) -> list[SeizurePlan]:
    if rng.random() < no_seizure_share:
        return []
    count = max(1, int(rng.poisson(per_hour * duration_s / 3600.0)))
    lengths = list(np.round(np.exp(rng.uniform(np.log(10.0), np.log(120.0), size=count)), 2))
    starts = _place(rng, lengths, duration_s, margin=10.0, gap=30.0)
    plans = []
    for length, start in zip(lengths, starts, strict=True):
        focus = traits.focus if rng.random() < 0.8 else str(rng.choice(FOCI))
        generalised = bool(rng.random() < traits.generalised_share)
        plans.append(SeizurePlan(start, round(start + float(length), 2), focus, generalised))
    return plans


def _write_recording(
    out: Path,
    plan: _Plan,
    traits: PatientTraits,
    seizures: list[SeizurePlan],
    rng: np.random.Generator,
) -> str:
    folder = out / "edf" / plan.split / plan.patient / plan.session / plan.montage
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{plan.patient}_{plan.session.split('_')[0]}_{plan.token}"
    n = plan.duration_s * plan.sfreq_hz
    potentials = synth_recording(rng, n, plan.sfreq_hz, traits, seizures)  # (21, n)
    signals, labels = _montage_signals(rng, potentials, plan)
    start = datetime(2000 + plan.index % 20, 1 + plan.index % 12, 1 + plan.index % 28, 9, 0, 0)
    write_edf(folder / f"{stem}.edf", signals, labels, plan.sfreq_hz, start=start)
    events = make_events([s.start_s for s in seizures], [s.stop_s for s in seizures])
    write_csv_bi(folder / f"{stem}.csv_bi", events, float(plan.duration_s))
    write_tusz_channel_csv(folder / f"{stem}.csv", seizures, float(plan.duration_s))
    return (folder / f"{stem}.edf").relative_to(out).as_posix()


def _write_clinical(
    out: Path,
    plan: _Plan,
    traits: ClinicalTraits,
    seizures: list[ClinicalSeizure],
    rng: np.random.Generator,
) -> str:
    folder = out / "edf" / plan.split / plan.patient / plan.session / plan.montage
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{plan.patient}_{plan.session.split('_')[0]}_{plan.token}"
    n = plan.duration_s * plan.sfreq_hz
    photic = _plan_photic(rng, plan.duration_s, list(seizures))
    potentials = clinical_recording(rng, n, plan.sfreq_hz, traits, seizures, photic)
    potentials *= np.float32(traits.gain * _MONTAGE_GAIN[plan.montage] * rng.uniform(0.8, 1.25))
    electrode_gains = rng.uniform(0.8, 1.25, size=len(_FILE_ORDER)).astype(np.float32)
    flashes = None if photic is None else photic.flash_channel(n, plan.sfreq_hz)
    signals, labels = _montage_signals(
        rng, potentials, plan, electrode_gains=electrode_gains, photic=flashes
    )
    start = datetime(2000 + plan.index % 20, 1 + plan.index % 12, 1 + plan.index % 28, 9, 0, 0)
    write_edf(folder / f"{stem}.edf", signals, labels, plan.sfreq_hz, start=start)
    events = make_events([s.start_s for s in seizures], [s.stop_s for s in seizures])
    write_csv_bi(folder / f"{stem}.csv_bi", events, float(plan.duration_s))
    write_tusz_channel_csv(folder / f"{stem}.csv", list(seizures), float(plan.duration_s))
    return (folder / f"{stem}.edf").relative_to(out).as_posix()


def _montage_signals(
    rng: np.random.Generator,
    potentials: np.ndarray,
    plan: _Plan,
    *,
    electrode_gains: np.ndarray | None = None,
    photic: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Referenced EEG plus TUSZ's extra channels, in TUSZ file order, and their labels.

    ``electrode_gains`` scale the referenced electrode channels (contact differences);
    ``photic`` is the PHOTIC channel (zeros when None). ``03_tcp_ar_a`` files lack A1/A2.
    """
    suffix = _CLINICAL_MONTAGES[plan.montage]
    if suffix == "LE":
        reference = 0.5 * (potentials[SITES.index("A1")] + potentials[SITES.index("A2")])
    else:
        reference = potentials.mean(axis=0)
    by_upper = {s.upper(): i for i, s in enumerate(SITES)}
    eeg = [potentials[by_upper[name]] - reference for name in _FILE_ORDER]
    if electrode_gains is not None:
        eeg = [row * gain for row, gain in zip(eeg, electrode_gains, strict=True)]
    n = potentials.shape[1]
    fs = float(plan.sfreq_hz)
    frontal = potentials[SITES.index("Fp1")] + potentials[SITES.index("Fp2")]
    extras = {
        "ROC": 0.8 * frontal + 10.0 * rng.standard_normal(n),
        "LOC": -0.8 * frontal + 10.0 * rng.standard_normal(n),
        "EKG1": _ecg(rng, n, fs),
        "T1": potentials[SITES.index("T3")] - reference + 5.0 * rng.standard_normal(n),
        "T2": potentials[SITES.index("T4")] - reference + 5.0 * rng.standard_normal(n),
    }
    flashes = np.zeros(n) if photic is None else photic
    signals = [*eeg, *extras.values(), flashes, np.zeros(n), np.zeros(n), np.zeros(n)]
    labels = [f"EEG {name}-{suffix}" for name in (*_FILE_ORDER, *extras)]
    labels += ["PHOTIC-REF", "IBI", "BURSTS", "SUPPR"]
    if plan.montage == "03_tcp_ar_a":
        keep = [i for i, label in enumerate(labels) if label not in ("EEG A1-REF", "EEG A2-REF")]
        signals, labels = [signals[i] for i in keep], [labels[i] for i in keep]
    return np.stack(signals).astype(np.float32), labels


def _ecg(rng: np.random.Generator, n: int, sfreq_hz: float) -> np.ndarray:
    """QRS-like spikes at about 60-90 beats per minute, microvolts."""
    beats = np.cumsum(rng.uniform(0.65, 1.0, size=int(n / sfreq_hz / 0.6) + 2)) * sfreq_hz
    out = np.zeros(n)
    idx = beats[beats < n].astype(int)
    out[idx] = 800.0
    width = max(int(0.02 * sfreq_hz), 1)
    kernel = np.exp(-0.5 * (np.arange(-3 * width, 3 * width + 1) / width) ** 2)
    return np.convolve(out, kernel, mode="same")


def write_tusz_channel_csv(path: Path, seizures: list[SeizurePlan], duration_s: float) -> None:
    """Write a TUSZ channel-level ``.csv`` over the 22 TCP channels.

    Each channel's rows cover the recording: ``bckg`` outside seizures, ``fnsz``/``gnsz``
    from when the channel joins (either electrode involved) to the seizure's end. The union
    over channels of the seizure rows equals the term-level events.
    """
    lines = [
        "# version = csv_v1.0.0",
        f"# bname = {path.stem}",
        f"# duration = {duration_s:.2f} secs",
        "# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt",
        "#",
        "channel,start_time,stop_time,label,confidence",
    ]
    involved = [s.involved() for s in seizures]
    for a, b in TCP_PAIRS:
        channel = f"{a.upper()}-{b.upper()}"
        t = 0.0
        for plan, sites in zip(seizures, involved, strict=True):
            joins = [sites[s] for s in (a, b) if s in sites]
            if not joins:
                continue
            onset = round(plan.start_s + min(joins), 4)
            if onset > t:
                lines.append(f"{channel},{t:.4f},{onset:.4f},bckg,1.0000")
            label = "gnsz" if plan.generalised else "fnsz"
            lines.append(f"{channel},{onset:.4f},{plan.stop_s:.4f},{label},1.0000")
            t = plan.stop_s
        if t < duration_s:
            lines.append(f"{channel},{t:.4f},{duration_s:.4f},bckg,1.0000")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
