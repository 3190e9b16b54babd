"""Mains notches (50 and 60 Hz) end to end, and the recipe's notch field as data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bgb_data import ELECTRODES, RECIPE_VERSION, Recipe, prepare_recording
from bgb_data._signal import design_sos

TUSZ_ORDER = ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
              "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ")  # fmt: skip
LABELS = [f"EEG {n}-REF" for n in TUSZ_ORDER]


def tone_amplitude(x: np.ndarray, freq_hz: float, sfreq_hz: float) -> float:
    """Amplitude of the ``freq_hz`` sinusoid in ``x`` (least squares on sin and cos)."""
    t = np.arange(x.size) / sfreq_hz
    basis = np.stack([np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t),
                      np.ones_like(t)], axis=1)  # fmt: skip
    (s, c, _), *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(s, c))


@pytest.mark.parametrize("sfreq_hz", [250, 256])
@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
def test_mains_is_removed_and_alpha_kept(
    make_edf, tmp_path: Path, mains_hz: float, sfreq_hz: int
) -> None:
    """100 uV of mains on C3 loses >= 30 dB; 100 uV at 10 Hz on C3 stays within 1 dB."""
    rng = np.random.default_rng(4)
    n = sfreq_hz * 70
    t = np.arange(n) / sfreq_hz
    signals = rng.normal(0.0, 10.0, size=(19, n))
    c3 = TUSZ_ORDER.index("C3")
    signals[c3] += 100.0 * np.sin(2 * np.pi * mains_hz * t + 0.4)
    signals[c3] += 100.0 * np.sin(2 * np.pi * 10.0 * t + 1.1)
    info = prepare_recording(make_edf(signals=signals, labels=LABELS, sfreq_hz=sfreq_hz),
                             tmp_path / "out.npy")  # fmt: skip
    assert info.interpolated == ()
    z = np.load(tmp_path / "out.npy")[ELECTRODES.index("C3")].astype(np.float64)
    c3_uv = z * info.scale_uv["C3"]  # back to microvolts (the median offset drops out)
    expected_uv = 100.0 * 18 / 19  # the common average takes 1/19 of C3's own tones
    mains_db = 20 * np.log10(tone_amplitude(c3_uv, mains_hz, 256.0) / expected_uv)
    alpha_db = 20 * np.log10(tone_amplitude(c3_uv, 10.0, 256.0) / expected_uv)
    assert mains_db <= -30.0
    assert abs(alpha_db) <= 1.0


def test_no_notch_keeps_mains(make_edf, tmp_path: Path) -> None:
    """The measurement above can see mains: without notches 50 Hz passes within 1 dB."""
    rng = np.random.default_rng(4)
    t = np.arange(256 * 70) / 256
    signals = rng.normal(0.0, 10.0, size=(19, t.size))
    signals[TUSZ_ORDER.index("C3")] += 100.0 * np.sin(2 * np.pi * 50.0 * t)
    info = prepare_recording(make_edf(signals=signals, labels=LABELS), tmp_path / "out.npy",
                             Recipe(notch_hz=()))  # fmt: skip
    z = np.load(tmp_path / "out.npy")[ELECTRODES.index("C3")].astype(np.float64)
    got = tone_amplitude(z * info.scale_uv["C3"], 50.0, 256.0)
    assert abs(20 * np.log10(got / (100.0 * 18 / 19))) <= 1.0


def test_design_has_one_notch_per_frequency() -> None:
    band_only = design_sos(Recipe(notch_hz=()))
    assert design_sos(Recipe()).shape == (band_only.shape[0] + 2, 6)
    assert design_sos(Recipe(notch_hz=(50.0,))).shape == (band_only.shape[0] + 1, 6)


def test_recipe_round_trips_through_json_with_a_list() -> None:
    recipe = Recipe()
    assert recipe.notch_hz == (50.0, 60.0)
    data = json.loads(json.dumps(recipe.to_dict()))
    assert data["notch_hz"] == [50.0, 60.0] and data["version"] == RECIPE_VERSION == 2
    again = Recipe.from_dict(data)
    assert again == recipe and again.hash() == recipe.hash() and hash(again) == hash(recipe)
    assert Recipe(notch_hz=[50, 60]) == recipe  # type: ignore[arg-type]  # lists, ints: JSON
    assert Recipe(notch_hz=(60.0,)).hash() != recipe.hash()


def test_recipe_of_another_version_is_refused() -> None:
    data = {**Recipe().to_dict(), "version": 1, "notch_hz": 60.0}
    with pytest.raises(ValueError, match=r"version 1 .*version 2"):
        Recipe.from_dict(data)


@pytest.mark.parametrize(
    ("notch_hz", "message"),
    [
        ((130.0,), r"\[130.0\] outside \(0, 128.0\)"),
        ((50.0, 0.0), r"\[0.0\] outside"),
        ((-60.0,), "outside"),
        ((50.0, 50.0), "names a frequency twice"),
        (60.0, "must be a tuple of frequencies"),
        (None, r"or \(\) for no notch"),
        (("60",), "must be a tuple"),
    ],
)
def test_bad_notch_frequencies_are_refused(notch_hz: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Recipe(notch_hz=notch_hz)  # type: ignore[arg-type]
