"""The ``clinical`` synthetic profile: the variety of a clinical EEG service in one generator.

Potentials are microvolts at :data:`SITES` (the 19 electrodes plus A1/A2) against an ideal
reference, as in the ``basic`` profile; the corpus writer references and scales them. What each
part is modelled on (textbook descriptions of routine scalp EEG, not fitted to any recording):

Background, different per patient (:class:`ClinicalTraits`):
    spatially smooth 1/f noise with a per-patient spectral slope; posterior alpha of 7-12 Hz
    whose strength follows a slow vigilance process, replaced by central theta when drowsy;
    diffuse delta/theta slowing (encephalopathy) in some patients; frontal beta at 18-25 Hz
    (benzodiazepine effect) in some; a focal polymorphic delta (a structural lesion) in some.
Artifacts, mostly louder than the seizures:
    eye blinks (frontal, 80-250 uV); lateral eye movements (opposite steps at F7/F8 held for
    0.3-3 s, 40-150 uV); chewing (1-2 Hz trains of 0.2 s muscle bursts at the temporal
    electrodes, 80-300 uV); tonic muscle (EMG, 20-100 Hz, frontal and temporal, 30-150 uV);
    electrode pops (one electrode, a 150-600 uV step decaying in 0.1-0.4 s); photic stimulation
    (10 s flash trains at 1-30 Hz with 10 s rests, the driving response at the flash frequency
    and its harmonics over the occipital electrodes, a photomyogenic frontal response in
    some patients, and the flashes on the PHOTIC channel).
Seizure mimics, rhythmic but not seizures:
    rhythmic mid-temporal theta of drowsiness (5-7 Hz sharply contoured bursts of 1-5 s at
    one temporal chain, 1.5-3 times the background; a benign variant); rhythmic movement
    artifact (patting or tremor, 3-6 Hz sharp deflections of 3-15 s on a few neighbouring
    electrodes, 100-400 uV, with the muscle activity of the movement; the classic mimic of
    continuous EEG monitoring).
Seizures (:class:`ClinicalSeizure`), 10 s to 5 min:
    ``focal``: a low-voltage fast onset (13-20 Hz) turning into a rhythmic sharp discharge that
    slows from 5-8 Hz to 2-3.5 Hz while it grows and spreads from the focus, sometimes to both
    hemispheres; ``spike_wave``: generalised 3 Hz spike-and-wave (2.5-4 Hz, abrupt onset and end,
    frontal maximum, 10-40 s), as in absence seizures; ``low_amplitude``: a focal rhythmic
    4-8 Hz discharge at only 1-1.8 times the background amplitude.
    After a focal seizure of 30 s or more, post-ictal slowing: polymorphic 1-3 Hz delta over the
    involved side with alpha suppressed, fading over 30-180 s (background, not seizure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

from bgb_data._channels import ELECTRODES
from bgb_data._synth_signal import DIST, SITES, XY, SeizurePlan, spectral_noise

__all__ = [
    "PHOTIC_FREQUENCIES_HZ",
    "SEIZURE_KINDS",
    "ClinicalSeizure",
    "ClinicalTraits",
    "PhoticSession",
    "clinical_recording",
]

SEIZURE_KINDS = ("focal", "spike_wave", "low_amplitude")
PHOTIC_FREQUENCIES_HZ = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0,
                         25.0, 30.0)  # fmt: skip
"""Flash rates of one photic session, in order; each train lasts 10 s, then 10 s of rest."""

_TEMPORAL = ("F7", "F8", "T3", "T4", "T5", "T6")
_FRONTAL = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8")
_OCCIPITAL = {"O1": 1.0, "O2": 1.0, "Pz": 0.5, "P3": 0.5, "P4": 0.5, "T5": 0.4, "T6": 0.4}


def _site_weights(names: dict[str, float] | tuple[str, ...]) -> np.ndarray:
    weights = np.zeros(len(SITES), dtype=np.float32)
    items = names.items() if isinstance(names, dict) else ((n, 1.0) for n in names)
    for name, w in items:
        weights[SITES.index(name)] = w
    return weights


@dataclass(frozen=True)
class ClinicalTraits:
    """What stays the same across one patient's recordings."""

    gain: float
    """Overall amplitude scale of the patient (skull thickness, age)."""
    background_uv: float
    spectral_exponent: float
    """Amplitude spectrum of the background sources falls as f**-exponent."""
    alpha_hz: float
    alpha_uv: float
    theta_uv: float
    """Central theta when drowsy."""
    slowing_uv: float
    """Diffuse 1-4 Hz slowing (0: none)."""
    beta_uv: float
    """Frontal 18-25 Hz beta (0: none)."""
    focal_slowing: str | None
    """Electrode at the centre of a focal polymorphic delta, or None."""
    focus: str
    kind_weights: tuple[float, float, float]
    """Probability of each of :data:`SEIZURE_KINDS`."""
    start_hz: float
    end_hz: float
    blink_gap_s: float
    chewing_per_hour: float
    photomyogenic: bool
    theta_bursts_per_hour: float
    """Rhythmic mid-temporal theta bursts (0: none)."""
    movement_per_hour: float
    """Rhythmic movement artifacts (0: none)."""


@dataclass(frozen=True)
class ClinicalSeizure(SeizurePlan):
    """A seizure of the clinical profile: :class:`SeizurePlan` plus its kind and strength."""

    kind: str = "focal"
    amplitude: float = 3.0
    """Peak amplitude as a multiple of the patient's background amplitude."""
    spread_both: bool = False
    """A focal seizure that spreads to both hemispheres (the gains of a generalised one)."""

    def gains(self) -> np.ndarray:
        """(21,) gain per site; spike-wave is frontal-maximal over the whole scalp."""
        if self.kind == "spike_wave":
            return np.asarray(np.clip(0.75 + 0.25 * XY[:, 1], 0.5, 1.0))
        return super().gains()

    def delays_s(self) -> np.ndarray:
        """(21,) seconds after onset each site joins (spike-wave: all at once)."""
        if self.kind == "spike_wave":
            return np.zeros(len(SITES))
        return super().delays_s()


@dataclass(frozen=True)
class PhoticSession:
    """Photic stimulation starting at ``start_s``: one 10 s train per rate, 10 s rests."""

    start_s: float

    def trains(self) -> list[tuple[float, float, float]]:
        """(start s, stop s, flash rate Hz) of each train."""
        return [(self.start_s + 20.0 * i, self.start_s + 20.0 * i + 10.0, f)
                for i, f in enumerate(PHOTIC_FREQUENCIES_HZ)]  # fmt: skip

    @property
    def duration_s(self) -> float:
        return 20.0 * len(PHOTIC_FREQUENCIES_HZ)

    def flash_channel(self, n: int, sfreq_hz: float) -> np.ndarray:
        """The PHOTIC channel: 5 ms pulses of 100 (arbitrary units) at every flash."""
        out = np.zeros(n, dtype=np.float32)
        width = max(1, round(0.005 * sfreq_hz))
        for start, stop, rate in self.trains():
            for t in np.arange(start, stop, 1.0 / rate):
                i = round(t * sfreq_hz)
                out[i : min(i + width, n)] = 100.0
        return out


def clinical_recording(
    rng: np.random.Generator,
    n_samples: int,
    sfreq_hz: float,
    traits: ClinicalTraits,
    seizures: list[ClinicalSeizure],
    photic: PhoticSession | None,
) -> np.ndarray:
    """Potentials at :data:`SITES` in microvolts, float32 (21, n_samples)."""
    x = _background(rng, n_samples, sfreq_hz, traits)
    for plan in seizures:
        _add_seizure(rng, x, sfreq_hz, plan, traits)
        if plan.kind == "focal" and plan.stop_s - plan.start_s >= 30.0:
            _add_postictal(rng, x, sfreq_hz, plan, traits)
    if photic is not None:
        _add_photic(rng, x, sfreq_hz, photic, traits)
    _add_blinks(rng, x, sfreq_hz, traits.blink_gap_s)
    _add_eye_movements(rng, x, sfreq_hz)
    _add_chewing(rng, x, sfreq_hz, traits.chewing_per_hour)
    _add_emg(rng, x, sfreq_hz)
    _add_pops(rng, x, sfreq_hz)
    _add_theta_bursts(rng, x, sfreq_hz, traits)
    _add_rhythmic_movement(rng, x, sfreq_hz, traits.movement_per_hour)
    t = np.arange(n_samples, dtype=np.float64) / sfreq_hz
    mains = np.sin(2 * np.pi * 60.0 * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    x += rng.uniform(1.0, 25.0, size=(len(SITES), 1)).astype(np.float32) * mains
    return x


def _band(rng: np.random.Generator, n: int, sfreq_hz: float, lo: float, hi: float) -> np.ndarray:
    """One row of unit-RMS noise band-limited to [lo, hi] Hz (smooth edges)."""
    freqs = np.fft.rfftfreq(sp_fft.next_fast_len(n, real=True), 1.0 / sfreq_hz)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    shape = np.exp(-(((freqs - centre) / max(half, 0.25)) ** 4))
    row: np.ndarray = spectral_noise(rng, 1, n, sfreq_hz, shape)[0]
    return row


def _slow_envelope(rng: np.random.Generator, n: int, sfreq_hz: float, hz: float) -> np.ndarray:
    """A smooth positive process in [0, 1] varying on a time scale of 1 / ``hz`` seconds."""
    freqs = np.fft.rfftfreq(sp_fft.next_fast_len(n, real=True), 1.0 / sfreq_hz)
    raw = spectral_noise(rng, 1, n, sfreq_hz, np.exp(-(freqs**2) / (2 * hz**2)))[0]
    return np.asarray(1.0 / (1.0 + np.exp(-2.0 * raw)), dtype=np.float32)


def _background(
    rng: np.random.Generator, n: int, sfreq_hz: float, traits: ClinicalTraits
) -> np.ndarray:
    sources = spectral_noise(rng, len(SITES), n, sfreq_hz, None, traits.spectral_exponent)
    mixing = np.exp(-(DIST**2) / (2 * 0.35**2))
    mixing /= np.linalg.norm(mixing, axis=1, keepdims=True)
    x = (mixing.astype(np.float32) @ sources) * np.float32(traits.background_uv)
    vigilance = _slow_envelope(rng, n, sfreq_hz, 0.01)  # 1 awake .. 0 drowsy, minutes
    posterior = np.clip(-XY[:, 1], 0.1, 1.0).astype(np.float32)
    alpha = _band(rng, n, sfreq_hz, traits.alpha_hz - 0.7, traits.alpha_hz + 0.7)
    x += np.outer(posterior * traits.alpha_uv, vigilance * alpha)
    central = np.exp(-(np.linalg.norm(XY, axis=1) ** 2) / 0.5).astype(np.float32)
    theta = _band(rng, n, sfreq_hz, 4.5, 7.0)
    x += np.outer(central * traits.theta_uv, (1.0 - vigilance) * theta)
    if traits.slowing_uv > 0:
        # Polymorphic delta: a different source per site, broadly mixed.
        delta = np.stack([_band(rng, n, sfreq_hz, 1.0, 4.0) for _ in range(3)])
        weights = rng.uniform(0.5, 1.0, size=(len(SITES), 3)).astype(np.float32)
        x += traits.slowing_uv * (weights @ delta) / np.float32(np.sqrt(3.0))
    if traits.beta_uv > 0:
        frontal = np.clip(XY[:, 1] + 0.3, 0.0, 1.0).astype(np.float32)
        x += np.outer(frontal * traits.beta_uv, _band(rng, n, sfreq_hz, 18.0, 25.0))
    if traits.focal_slowing is not None:
        near = np.exp(-(DIST[SITES.index(traits.focal_slowing)] ** 2) / (2 * 0.3**2))
        x += np.outer(near.astype(np.float32) * 1.5 * traits.background_uv,
                      _band(rng, n, sfreq_hz, 0.8, 3.0))  # fmt: skip
    return np.asarray(x, dtype=np.float32)


def _add_seizure(
    rng: np.random.Generator,
    x: np.ndarray,
    sfreq_hz: float,
    plan: ClinicalSeizure,
    traits: ClinicalTraits,
) -> None:
    i0, i1 = round(plan.start_s * sfreq_hz), round(plan.stop_s * sfreq_hz)
    n = i1 - i0
    t = np.arange(n) / sfreq_hz
    duration = n / sfreq_hz
    jitter = np.cumsum(rng.standard_normal(n)) * (0.3 / np.sqrt(sfreq_hz))
    if plan.kind == "spike_wave":
        start_hz, end_hz = rng.uniform(3.2, 4.0), rng.uniform(2.5, 3.0)
        freq = start_hz + (end_hz - start_hz) * t / duration
        phase = 2 * np.pi * np.cumsum(freq) / sfreq_hz + 0.3 * jitter
        # A narrow spike followed by a broad negative slow wave, once per cycle.
        cycle = np.mod(phase, 2 * np.pi) / (2 * np.pi)
        spike = np.exp(-(((cycle - 0.1) / 0.03) ** 2))
        slow = -0.8 * np.exp(-(((cycle - 0.5) / 0.16) ** 2))
        wave = 1.6 * (spike + slow)
        ramp_up, fade = 0.5, 0.5
    else:
        start_hz = traits.start_hz * rng.uniform(0.9, 1.1)
        end_hz = traits.end_hz * rng.uniform(0.9, 1.1)
        if plan.kind == "low_amplitude":
            end_hz = max(end_hz, 4.0)
        freq = start_hz * (end_hz / start_hz) ** (t / duration)
        phase = 2 * np.pi * np.cumsum(freq) / sfreq_hz + jitter
        spike_weight = (0.1 if plan.kind == "low_amplitude" else 0.3) + 0.5 * t / duration
        wave = np.sin(phase) + 0.45 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
        wave += spike_weight * (np.cos(phase) ** 15)
        if plan.kind == "focal":
            # Low-voltage fast activity for the first 2-5 s, fading as the rhythm builds.
            onset_s = min(rng.uniform(2.0, 5.0), duration / 4)
            fast_hz = rng.uniform(13.0, 20.0)
            fast = np.sin(2 * np.pi * fast_hz * t + jitter) * np.clip(1 - t / onset_s, 0, 1)
            wave = wave * np.clip(t / onset_s, 0.0, 1.0) + 0.5 * fast
        ramp_up, fade = min(8.0, duration / 3), min(4.0, duration / 4)
    amp = plan.amplitude * traits.background_uv
    for site, gain, delay in zip(SITES, plan.gains(), plan.delays_s(), strict=True):
        if gain <= 0.05 or delay >= duration:
            continue
        local = t - delay
        envelope = np.clip(local / ramp_up, 0.0, 1.0) * np.clip((duration - t) / fade, 0.0, 1.0)
        envelope = envelope * (1.0 + 0.3 * t / duration)
        x[SITES.index(site), i0:i1] += (amp * gain * envelope * wave).astype(np.float32)


def _add_postictal(
    rng: np.random.Generator,
    x: np.ndarray,
    sfreq_hz: float,
    plan: ClinicalSeizure,
    traits: ClinicalTraits,
) -> None:
    i0 = round(plan.stop_s * sfreq_hz)
    length = min(round(rng.uniform(30.0, 180.0) * sfreq_hz), x.shape[1] - i0)
    if length <= 0:
        return
    t = np.arange(length) / sfreq_hz
    decay = np.exp(-t / (t[-1] / 3 + 1e-9)).astype(np.float32)
    side = np.sign(XY[SITES.index(plan.focus), 0])
    if plan.spread_both or side == 0:
        weights = np.ones(len(SITES), dtype=np.float32)
    else:
        weights = np.clip(0.3 + side * XY[:, 0], 0.3, 1.0).astype(np.float32)
    amp = rng.uniform(1.5, 3.0) * traits.background_uv
    delta = np.stack([_band(rng, length, sfreq_hz, 1.0, 3.0) for _ in range(2)])
    mix = rng.uniform(0.4, 1.0, size=(len(SITES), 2)).astype(np.float32)
    x[:, i0 : i0 + length] *= (1.0 - 0.4 * decay)[None, :]  # attenuated background
    x[:, i0 : i0 + length] += amp * weights[:, None] * (mix @ delta) * decay[None, :]


def _events(rng: np.random.Generator, n: int, sfreq_hz: float, mean_gap_s: float) -> np.ndarray:
    count = rng.poisson(n / sfreq_hz / mean_gap_s)
    return np.sort(rng.integers(0, max(n, 1), size=count))


def _add_blinks(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float, gap_s: float) -> None:
    width = int(0.4 * sfreq_hz)
    shape = (np.hanning(width) ** 2).astype(np.float32)
    eyes = np.exp(-(np.linalg.norm(XY - np.array([0.0, 1.25]), axis=1) ** 2) / 0.25)
    for at in _events(rng, x.shape[1] - width, sfreq_hz, gap_s):
        x[:, at : at + width] += np.outer(eyes * rng.uniform(80.0, 250.0), shape)


def _add_eye_movements(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float) -> None:
    # A horizontal gaze shift charges F7 and F8 with opposite signs (the cornea is positive).
    dipole = np.zeros(len(SITES), dtype=np.float32)
    for name, w in (("F7", 1.0), ("F8", -1.0), ("Fp1", 0.4), ("Fp2", -0.4), ("T3", 0.3),
                    ("T4", -0.3)):  # fmt: skip
        dipole[SITES.index(name)] = w
    edge = max(2, int(0.05 * sfreq_hz))
    for at in _events(rng, x.shape[1], sfreq_hz, mean_gap_s=20.0):
        hold = int(rng.uniform(0.3, 3.0) * sfreq_hz)
        length = min(hold + 2 * edge, x.shape[1] - at)
        if length <= 2 * edge:
            continue
        box = np.ones(length, dtype=np.float32)
        ramp = np.linspace(0.0, 1.0, edge, dtype=np.float32)
        box[:edge], box[length - edge :] = ramp, ramp[::-1]
        amp = rng.uniform(40.0, 150.0) * rng.choice([-1.0, 1.0])
        x[:, at : at + length] += np.outer(dipole * np.float32(amp), box)


def _muscle(rng: np.random.Generator, n_rows: int, length: int) -> np.ndarray:
    """Unit-scale broadband muscle potentials (differenced white noise ~ high-pass)."""
    return np.diff(rng.standard_normal((n_rows, length + 1)), axis=1).astype(np.float32) / 1.4


def _add_chewing(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float, per_hour: float) -> None:
    weights = _site_weights(_TEMPORAL)
    rows = np.flatnonzero(weights)
    for at in _events(rng, x.shape[1], sfreq_hz, 3600.0 / max(per_hour, 1e-9)):
        rate = rng.uniform(1.0, 2.0)
        n_chews = int(rng.uniform(3.0, 15.0) * rate)
        amp = rng.uniform(80.0, 300.0)
        burst_n = int(0.2 * sfreq_hz)
        taper = np.hanning(burst_n).astype(np.float32)
        for k in range(n_chews):
            i = at + int(k * sfreq_hz / rate * rng.uniform(0.9, 1.1))
            if i + burst_n > x.shape[1]:
                break
            burst = _muscle(rng, len(rows), burst_n) * taper
            x[rows, i : i + burst_n] += amp * weights[rows, None] * burst


def _add_emg(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float) -> None:
    lateral = np.clip(np.abs(XY[:, 0]) - 0.4, 0.0, None) * 1.7 + np.clip(XY[:, 1] - 0.5, 0, None)
    for at in _events(rng, x.shape[1], sfreq_hz, mean_gap_s=45.0):
        length = min(int(rng.uniform(1.0, 10.0) * sfreq_hz), x.shape[1] - at)
        if length < 2:
            continue
        side = lateral * (1.0 if rng.random() < 0.5 else 0.3)
        burst = _muscle(rng, len(SITES), length) * np.hanning(length).astype(np.float32)
        x[:, at : at + length] += rng.uniform(30.0, 150.0) * side[:, None] * burst


def _add_pops(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float) -> None:
    for at in _events(rng, x.shape[1], sfreq_hz, mean_gap_s=90.0):
        site = rng.integers(0, len(ELECTRODES))
        length = min(int(1.5 * sfreq_hz), x.shape[1] - at)
        decay = np.exp(-np.arange(length) / (rng.uniform(0.1, 0.4) * sfreq_hz))
        x[site, at : at + length] += (rng.choice([-1, 1]) * rng.uniform(150, 600)) * decay.astype(
            np.float32
        )


def _add_photic(
    rng: np.random.Generator,
    x: np.ndarray,
    sfreq_hz: float,
    session: PhoticSession,
    traits: ClinicalTraits,
) -> None:
    occipital = _site_weights(_OCCIPITAL)
    frontal = _site_weights(_FRONTAL)
    gain = rng.uniform(10.0, 40.0)
    for start, stop, rate in session.trains():
        i0, i1 = round(start * sfreq_hz), min(round(stop * sfreq_hz), x.shape[1])
        if i1 <= i0:
            break
        t = np.arange(i1 - i0) / sfreq_hz
        # Driving is strongest for rates near the patient's alpha (or its half).
        tuning = max(np.exp(-(((rate - traits.alpha_hz) / 4.0) ** 2)),
                     0.6 * np.exp(-(((2 * rate - traits.alpha_hz) / 3.0) ** 2)), 0.25)  # fmt: skip
        phase = 2 * np.pi * rate * t
        response = np.sin(phase) + 0.4 * np.sin(2 * phase + 0.5)
        envelope = np.clip(t / 1.0, 0, 1) * np.clip((t[-1] - t) / 0.5, 0, 1)
        x[:, i0:i1] += np.outer(occipital * gain * tuning, envelope * response).astype(np.float32)
        if traits.photomyogenic:
            # Frontal muscle twitches time-locked to each flash (40-80 ms after it).
            twitch_n = int(0.05 * sfreq_hz)
            for tf in np.arange(0.0, t[-1], 1.0 / rate):
                i = i0 + round((tf + 0.06) * sfreq_hz)
                if i + twitch_n > i1:
                    break
                rows = np.flatnonzero(frontal)
                x[rows, i : i + twitch_n] += 60.0 * _muscle(rng, len(rows), twitch_n)


def _add_theta_bursts(
    rng: np.random.Generator, x: np.ndarray, sfreq_hz: float, traits: ClinicalTraits
) -> None:
    if traits.theta_bursts_per_hour <= 0:
        return
    for at in _events(rng, x.shape[1], sfreq_hz, 3600.0 / traits.theta_bursts_per_hour):
        length = min(int(rng.uniform(1.0, 5.0) * sfreq_hz), x.shape[1] - at)
        if length < 2:
            continue
        left = rng.random() < 0.5
        chain = ("F7", "T3", "T5") if left else ("F8", "T4", "T6")
        t = np.arange(length) / sfreq_hz
        phase = 2 * np.pi * rng.uniform(5.0, 7.0) * t
        wave = np.sin(phase) + 0.35 * np.sin(2 * phase)  # notched, sharply contoured
        envelope = np.hanning(length) ** 0.5
        amp = rng.uniform(1.5, 3.0) * traits.background_uv
        for k, name in enumerate(chain):
            x[SITES.index(name), at : at + length] += (
                amp * (1.0 - 0.2 * abs(k - 1)) * envelope * wave
            ).astype(np.float32)


def _add_rhythmic_movement(
    rng: np.random.Generator, x: np.ndarray, sfreq_hz: float, per_hour: float
) -> None:
    if per_hour <= 0:
        return
    for at in _events(rng, x.shape[1], sfreq_hz, 3600.0 / per_hour):
        length = min(int(rng.uniform(3.0, 15.0) * sfreq_hz), x.shape[1] - at)
        if length < 2:
            continue
        centre = int(rng.integers(0, len(ELECTRODES)))
        weights = np.exp(-(DIST[centre] ** 2) / (2 * 0.25**2)).astype(np.float32)
        t = np.arange(length) / sfreq_hz
        drift = 0.05 * np.cumsum(rng.standard_normal(length)) / np.sqrt(sfreq_hz)
        phase = 2 * np.pi * np.cumsum(rng.uniform(3.0, 6.0) * (1.0 + drift)) / sfreq_hz
        wave = np.tanh(3.0 * np.sin(phase))  # sharp, square-ish deflections
        envelope = np.clip(t / 0.5, 0, 1) * np.clip((t[-1] - t) / 0.5, 0, 1)
        amp = rng.uniform(100.0, 400.0)
        moving = np.outer(weights * amp, envelope * wave)
        # the moving muscles fire with each movement
        moving += 0.3 * amp * weights[:, None] * _muscle(rng, len(SITES), length) * envelope
        x[:, at : at + length] += moving.astype(np.float32)
