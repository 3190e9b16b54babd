"""prepare_recording: rates, references, missing and bad channels, bad inputs, and a
plain whole-array reference implementation it must agree with."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import mne
import numpy as np
import pytest
from scipy import signal

from bgb_data import ELECTRODES, Recipe, RecordingError, prepare_recording

TUSZ_ORDER = ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
              "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ")  # fmt: skip


def reference_prepare(edf: Path, recipe: Recipe) -> np.ndarray:
    """Obviously-correct version: whole arrays in float64, no chunks, no scratch files."""
    raw = mne.io.read_raw_edf(edf, preload=True, infer_types=False, verbose="error")
    names = [f"EEG {e.upper()}-REF" for e in ELECTRODES]
    x = raw.get_data(picks=names) * 1e6  # (19, n_in)
    ratio = Fraction(int(recipe.sfreq_hz), int(raw.info["sfreq"]))
    x = signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=1)
    sos = signal.butter(recipe.bandpass_order, [recipe.highpass_hz, recipe.lowpass_hz],
                        "bandpass", fs=recipe.sfreq_hz, output="sos")  # fmt: skip
    for notch_hz in recipe.notch_hz:
        b, a = signal.iirnotch(notch_hz, recipe.notch_q, fs=recipe.sfreq_hz)
        sos = np.vstack([sos, signal.tf2sos(b, a)])
    x = signal.sosfiltfilt(sos, x, axis=1)
    x -= x.mean(axis=0)
    q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=1, keepdims=True)
    return np.clip((x - q50) / ((q75 - q25) / 1.349), -recipe.clip, recipe.clip)


def test_agrees_with_whole_array_reference(make_edf, tmp_path: Path) -> None:
    edf = make_edf(sfreq_hz=250, duration_s=64)
    info = prepare_recording(edf, tmp_path / "out.npy")
    got = np.load(tmp_path / "out.npy")
    expected = reference_prepare(edf, Recipe())
    assert got.shape == expected.shape == (19, info.n_samples)
    assert got.dtype == np.float16
    # float16 storage: relative step 2^-11; float32 processing adds ~1e-5.
    assert np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))) < 2e-3


@pytest.mark.parametrize("sfreq_hz", [160, 250, 256, 400, 512, 1000])
def test_every_rate_goes_to_256_hz(make_edf, tmp_path: Path, sfreq_hz: int) -> None:
    edf = make_edf(sfreq_hz=sfreq_hz, duration_s=61)
    info = prepare_recording(edf, tmp_path / "out.npy")
    x = np.load(tmp_path / "out.npy").astype(np.float64)
    assert info.sfreq_in_hz == sfreq_hz
    assert info.n_samples == math.ceil(61 * 256)
    assert x.shape == (19, info.n_samples)
    assert np.all(np.isfinite(x))
    # Robust normalisation: median 0 and IQR 1.349 per channel (within float16 steps).
    q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=1)
    assert np.allclose(q50, 0, atol=2e-3)
    assert np.allclose(q75 - q25, 1.349, atol=5e-3)


def test_zero_phase_and_frequency_response(make_edf, tmp_path: Path) -> None:
    """A 6 Hz burst keeps its timing, 60 Hz mains and a slow drift are removed."""
    fs, duration = 256, 64
    t = np.arange(fs * duration) / fs
    rng = np.random.default_rng(3)
    signals = 5.0 * rng.standard_normal((19, t.size))
    burst = np.where((t > 30) & (t < 32), 100.0 * np.sin(2 * np.pi * 6 * t), 0.0)
    signals[ELECTRODES.index("O1") and TUSZ_ORDER.index("O1")] += burst
    signals += 200.0 * np.sin(2 * np.pi * 60 * t) + 300.0 * np.sin(2 * np.pi * 0.05 * t)
    labels = [f"EEG {n}-REF" for n in TUSZ_ORDER]
    prepare_recording(make_edf(signals=signals, labels=labels), tmp_path / "o.npy")
    o1 = np.load(tmp_path / "o.npy")[ELECTRODES.index("O1")].astype(np.float64)
    envelope = np.abs(signal.hilbert(o1))
    inside = envelope[(t > 30.2) & (t < 31.8)].mean()
    assert inside > 10 * np.median(envelope)
    # Onset and offset stay where they were (a causal filter would delay them).
    above = t[envelope > inside / 2]
    assert above.min() == pytest.approx(30.0, abs=0.1)
    assert above.max() == pytest.approx(32.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(o1[: 20 * fs]))
    freqs = np.fft.rfftfreq(20 * fs, 1 / fs)
    assert spectrum[np.argmin(np.abs(freqs - 60))] < 0.05 * spectrum[freqs > 1].max()


def test_average_and_linked_ear_recordings_look_alike(make_edf, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    fs = 256
    potentials = rng.normal(0, 30, size=(21, fs * 62)).cumsum(axis=1) * 0.1
    potentials += rng.normal(0, 10, size=potentials.shape)
    names = [*TUSZ_ORDER, "A1", "A2"]
    average = potentials - potentials.mean(axis=0)
    ears = potentials - potentials[19:21].mean(axis=0)
    ar = make_edf("ar.edf", signals=average, labels=[f"EEG {n}-REF" for n in names])
    le = make_edf("le.edf", signals=ears, labels=[f"EEG {n}-LE" for n in names])
    info_ar = prepare_recording(ar, tmp_path / "ar.npy")
    info_le = prepare_recording(le, tmp_path / "le.npy")
    assert (info_ar.reference, info_le.reference) == ("AR", "LE")
    x_ar, x_le = np.load(tmp_path / "ar.npy"), np.load(tmp_path / "le.npy")
    assert np.max(np.abs(x_ar.astype(float) - x_le)) < 0.02


def test_missing_electrodes_are_interpolated_up_to_the_limit(make_edf, tmp_path: Path) -> None:
    keep = [n for n in TUSZ_ORDER if n not in ("CZ", "O2")]
    edf = make_edf(labels=[f"EEG {n}-REF" for n in keep])
    info = prepare_recording(edf, tmp_path / "out.npy")
    assert info.missing == ("Cz", "O2")
    assert info.interpolated == ("Cz", "O2")
    x = np.load(tmp_path / "out.npy").astype(np.float64)
    assert np.all(np.isfinite(x)) and np.all(x.std(axis=1) > 0.5)  # no silent zeros

    fewer = [n for n in TUSZ_ORDER if n not in ("CZ", "O2", "FP1", "T5")]
    with pytest.raises(RecordingError, match="missing electrodes: Fp1, T5, Cz, O2") as err:
        prepare_recording(make_edf("few.edf", labels=[f"EEG {n}-REF" for n in fewer]),
                          tmp_path / "few.npy")  # fmt: skip
    assert err.value.reason == "missing_electrodes"
    assert not (tmp_path / "few.npy").exists()


def test_flat_and_saturated_channels_are_replaced(make_edf, tmp_path: Path) -> None:
    labels = [f"EEG {n}-REF" for n in TUSZ_ORDER]
    rng = np.random.default_rng(2)
    signals = rng.normal(0, 30, size=(19, 256 * 70))
    signals[TUSZ_ORDER.index("C3")] = 0.05 * rng.standard_normal(256 * 70)  # disconnected
    signals[TUSZ_ORDER.index("P4")] *= 10.0  # far beyond its 60 uV ADC range
    limits = np.full(19, 400.0)
    limits[TUSZ_ORDER.index("P4")] = 60.0
    edf = make_edf(signals=signals, labels=labels, physical_max_uv=limits)
    info = prepare_recording(edf, tmp_path / "out.npy")
    assert info.bad_channels == {"C3": "flat", "P4": "saturated"}
    assert info.interpolated == ("C3", "P4")


def test_all_flat_is_too_many_bad_channels(make_edf, tmp_path: Path) -> None:
    labels = [f"EEG {n}-REF" for n in TUSZ_ORDER]
    edf = make_edf(signals=np.zeros((19, 256 * 70)), labels=labels)
    with pytest.raises(RecordingError, match="flat, saturated or amplitude") as err:
        prepare_recording(edf, tmp_path / "out.npy")
    assert err.value.reason == "missing_electrodes"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        ("text", "not_edf"),
        ("truncate", "truncated"),
        ("short", "too_short"),
        ("bipolar", "bipolar_montage"),
        ("duplicate", "duplicate_electrodes"),
    ],
)
def test_bad_inputs_raise_with_reason(make_edf, tmp_path: Path, mutate: str, reason: str) -> None:
    if mutate == "text":
        edf = tmp_path / "bad.edf"
        edf.write_bytes(b"PK\x03\x04 a zip file, not an EDF" * 20)
    elif mutate == "truncate":
        edf = make_edf()
        edf.write_bytes(edf.read_bytes()[:-5000])
    elif mutate == "short":
        edf = make_edf(duration_s=59)
    elif mutate == "bipolar":
        edf = make_edf(labels=["FP1-F7", "F7-T7", "T7-P7", "P7-O1"])
    else:
        edf = make_edf(labels=[f"EEG {n}-REF" for n in TUSZ_ORDER] + ["Fp1"])
    with pytest.raises(RecordingError) as err:
        prepare_recording(edf, tmp_path / "out.npy")
    assert err.value.reason == reason
    assert str(edf) in str(err.value)
    assert not (tmp_path / "out.npy").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


CHB_MIT = ["FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1",
           "FP2-F4", "F4-C4", "C4-P4", "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
           "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8", "T8-P8"]  # fmt: skip


def test_bipolar_montage_is_rejected_by_name(make_edf, tmp_path: Path) -> None:
    edf = make_edf(labels=CHB_MIT, duration_s=61)
    with pytest.raises(RecordingError, match="bipolar montage: referential electrodes "
                       "needed") as err:  # fmt: skip
        prepare_recording(edf, tmp_path / "out.npy")
    assert err.value.reason == "bipolar_montage"
    assert str(edf) in str(err.value) and "FP1-F7" in str(err.value)


def test_unknown_reference_suffix_is_rejected_naming_it(make_edf, tmp_path: Path) -> None:
    labels = [f"EEG {n}-REF" for n in TUSZ_ORDER]
    labels[TUSZ_ORDER.index("CZ")] = "EEG CZ-XYZ"
    with pytest.raises(RecordingError, match="'EEG CZ-XYZ' has the unknown reference "
                       "suffix '-XYZ'") as err:  # fmt: skip
        prepare_recording(make_edf(labels=labels, duration_s=61), tmp_path / "out.npy")
    assert err.value.reason == "unknown_reference"
    assert "known: -REF, -AR" in str(err.value)


@pytest.mark.parametrize("style", ["{}-A1", "EEG {}", "{}", "{}-M1", "{}-AVG", "{}-LE"])
def test_hospital_reference_styles_read_like_tusz(make_edf, tmp_path: Path, style: str) -> None:
    rng = np.random.default_rng(8)
    signals = rng.normal(0, 30, size=(19, 256 * 61))
    tusz = make_edf("tusz.edf", signals=signals, labels=[f"EEG {n}-REF" for n in TUSZ_ORDER])
    other = make_edf("other.edf", signals=signals,
                     labels=[style.format(n.title()) for n in TUSZ_ORDER])  # fmt: skip
    info = prepare_recording(other, tmp_path / "other.npy")
    prepare_recording(tusz, tmp_path / "tusz.npy")
    assert not info.missing
    assert np.array_equal(np.load(tmp_path / "other.npy"), np.load(tmp_path / "tusz.npy"))


def test_mne_raw_prepares_exactly_like_its_edf(make_edf, tmp_path: Path) -> None:
    edf = make_edf(sfreq_hz=250, duration_s=64)
    from_file = prepare_recording(edf, tmp_path / "file.npy")
    raw = mne.io.read_raw_edf(edf, preload=True, infer_types=False, verbose="error")
    from_raw = prepare_recording(raw, tmp_path / "raw.npy")
    # the same samples through the same steps: the same bytes
    assert np.array_equal(np.load(tmp_path / "file.npy"), np.load(tmp_path / "raw.npy"))
    assert from_raw.channel_of == from_file.channel_of
    assert from_raw.duration_s == from_file.duration_s
    assert from_raw.source.startswith("MNE Raw") and str(edf) in from_raw.source


def test_mne_raw_with_channels_not_in_volts_is_rejected(make_edf, tmp_path: Path) -> None:
    raw = mne.io.read_raw_edf(make_edf(), preload=True, infer_types=False, verbose="error")
    raw.set_channel_types({raw.ch_names[0]: "misc"}, on_unit_change="ignore", verbose="error")
    with pytest.raises(RecordingError, match="not in volts") as caught:
        prepare_recording(raw, tmp_path / "out.npy")
    assert caught.value.reason == "not_edf"
    assert not (tmp_path / "out.npy").exists()


def test_something_else_than_a_path_or_raw_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="neither an EDF path nor an MNE Raw"):
        prepare_recording(np.zeros((19, 1000)), tmp_path / "out.npy")
