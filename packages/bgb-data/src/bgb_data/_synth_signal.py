"""Synthetic scalp EEG for one recording: background, artifacts and evolving seizures.

All potentials are in microvolts at 21 scalp sites (the 19 electrodes plus the ear
references A1/A2), relative to an ideal reference; the corpus writer then re-references
them the way the montage folder says (average or linked ears).

Background: spatially smooth 1/f^1.6 noise (sources mixed by a Gaussian kernel over the
scalp distance), posterior alpha (8-12 Hz, waxing and waning), 60 Hz mains.
Artifacts: eye blinks (frontal), muscle bursts (temporal, 20-100 Hz), electrode pops
(one channel, step with exponential decay).
Seizures: a rhythmic discharge (fundamental plus harmonics, so sharp rather than
sinusoidal) whose frequency falls from 5-7 Hz to 2.5-3.5 Hz while the amplitude grows
then fades, starting at a focal electrode and spreading to the others with a delay
proportional to distance; focal seizures stay weak far from the focus, generalised
ones reach every electrode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft

from bgb_data._channels import ELECTRODES

__all__ = [
    "DIST",
    "SITES",
    "TCP_PAIRS",
    "XY",
    "PatientTraits",
    "SeizurePlan",
    "spectral_noise",
    "synth_recording",
]

_POSITIONS: dict[str, tuple[float, float]] = {
    "Fp1": (-0.31, 0.95), "Fp2": (0.31, 0.95), "F7": (-0.81, 0.59), "F3": (-0.42, 0.52),
    "Fz": (0.0, 0.45), "F4": (0.42, 0.52), "F8": (0.81, 0.59), "T3": (-1.0, 0.0),
    "C3": (-0.5, 0.0), "Cz": (0.0, 0.0), "C4": (0.5, 0.0), "T4": (1.0, 0.0),
    "T5": (-0.81, -0.59), "P3": (-0.42, -0.52), "Pz": (0.0, -0.45), "P4": (0.42, -0.52),
    "T6": (0.81, -0.59), "O1": (-0.31, -0.95), "O2": (0.31, -0.95),
    "A1": (-1.15, -0.15), "A2": (1.15, -0.15),
}  # fmt: skip
SITES: tuple[str, ...] = (*ELECTRODES, "A1", "A2")
"""Rows of a synthetic potential array."""
XY = np.array([_POSITIONS[s] for s in SITES])  # (21, 2)
DIST = np.linalg.norm(XY[:, None, :] - XY[None, :, :], axis=-1)  # (21, 21)

TCP_PAIRS: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("Fp2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "Cz"), ("Cz", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)  # fmt: skip
"""The 22 channels of the TUSZ temporal central parasagittal (TCP) bipolar montage."""

FOCI: tuple[str, ...] = tuple(e for e in ELECTRODES if e not in ("Fz", "Pz"))
"""Seizure foci: electrodes of the TCP montage (so channel-level labels start at onset)."""

_INVOLVED_GAIN = 0.3
"""A site takes part in a seizure (channel-level label) at this gain or more."""


@dataclass(frozen=True)
class PatientTraits:
    """What stays the same across one patient's recordings."""

    background_uv: float
    alpha_hz: float
    alpha_uv: float
    focus: str
    generalised_share: float
    start_hz: float
    end_hz: float


@dataclass(frozen=True)
class SeizurePlan:
    """One seizure: onset and offset in seconds and its spatial extent."""

    start_s: float
    stop_s: float
    focus: str
    generalised: bool

    def gains(self) -> np.ndarray:
        """(21,) amplitude gain per site: 1 at the focus, falling with distance."""
        d = DIST[SITES.index(self.focus)]
        width = 1.4 if self.generalised else 0.55
        floor = 0.6 if self.generalised else 0.0
        return np.asarray(np.maximum(np.exp(-(d**2) / (2 * width**2)), floor))

    def delays_s(self) -> np.ndarray:
        """(21,) seconds after onset at which each site joins (spread speed by extent)."""
        speed = 0.5 if self.generalised else 0.15  # scalp-radius units per second
        return np.asarray(DIST[SITES.index(self.focus)] / speed)

    def involved(self) -> dict[str, float]:
        """Site -> seconds after onset it joins, for sites with gain >= the threshold."""
        gains, delays = self.gains(), self.delays_s()
        return {
            s: float(delays[i])
            for i, s in enumerate(SITES)
            if gains[i] >= _INVOLVED_GAIN and delays[i] < self.stop_s - self.start_s
        }


def synth_recording(
    rng: np.random.Generator,
    n_samples: int,
    sfreq_hz: float,
    traits: PatientTraits,
    seizures: list[SeizurePlan],
) -> np.ndarray:
    """Potentials at :data:`SITES` in microvolts, float32 (21, n_samples)."""
    x = _background(rng, n_samples, sfreq_hz, traits)
    _add_blinks(rng, x, sfreq_hz)
    _add_muscle(rng, x, sfreq_hz)
    _add_pops(rng, x, sfreq_hz)
    for plan in seizures:
        _add_seizure(rng, x, sfreq_hz, plan, traits)
    t = np.arange(n_samples, dtype=np.float64) / sfreq_hz
    mains = np.sin(2 * np.pi * 60.0 * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    x += rng.uniform(1.0, 15.0, size=(len(SITES), 1)).astype(np.float32) * mains
    return x


def spectral_noise(
    rng: np.random.Generator,
    n_rows: int,
    n: int,
    sfreq_hz: float,
    shape: np.ndarray | None,
    exponent: float = 0.0,
) -> np.ndarray:
    """Noise with amplitude spectrum ``shape`` (or f^-exponent), unit RMS, (n_rows, n)."""
    # Work on a fast FFT length (small prime factors) and keep the first n samples.
    m = sp_fft.next_fast_len(n, real=True)
    freqs = np.fft.rfftfreq(m, 1.0 / sfreq_hz)
    gain = shape if shape is not None else np.maximum(freqs, 0.5) ** -exponent
    white = rng.standard_normal((n_rows, m), dtype=np.float32)
    spectrum = sp_fft.rfft(white, axis=1)
    spectrum *= gain.astype(np.float32)
    out = sp_fft.irfft(spectrum, n=m, axis=1)[:, :n]
    out /= out.std(axis=1, keepdims=True)
    return np.asarray(out, dtype=np.float32)


def _background(
    rng: np.random.Generator, n: int, sfreq_hz: float, traits: PatientTraits
) -> np.ndarray:
    sources = spectral_noise(rng, len(SITES), n, sfreq_hz, None, exponent=0.8)
    mixing = np.exp(-(DIST**2) / (2 * 0.35**2))
    mixing /= np.linalg.norm(mixing, axis=1, keepdims=True)
    x = (mixing.astype(np.float32) @ sources) * np.float32(traits.background_uv)  # (21, n)
    freqs = np.fft.rfftfreq(sp_fft.next_fast_len(n, real=True), 1.0 / sfreq_hz)
    alpha_shape = np.exp(-((freqs - traits.alpha_hz) ** 2) / (2 * 0.6**2))
    alpha = spectral_noise(rng, 1, n, sfreq_hz, alpha_shape)[0]
    # Waxing and waning: a slow (< 0.1 Hz) positive envelope.
    slow = np.exp(-(freqs**2) / (2 * 0.05**2))
    envelope = 1.0 + 0.5 * spectral_noise(rng, 1, n, sfreq_hz, slow)[0]
    posterior = np.clip(-XY[:, 1], 0.1, 1.0).astype(np.float32)  # (21,) back of the head
    x += np.outer(posterior * traits.alpha_uv, np.clip(envelope, 0, None) * alpha)
    return np.asarray(x, dtype=np.float32)


def _events(rng: np.random.Generator, n: int, sfreq_hz: float, mean_gap_s: float) -> np.ndarray:
    """Poisson event times as sample indices."""
    count = rng.poisson(n / sfreq_hz / mean_gap_s)
    return np.sort(rng.integers(0, n, size=count))


def _add_blinks(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float) -> None:
    width = int(0.4 * sfreq_hz)
    shape = np.hanning(width).astype(np.float32) ** 2
    eyes = np.exp(-(np.linalg.norm(XY - np.array([0.0, 1.25]), axis=1) ** 2) / 0.25)
    for at in _events(rng, x.shape[1] - width, sfreq_hz, mean_gap_s=6.0):
        amp = rng.uniform(80.0, 200.0)
        x[:, at : at + width] += np.outer(eyes * amp, shape).astype(np.float32)


def _add_muscle(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float) -> None:
    lateral = np.clip(np.abs(XY[:, 0]) - 0.5, 0.0, None) * 2.0  # (21,) temporal sites
    for at in _events(rng, x.shape[1], sfreq_hz, mean_gap_s=60.0):
        length = min(int(rng.uniform(1.0, 5.0) * sfreq_hz), x.shape[1] - at)
        burst = np.diff(rng.standard_normal((len(SITES), length + 1)), axis=1)  # ~ high-pass
        taper = np.hanning(length)
        side = lateral * (1.0 if rng.random() < 0.5 else 0.3)
        amp = rng.uniform(15.0, 40.0)
        x[:, at : at + length] += (amp * side[:, None] * burst * taper).astype(np.float32)


def _add_pops(rng: np.random.Generator, x: np.ndarray, sfreq_hz: float) -> None:
    for at in _events(rng, x.shape[1], sfreq_hz, mean_gap_s=120.0):
        site = rng.integers(0, len(ELECTRODES))
        length = min(int(1.5 * sfreq_hz), x.shape[1] - at)
        decay = np.exp(-np.arange(length) / (rng.uniform(0.1, 0.4) * sfreq_hz))
        x[site, at : at + length] += np.float32(rng.choice([-1, 1]) * rng.uniform(100, 300)) * (
            decay.astype(np.float32)
        )


def _add_seizure(
    rng: np.random.Generator,
    x: np.ndarray,
    sfreq_hz: float,
    plan: SeizurePlan,
    traits: PatientTraits,
) -> None:
    i0, i1 = round(plan.start_s * sfreq_hz), round(plan.stop_s * sfreq_hz)
    n = i1 - i0
    t = np.arange(n) / sfreq_hz  # seconds since onset
    duration = n / sfreq_hz
    # Frequency falls geometrically from start_hz to end_hz; phase is its integral.
    start_hz = traits.start_hz * rng.uniform(0.9, 1.1)
    end_hz = traits.end_hz * rng.uniform(0.9, 1.1)
    freq = start_hz * (end_hz / start_hz) ** (t / duration)
    phase = 2 * np.pi * np.cumsum(freq) / sfreq_hz
    jitter = np.cumsum(rng.standard_normal(n)) * (0.3 / np.sqrt(sfreq_hz))  # phase drift
    phase = phase + jitter
    # Sharp waves: harmonics in phase; a spike component grows as the seizure evolves.
    spike_weight = 0.2 + 0.6 * t / duration
    wave = np.sin(phase) + 0.45 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
    wave += spike_weight * (np.cos(phase) ** 15)
    amp = rng.uniform(3.0, 6.0) * traits.background_uv
    ramp_up = min(8.0, duration / 3)
    fade = min(4.0, duration / 4)
    for site, gain, delay in zip(SITES, plan.gains(), plan.delays_s(), strict=True):
        if gain <= 0.05 or delay >= duration:
            continue
        local = t - delay
        envelope = np.clip(local / ramp_up, 0.0, 1.0) * np.clip((duration - t) / fade, 0.0, 1.0)
        envelope *= 1.0 + 0.3 * t / duration  # amplitude grows through the seizure
        x[SITES.index(site), i0:i1] += (amp * gain * envelope * wave).astype(np.float32)
