"""The amplitude-outlier rule: a channel far beyond EEG amplitude is interpolated before the
common average can spread it, and clean recordings (synthetic and with artifacts and
seizures) are never flagged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bgb_data import ELECTRODES, Recipe, RecordingError, generate_corpus, prepare_recording
from bgb_data._signal import amplitude_outliers, typical_ptp_uv

TUSZ_ORDER = ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8",
              "T3", "T4", "T5", "T6", "FZ", "CZ", "PZ")  # fmt: skip
LABELS = [f"EEG {n}-REF" for n in TUSZ_ORDER]


def noisy_c3(eeg_signals: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(signals (19, n) uV with 2 mV white noise on C3, the noise (n,)) at 256 Hz, 70 s."""
    rng = np.random.default_rng(11)
    signals = eeg_signals(rng, 19, 256 * 70, 256.0)
    noise = rng.normal(0.0, 2000.0, size=256 * 70)
    signals[TUSZ_ORDER.index("C3")] += noise
    return signals, noise


def correlations(x: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """(19,) absolute correlation of each output row with ``noise``."""
    return np.abs([np.corrcoef(row.astype(np.float64), noise)[0, 1] for row in x])


def test_two_millivolt_noise_is_interpolated_and_not_spread(
    make_edf, eeg_signals, tmp_path: Path
) -> None:
    signals, noise = noisy_c3(eeg_signals)
    edf = make_edf(signals=signals, labels=LABELS)
    info = prepare_recording(edf, tmp_path / "out.npy")
    assert info.bad_channels == {"C3": "amplitude"}
    assert info.interpolated == ("C3",)
    assert info.interpolation_reasons == {"C3": "amplitude"}
    assert info.typical_ptp_uv["C3"] > 10_000.0  # white noise: ~5.5 sigma per 1 s block
    corr = correlations(np.load(tmp_path / "out.npy"), noise)
    assert corr.max() < 0.1, dict(zip(ELECTRODES, corr.round(3), strict=True))

    # The same file without the rule (limit out of reach): the average spreads the noise.
    prepare_recording(edf, tmp_path / "spread.npy", Recipe(amplitude_ptp_uv=1e12))
    spread = correlations(np.load(tmp_path / "spread.npy"), noise)
    others = np.delete(spread, ELECTRODES.index("C3"))
    assert others.min() > 0.9


def test_amplitude_outliers_count_against_max_interpolated(
    make_edf, eeg_signals, tmp_path: Path
) -> None:
    signals, _ = noisy_c3(eeg_signals)
    keep = [i for i, n in enumerate(TUSZ_ORDER) if n not in ("FP1", "O2", "T4")]
    edf = make_edf(signals=signals[keep], labels=[LABELS[i] for i in keep])
    with pytest.raises(RecordingError, match=r"Fp1, C3, T4, O2 .*amplitude") as err:
        prepare_recording(edf, tmp_path / "out.npy")
    assert err.value.reason == "missing_electrodes"


def test_typical_ptp_is_the_median_over_one_second_blocks() -> None:
    t = np.arange(256 * 60) / 256
    row = 50.0 * np.sin(2 * np.pi * 10.0 * t)  # peak-to-peak 100 uV in every block
    row[: 256 * 29] += 5000.0 * np.sin(2 * np.pi * 3.0 * t[: 256 * 29])  # under half
    assert typical_ptp_uv(row, 256.0) == pytest.approx(100.0, rel=1e-3)
    with pytest.raises(ValueError, match="under 1 s"):
        typical_ptp_uv(row[:255], 256.0)


@pytest.mark.parametrize(
    ("one_uv", "others_uv", "flagged"),
    [
        (1500.0, 50.0, True),  # both limits exceeded
        (900.0, 50.0, False),  # 18x the others, but under the absolute limit
        (2500.0, 300.0, False),  # over the absolute limit, but only 8x the others
        (1001.0, 100.0, True),  # just above both
    ],
)
def test_amplitude_rule_needs_both_limits(one_uv: float, others_uv: float, flagged: bool) -> None:
    typical = {e: others_uv for e in ELECTRODES}
    typical["C3"] = one_uv
    assert amplitude_outliers(typical, Recipe()) == (("C3",) if flagged else ())


def test_amplitude_rule_finds_two_outliers_and_needs_company() -> None:
    typical = {e: 60.0 for e in ELECTRODES} | {"C3": 3000.0, "O2": 20000.0}
    assert amplitude_outliers(typical, Recipe()) == ("C3", "O2")
    assert amplitude_outliers({"C3": 20000.0}, Recipe()) == ()


@pytest.mark.parametrize("recipe_kw", [{"amplitude_ptp_uv": 0.0}, {"amplitude_ratio": 1.0},
                                       {"amplitude_ratio": float("nan")}])  # fmt: skip
def test_bad_amplitude_limits_are_refused(recipe_kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"amplitude_ptp_uv .* > 0 and amplitude_ratio"):
        Recipe(**recipe_kw)  # type: ignore[arg-type]


CLEAN_MARGIN = 4.0
"""Clean synthetic data must stay this many times below each limit (measured: about 7x
below the ratio and 8x below the absolute limit on ``generate_corpus(hours=2, seed=5)``)."""


@pytest.fixture(scope="module")
def default_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default-parameter synthetic corpus, smaller than the 2 h the limits were checked on."""
    out = tmp_path_factory.mktemp("corpus5")
    generate_corpus(out, hours=0.5, seed=5)
    return out


@pytest.mark.parametrize("corpus", ["tiny_corpus", "default_corpus"])
def test_clean_synthetic_recordings_are_never_amplitude_outliers(
    corpus: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Blinks, muscle, pops and seizures (tiny_corpus: 30 per hour) stay far below both
    limits; neither limit alone comes near being exceeded."""
    root: Path = request.getfixturevalue(corpus)
    recipe = Recipe()
    edfs = sorted(root.rglob("*.edf"))
    assert len(edfs) >= 3
    worst_ratio, worst_uv = 0.0, 0.0
    for edf in edfs:
        info = prepare_recording(edf, tmp_path / "out.npy")
        assert "amplitude" not in info.bad_channels.values(), (edf, info.bad_channels)
        typical = info.typical_ptp_uv
        assert sorted(typical) == sorted(ELECTRODES)
        for electrode, value in typical.items():
            others = np.median([v for e, v in typical.items() if e != electrode])
            worst_ratio = max(worst_ratio, value / others)
            worst_uv = max(worst_uv, value)
    assert worst_ratio * CLEAN_MARGIN < recipe.amplitude_ratio, worst_ratio
    assert worst_uv * CLEAN_MARGIN < recipe.amplitude_ptp_uv, worst_uv
