"""The feature baseline: features against analytic values and a textbook reference, the
detector module against its booster, its checkpoint, and `bgb baseline` scored end to end."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import lightgbm
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from scipy.signal import periodogram

from bgb.baseline import (
    FeatureBaseline,
    FeatureSpec,
    baseline_payload,
    epoch_labels,
    extract_features,
    feature_names,
)
from bgb.checkpoint import save_checkpoint
from bgb.config import load_config
from bgb.trained import load_trained
from bgb_cli.main import cli

SFREQ_HZ = 256
SPEC = FeatureSpec()
NAMES = feature_names(SPEC)


def _column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, NAMES.index(name)]


def _sine(freq_hz: float, amplitude: float, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SFREQ_HZ)) / SFREQ_HZ
    return np.tile(amplitude * np.sin(2 * np.pi * freq_hz * t), (19, 1)).astype(np.float32)


# ------------------------------------------------------------------ features


def test_a_5hz_sine_has_its_power_in_theta() -> None:
    features = extract_features(_sine(5.0, 2.0, 30.0))
    bands = [name for name, _, _ in SPEC.bands_hz]
    powers = np.stack([_column(features, f"max_log_power_{b}") for b in bands], axis=1)
    assert (powers.argmax(axis=1) == bands.index("theta")).all()
    # away from the reflected ends, a sine of amplitude A has power A^2 / 2
    inner = slice(2, -2)
    theta = _column(features, "median_log_power_theta")[inner]
    np.testing.assert_allclose(np.exp(theta), 2.0**2 / 2, rtol=1e-3)
    assert (_column(features, "median_rel_power_theta")[inner] > 0.999).all()
    np.testing.assert_allclose(_column(features, "median_dominant_freq_hz")[inner], 5.0)


def test_line_length_of_a_ramp_and_a_sine_is_analytic() -> None:
    slope = 0.003  # per sample
    ramp = np.tile(slope * np.arange(20 * SFREQ_HZ), (19, 1)).astype(np.float64)
    # the reflected ends are ramps too, so every epoch has exactly |slope| * sfreq per second
    line_length = np.exp(_column(extract_features(ramp), "median_log_line_length"))
    np.testing.assert_allclose(line_length, slope * SFREQ_HZ, rtol=1e-5)
    # a sine of amplitude A at f Hz travels 4 A f per second
    sine = np.exp(_column(extract_features(_sine(4.0, 2.0, 20.0)), "max_log_line_length"))
    np.testing.assert_allclose(sine[2:-2], 4 * 2.0 * 4.0, rtol=2e-3)


@pytest.mark.parametrize("n", [0, 1, 100, 255, 256, 257, 1024, 60 * SFREQ_HZ + 7])
def test_one_row_per_started_hop(n: int) -> None:
    signal = np.random.default_rng(n).standard_normal((19, n)).astype(np.float32)
    features = extract_features(signal)
    assert features.shape == (math.ceil(n / SFREQ_HZ), len(NAMES)) == (SPEC.n_epochs(n), 244)
    assert features.dtype == np.float32 and np.isfinite(features).all()


def test_zeros_give_finite_features() -> None:
    # inference zero-pads a recording shorter than one window
    assert np.isfinite(extract_features(np.zeros((19, 10 * SFREQ_HZ), np.float32))).all()


def test_band_powers_match_scipy_periodogram() -> None:
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((19, 12 * SFREQ_HZ)) * rng.uniform(0.5, 2, (19, 1))
    features = extract_features(signal.astype(np.float32))
    side = (SPEC.analysis_n - SPEC.hop_n) // 2
    padded = np.pad(signal.astype(np.float32), ((0, 0), (side, side)), mode="reflect")
    for k in (0, 5, 11):
        frames = padded[:, k * SPEC.hop_n : k * SPEC.hop_n + SPEC.analysis_n]
        freqs, psd = periodogram(frames, fs=SFREQ_HZ, window="hann", detrend="constant")
        for name, low, high in SPEC.bands_hz:
            band = (freqs >= low) & (freqs < high)
            power = psd[:, band].sum(axis=1) * (freqs[1] - freqs[0])  # (19,)
            expected = np.log(power)
            assert _column(features, f"max_log_power_{name}")[k] == pytest.approx(
                expected.max(), rel=1e-5
            )
            assert _column(features, f"mean_log_power_{name}")[k] == pytest.approx(
                expected.mean(), rel=1e-5
            )


def test_context_columns_are_window_means_and_local_baselines() -> None:
    signal = np.random.default_rng(1).standard_normal((19, 30 * SFREQ_HZ)).astype(np.float32)
    features = extract_features(signal)
    span = SPEC.context_epochs
    for name in ("max_log_power_theta", "std_rhythmicity", "mean_abs_correlation"):
        base = _column(features, name).astype(np.float64)
        past = [base[max(0, k - span) : k + 1].mean() for k in range(len(base))]
        future = [base[k : k + span + 1].mean() for k in range(len(base))]
        np.testing.assert_allclose(_column(features, f"past_{name}"), past, rtol=1e-5)
        np.testing.assert_allclose(_column(features, f"next_{name}"), future, rtol=1e-5)
        np.testing.assert_allclose(
            _column(features, f"rel_{name}"), base - np.median(base), rtol=1e-5, atol=1e-5
        )


def test_epoch_labels_need_more_than_half_the_hop() -> None:
    hop = SPEC.hop_n
    labels = np.concatenate([
        np.zeros(hop), np.ones(hop // 2 + 1), np.zeros(hop // 2 - 1),
        np.ones(hop // 2), np.zeros(hop // 2), [1, 1, 0],
    ]).astype(np.uint8)  # fmt: skip
    np.testing.assert_array_equal(epoch_labels(labels, SPEC), [0, 1, 0, 1])
    assert epoch_labels(np.zeros(0, np.uint8), SPEC).shape == (0,)


def test_the_spec_round_trips_and_rejects_bad_values() -> None:
    assert FeatureSpec.from_dict(SPEC.to_dict()) == SPEC
    with pytest.raises(ValueError, match="features version"):
        FeatureSpec.from_dict({**SPEC.to_dict(), "version": 0})
    with pytest.raises(ValueError, match="analysis_s"):
        FeatureSpec(analysis_s=0.5)
    with pytest.raises(ValueError, match="inside 0-128"):
        FeatureSpec(bands_hz=(("gamma", 30.0, 200.0),))


# ------------------------------------------------------------------ the detector module


def _burst(
    seconds: float, start_s: float, end_s: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Noise with a 5 Hz discharge between start_s and end_s, and its 0/1 labels."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SFREQ_HZ)
    t = np.arange(n) / SFREQ_HZ
    inside = (t >= start_s) & (t < end_s)
    signal = rng.standard_normal((19, n))
    signal[:, inside] += 3 * np.sin(2 * np.pi * 5 * t[inside]) * rng.uniform(0.5, 1.5, (19, 1))
    return signal.astype(np.float32), inside.astype(np.uint8)


@pytest.fixture(scope="module")
def booster_model() -> str:
    signal, labels = _burst(180.0, 60.0, 120.0, seed=0)
    params = {"objective": "binary", "min_data_in_leaf": 5, "num_threads": 1, "seed": 0,
              "deterministic": True, "force_row_wise": True, "verbosity": -1}  # fmt: skip
    data = lightgbm.Dataset(extract_features(signal), label=epoch_labels(labels, SPEC))
    return str(lightgbm.train(params, data, num_boost_round=10).model_to_string())


def test_forward_gives_each_sample_its_epochs_probability(booster_model: str) -> None:
    model = FeatureBaseline(booster_model, SPEC).eval()
    n = 60 * SFREQ_HZ + 100  # a last, partial epoch
    windows = np.stack([_burst(n / SFREQ_HZ, 20.0, 50.0, seed=s)[0] for s in (1, 2)])
    with torch.inference_mode():
        logits = model(torch.from_numpy(windows))
    assert logits.shape == (2, n) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    booster = lightgbm.Booster(model_str=booster_model)
    for row in range(2):
        probs = booster.predict(extract_features(windows[row]))
        expected = np.clip(np.repeat(probs, SPEC.hop_n)[:n], 1e-6, 1 - 1e-6)
        np.testing.assert_allclose(torch.sigmoid(logits[row]).numpy(), expected, atol=1e-6)
        # the toy booster learnt the discharge: inside it the probability is higher
        assert probs[25:45].mean() > probs[:15].mean() + 0.5


def test_the_checkpoint_loads_weights_only(booster_model: str, tmp_path: Path) -> None:
    config = load_config(None, ["training.seed=5"])
    path = tmp_path / "baseline.pt"
    save_checkpoint(path, baseline_payload(booster_model, SPEC, config))
    state = torch.load(path, weights_only=True)
    assert state["kind"] == "feature_baseline" and state["booster"] == booster_model
    trained = load_trained(path, torch.device("cpu"))
    assert isinstance(trained.model, FeatureBaseline) and not trained.model.training
    assert trained.config == config and trained.epoch == 0 and trained.calibration is None
    x = torch.from_numpy(_burst(60.0, 10.0, 40.0, seed=3)[0][None])
    with torch.inference_mode():
        expected = FeatureBaseline(booster_model, SPEC)(x)
        assert torch.equal(trained.model(x), expected)
    stale = {**state, "features": {**state["features"], "version": 0}}
    save_checkpoint(path, stale)
    with pytest.raises(ValueError, match="retrain the baseline"):
        load_trained(path, torch.device("cpu"))


# ------------------------------------------------------------------ end to end


def _config_file(corpus: Path, tmp: Path) -> Path:
    sets = [f"data.root={corpus}", f"data.cache_dir={tmp / 'cache'}", "data.workers=2",
            f"output.run_dir={tmp / 'run'}", "training.device=cpu", "training.progress=false",
            "training.seed=3", "evaluation.inference_stride_s=60",
            "evaluation.max_plots=1"]  # fmt: skip
    config = load_config(None, sets)
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


@pytest.mark.slow
def test_bgb_baseline_is_scored_like_the_deep_model(tmp_path: Path) -> None:
    from bgb_data import generate_corpus

    corpus = tmp_path / "corpus"
    generate_corpus(corpus, hours=1.5, seed=4, recording_minutes=(4.0, 8.0))
    out = tmp_path / "baseline"
    result = CliRunner().invoke(cli, ["baseline", str(_config_file(corpus, tmp_path)),
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "OVLP sens" in result.output and f"checkpoint: {out / 'best.pt'}" in result.output
    report = json.loads((out / "eval" / "metrics.json").read_text())
    assert report["thresholds_from"].startswith("checkpoint calibration (dev")
    assert report["n_seizures"] > 0 and report["auroc"] is not None

    # what a user runs: bgb detect at its defaults on the eval EDFs, then bgb score
    edfs = sorted(str(p) for p in (corpus / "edf" / "eval").rglob("*.edf"))
    args = ["detect", *edfs, "--checkpoint", str(out / "best.pt"),
            "--out", str(tmp_path / "detect"), "--device", "cpu"]  # fmt: skip
    detect = CliRunner().invoke(cli, args)
    assert detect.exit_code == 0, detect.output
    reference = tmp_path / "reference"
    reference.mkdir()
    for csv_bi in (corpus / "edf" / "eval").rglob("*.csv_bi"):
        shutil.copy(csv_bi, reference)
    scored_json = tmp_path / "score.json"
    score = CliRunner().invoke(cli, ["score", str(reference), str(tmp_path / "detect"),
                                     "--json", str(scored_json)])  # fmt: skip
    assert score.exit_code == 0, score.output
    point = next(p for p in report["operating_points"] if p["target_fa_per_24h"] == 10)
    expected, got = point["ovlp"], json.loads(scored_json.read_text())["ovlp"]
    assert (got["tp"], got["fn"], got["fp"]) == (expected["tp"], expected["fn"], expected["fp"])
    assert got["fa_per_24h"] == pytest.approx(expected["fa_per_24h"], rel=1e-6, abs=1e-9)
    assert got["sensitivity"] == pytest.approx(expected["sensitivity"])


@pytest.mark.slow
def test_a_train_split_without_seizures_is_refused(tmp_path: Path) -> None:
    from bgb_data import generate_corpus

    corpus = tmp_path / "corpus"
    generate_corpus(corpus, hours=0.15, seed=2, recording_minutes=(1.6, 2.0),
                    no_seizure_share=1.0)  # fmt: skip
    result = CliRunner().invoke(cli, ["baseline", str(_config_file(corpus, tmp_path))])
    assert result.exit_code == 1
    assert "hold no seizure epoch" in result.output
