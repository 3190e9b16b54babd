"""A classical reference detector: per-second EEG features and gradient-boosted trees.

It is scored by the same harness as the deep model (stitched inference, operating points
chosen on dev, ``bgb detect``, ``bgb score``), so its figures say what the deep model adds.

Features, per epoch (one ``hop_s`` step, analysed over the ``analysis_s`` samples centred on
it) and channel: log band powers and relative band powers (Hann-windowed periodogram), log
line length, log variance, rhythmicity (peak over mean power of the spectrum, the peak taken
in the 2.5-7.5 Hz band of rhythmic ictal discharges), dominant frequency and spectral entropy.
They are aggregated over the 19 channels (max, median, mean, std), so the same seizure gives
the same features whichever electrode leads; one more, the mean absolute correlation between
channels, measures spread. Each aggregate comes four times: as is, averaged over the
preceding and over the following ``context_s``, and minus its median over the input (on a
60 s inference window, a local baseline).

References: Shoeb & Guttag, "Application of machine learning to epileptic seizure detection",
ICML 2010; Esteller et al., "Line length: an efficient feature for seizure onset detection",
IEEE EMBS 2001.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import torch

from bgb.checkpoint import save_checkpoint
from bgb.config import RunConfig
from bgb_data import SFREQ_HZ, Manifest, open_labels, open_signal, window_starts

__all__ = [
    "FEATURES_VERSION",
    "FeatureBaseline",
    "FeatureSpec",
    "baseline_payload",
    "epoch_labels",
    "extract_features",
    "feature_names",
    "train_baseline",
]

log = logging.getLogger(__name__)

FEATURES_VERSION = 1
"""Bumped whenever :func:`extract_features` changes; a booster fits only its own version."""

_EPS = 1e-12
"""Floor inside logs and ratios: zero-padded windows (short recordings) have zero power."""
_CHUNK_EPOCHS = 256
"""Epochs analysed at once: (256, 19, 1024) float64 frames are 40 MB."""
_STATS = ("max", "median", "mean", "std")
"""Aggregates over channels, in the order :func:`extract_features` stacks them."""
_CONTEXTS = ("", "past_", "next_", "rel_")


@dataclass(frozen=True)
class FeatureSpec:
    """How signals become feature rows; stored in the checkpoint beside the booster."""

    sfreq_hz: float = SFREQ_HZ
    hop_s: float = 1.0
    """One epoch (one feature row) per hop."""
    analysis_s: float = 4.0
    """Samples analysed per epoch, centred on its hop. 4 s rather than 2 s: 0.25 Hz bins and
    ten or more cycles of a 2.5-3 Hz discharge make delta/theta power and the rhythmicity peak
    reliable, while OVLP scoring and post-processing (>= 3 s events) do not need onsets
    sharper than the +-2 s this smears them by."""
    bands_hz: tuple[tuple[str, float, float], ...] = (
        ("delta", 0.5, 4.0),
        ("theta", 4.0, 8.0),
        ("alpha", 8.0, 13.0),
        ("beta", 13.0, 30.0),
        ("gamma", 30.0, 70.0),
    )
    """(name, low, high): power over bins with low <= f < high; relative to all bands."""
    rhythm_band_hz: tuple[float, float] = (2.5, 7.5)
    """Where the rhythmicity peak is looked for."""
    reference_band_hz: tuple[float, float] = (1.0, 20.0)
    """The peak is divided by the mean power here; the dominant frequency is taken here."""
    context_s: float = 8.0
    """Span of the past and next averages."""

    def __post_init__(self) -> None:
        if self.hop_n <= 0 or not math.isclose(self.hop_n, self.hop_s * self.sfreq_hz):
            raise ValueError(f"hop_s={self.hop_s} is not a whole number of samples")
        extra = self.analysis_n - self.hop_n
        whole = math.isclose(self.analysis_n, self.analysis_s * self.sfreq_hz)
        if extra < 0 or extra % 2 or not whole:
            raise ValueError(
                f"analysis_s={self.analysis_s} must be a whole number of samples, at least "
                "hop_s, exceeding it by an even number of samples"
            )
        nyquist = self.sfreq_hz / 2
        ranges = [(lo, hi) for _, lo, hi in self.bands_hz]
        for lo, hi in [*ranges, self.rhythm_band_hz, self.reference_band_hz]:
            if not 0 <= lo < hi <= nyquist:
                raise ValueError(f"band {lo}-{hi} Hz is not inside 0-{nyquist} Hz")

    @property
    def hop_n(self) -> int:
        return round(self.hop_s * self.sfreq_hz)

    @property
    def analysis_n(self) -> int:
        return round(self.analysis_s * self.sfreq_hz)

    @property
    def context_epochs(self) -> int:
        return max(1, round(self.context_s / self.hop_s))

    def n_epochs(self, n_samples: int) -> int:
        """Epochs for ``n_samples``: ``ceil(n_samples / hop_n)``; the last may be partial."""
        return -(-n_samples // self.hop_n)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples) with the feature code's version."""
        data = asdict(self)
        data["bands_hz"] = [list(band) for band in self.bands_hz]
        data["rhythm_band_hz"] = list(self.rhythm_band_hz)
        data["reference_band_hz"] = list(self.reference_band_hz)
        return {"version": FEATURES_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; refuses another feature version."""
        fields = dict(data)
        version = fields.pop("version", None)
        if version != FEATURES_VERSION:
            raise ValueError(
                f"features version {version}, this bgb computes version {FEATURES_VERSION}; "
                "retrain the baseline with this version (bgb baseline)"
            )
        return cls(
            **{
                **fields,
                "bands_hz": tuple((str(n), float(lo), float(hi)) for n, lo, hi in data["bands_hz"]),
                "rhythm_band_hz": tuple(data["rhythm_band_hz"]),
                "reference_band_hz": tuple(data["reference_band_hz"]),
            }
        )


def _channel_feature_names(spec: FeatureSpec) -> list[str]:
    bands = [name for name, _, _ in spec.bands_hz]
    return [
        *(f"log_power_{b}" for b in bands),
        *(f"rel_power_{b}" for b in bands),
        "log_line_length",
        "log_variance",
        "rhythmicity",
        "dominant_freq_hz",
        "spectral_entropy",
    ]


def feature_names(spec: FeatureSpec) -> list[str]:
    """Column names of :func:`extract_features`, e.g. ``past_max_log_power_theta``."""
    per_epoch = [f"{s}_{f}" for f in _channel_feature_names(spec) for s in _STATS]
    per_epoch.append("mean_abs_correlation")
    return [f"{context}{name}" for context in _CONTEXTS for name in per_epoch]


def _frames(signal: np.ndarray, spec: FeatureSpec) -> Iterator[np.ndarray]:
    """Each epoch's analysis samples, a chunk of epochs at a time.

    Epoch k's hop is samples [k hop_n, (k+1) hop_n); its frame the analysis_n samples
    centred on that hop, the signal reflected beyond its ends.

    Shapes: signal (C, n) -> chunks (E_chunk, C, analysis_n) float64.
    """
    n = signal.shape[1]
    n_epochs = spec.n_epochs(n)
    side = (spec.analysis_n - spec.hop_n) // 2
    right = n_epochs * spec.hop_n - n + side
    padded = np.pad(np.asarray(signal), ((0, 0), (side, right)), mode="reflect")
    views = np.lib.stride_tricks.sliding_window_view(padded, spec.analysis_n, axis=1)
    views = views[:, :: spec.hop_n]  # (C, E, W)
    for first in range(0, n_epochs, _CHUNK_EPOCHS):
        yield views[:, first : first + _CHUNK_EPOCHS].transpose(1, 0, 2).astype(np.float64)


def _band_mask(freqs: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    return (freqs >= band[0]) & (freqs < band[1])


def _channel_features(frames: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Per-channel features of each frame.

    Shapes: frames (E, C, W) -> (E, C, F_channel), columns as ``_channel_feature_names``.
    """
    n = frames.shape[-1]
    # 1. One-sided power spectral density (units^2/Hz) of the demeaned, Hann-windowed frame
    #    (periodic Hann), so that a sine of amplitude A has band power A^2 / 2.
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    centred = frames - frames.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred * hann, axis=-1)  # (E, C, K)
    psd = 2 * np.abs(spectrum) ** 2 / (spec.sfreq_hz * np.sum(hann**2))
    freqs = np.fft.rfftfreq(n, 1 / spec.sfreq_hz)
    df_hz = spec.sfreq_hz / n
    # 2. Band powers, absolute (log) and relative to all bands together.
    powers = np.stack(
        [psd[..., _band_mask(freqs, (lo, hi))].sum(-1) * df_hz for _, lo, hi in spec.bands_hz],
        axis=-1,
    )  # (E, C, B)
    relative = powers / (powers.sum(-1, keepdims=True) + _EPS)
    # 3. Time-domain: line length per second and variance.
    line_length = np.abs(np.diff(frames, axis=-1)).mean(-1) * spec.sfreq_hz  # (E, C)
    variance = frames.var(axis=-1)
    # 4. Rhythmicity: the highest bin in the ictal band over the mean of the reference band;
    #    the dominant (highest) frequency of the reference band.
    reference = _band_mask(freqs, spec.reference_band_hz)
    peak = psd[..., _band_mask(freqs, spec.rhythm_band_hz)].max(-1)
    rhythmicity = np.log((peak + _EPS) / (psd[..., reference].mean(-1) + _EPS))
    dominant_hz = freqs[reference][np.argmax(psd[..., reference], axis=-1)]
    # 5. Spectral entropy over all bands, in [0, 1] (1: white, 0: one bin).
    low, high = spec.bands_hz[0][1], spec.bands_hz[-1][2]
    p = psd[..., _band_mask(freqs, (low, high))]
    p = p / (p.sum(-1, keepdims=True) + _EPS)
    entropy = -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1) / np.log(p.shape[-1])
    columns = [np.log(powers + _EPS), relative]
    scalars = [np.log(line_length + _EPS), np.log(variance + _EPS), rhythmicity, dominant_hz]
    columns += [c[..., None] for c in [*scalars, entropy]]
    return np.concatenate(columns, axis=-1)


def _mean_abs_correlation(frames: np.ndarray) -> np.ndarray:
    """Mean |Pearson r| over the channel pairs of each frame. Shapes: (E, C, W) -> (E,)."""
    centred = frames - frames.mean(axis=-1, keepdims=True)
    norms = np.sqrt(np.sum(centred**2, axis=-1))  # (E, C)
    covariance = centred @ centred.transpose(0, 2, 1)  # (E, C, C)
    r = covariance / (norms[:, :, None] * norms[:, None, :] + _EPS)
    n_channels = frames.shape[1]
    diagonal = np.abs(np.diagonal(r, axis1=1, axis2=2)).sum(-1)  # (E,)
    mean_r: np.ndarray = (np.abs(r).sum((1, 2)) - diagonal) / (n_channels * (n_channels - 1))
    return mean_r


def _window_means(values: np.ndarray, span: int, past: bool) -> np.ndarray:
    """Mean of each row over itself and up to ``span`` rows before it (``past``) or after it,
    fewer at the input's ends. Shapes: (E, F) -> (E, F)."""
    rows = values if past else values[::-1]
    sums = np.cumsum(np.concatenate([np.zeros_like(rows[:1]), rows]), axis=0)  # (E + 1, F)
    ends = np.arange(1, len(rows) + 1)
    starts = np.maximum(ends - span - 1, 0)
    means: np.ndarray = (sums[ends] - sums[starts]) / (ends - starts)[:, None]
    return means if past else means[::-1]


def extract_features(signal: np.ndarray, spec: FeatureSpec | None = None) -> np.ndarray:
    """Feature rows of a cache signal, one per epoch (``spec.hop_s``).

    ``spec.n_epochs(n) = ceil(n / hop_n)`` rows; row k describes samples [k hop_n,
    (k+1) hop_n). An input shorter than the analysis window is reflected to fill it.

    Shapes: signal (19, n) float32 at ``spec.sfreq_hz`` -> (n_epochs, len(feature_names))
    float32.
    """
    spec = FeatureSpec() if spec is None else spec
    n_features = len(feature_names(spec))
    if signal.shape[1] == 0:
        return np.zeros((0, n_features), dtype=np.float32)
    rows = []
    for frames in _frames(signal, spec):  # (E, C, W)
        per_channel = _channel_features(frames, spec)  # (E, C, F_channel)
        stats = [
            per_channel.max(axis=1),
            np.median(per_channel, axis=1),
            per_channel.mean(axis=1),
            per_channel.std(axis=1),
        ]  # each (E, F_channel)
        aggregated = np.stack(stats, axis=-1).reshape(len(frames), -1)  # (E, F_channel * 4)
        rows.append(np.concatenate([aggregated, _mean_abs_correlation(frames)[:, None]], axis=1))
    base = np.concatenate(rows)  # (E, F_epoch)
    span = spec.context_epochs
    past, future = _window_means(base, span, past=True), _window_means(base, span, past=False)
    relative = base - np.median(base, axis=0, keepdims=True)
    return np.concatenate([base, past, future, relative], axis=1).astype(np.float32)


def epoch_labels(labels: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """1 where more than half of an epoch's hop samples are seizure (of the samples it has,
    for a last partial hop). Shapes: (n,) 0/1 -> (n_epochs,) int8."""
    starts = np.arange(0, len(labels), spec.hop_n)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int8)
    seizure = np.add.reduceat(np.asarray(labels, dtype=np.int64), starts)
    lengths = np.minimum(starts + spec.hop_n, len(labels)) - starts
    return (2 * seizure > lengths).astype(np.int8)


class FeatureBaseline(torch.nn.Module):
    """A LightGBM booster over :func:`extract_features`, as a detector: samples in, logits out.

    It has no parameters; every sample gets its epoch's probability (a step function over
    hops, exactly what the booster gave), clipped to [1e-6, 1 - 1e-6] so its logit is finite.
    """

    def __init__(self, booster_model: str, spec: FeatureSpec) -> None:
        super().__init__()
        self.booster = lightgbm.Booster(model_str=booster_model)
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample seizure logits.

        Shapes:
            x: (B, 19, n) -> (B, n) float32, on x's device.
        """
        signals = x.detach().float().cpu().numpy()  # (B, 19, n)
        n = signals.shape[-1]
        n_epochs = self.spec.n_epochs(n)
        features = np.concatenate([extract_features(s, self.spec) for s in signals])
        probs = np.asarray(self.booster.predict(features)).reshape(len(signals), n_epochs)
        per_sample = np.repeat(probs, self.spec.hop_n, axis=1)[:, :n]  # (B, n)
        p = np.clip(per_sample, 1e-6, 1 - 1e-6)
        logits = (np.log(p) - np.log1p(-p)).astype(np.float32)
        return torch.from_numpy(logits).to(x.device)


def baseline_payload(
    booster_model: str, spec: FeatureSpec, config: RunConfig, summary: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The checkpoint of a baseline, plain data that loads with ``weights_only=True``."""
    return {
        "kind": "feature_baseline",
        "booster": booster_model,
        "features": spec.to_dict(),
        "config": config.model_dump(mode="json"),
        "epoch": 0,
        "calibration": None,
        "training": summary or {},
    }


_BOOSTER_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": ["average_precision", "binary_logloss"],
    "first_metric_only": True,  # early stopping on dev average precision
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,  # with deterministic: the same trees on every run
    "verbosity": -1,
}
_MAX_ROUNDS = 400
_EARLY_STOPPING_ROUNDS = 40
_LOG_EVERY_ROUNDS = 50


@dataclass
class _SplitFeatures:
    features: np.ndarray
    """(n_epochs, n_features) float32, all recordings of the split one after another."""
    labels: np.ndarray
    """(n_epochs,) int8, :func:`epoch_labels`."""
    n_recordings: int


def _split_features(
    config: RunConfig, cache_dir: Path, split: str, spec: FeatureSpec
) -> _SplitFeatures:
    """Features and labels of every usable recording of ``split``.

    They are computed over the windows inference feeds the model (``data.window_s``, a
    recording shorter than one zero-padded), not over whole recordings: the context features
    (past/next means, minus the median) depend on the input's extent, so training on other
    extents would train on another distribution. Windows are laid end to end (the last one
    ending on the last sample), which puts every epoch at every position of a window as
    overlapping inference windows do, at a fraction of their rows.
    """
    started = time.perf_counter()
    window_n = round(config.data.window_s * spec.sfreq_hz)
    entries = Manifest.load(cache_dir).select(split=split)
    features, labels = [], []
    for entry in entries:
        signal, seizure = open_signal(cache_dir, entry), open_labels(cache_dir, entry)
        n = signal.shape[1]
        for start in window_starts(max(n, window_n), window_n, window_n):
            end = min(start + window_n, n)
            window = np.zeros((signal.shape[0], window_n), dtype=np.float32)
            window[:, : end - start] = signal[:, start:end]
            # rows of the zero padding past a short recording's end are not scored: dropped
            features.append(extract_features(window, spec)[: spec.n_epochs(end - start)])
            labels.append(epoch_labels(seizure[start:end], spec))
    n_features = len(feature_names(spec))
    result = _SplitFeatures(
        features=np.concatenate(features) if features else np.zeros((0, n_features), np.float32),
        labels=np.concatenate(labels) if labels else np.zeros(0, np.int8),
        n_recordings=len(entries),
    )
    log.info(
        "%s: %d recordings, %d epochs (%d seizure) in %.1f s",
        split, len(entries), len(result.labels), int(result.labels.sum()),
        time.perf_counter() - started,
    )  # fmt: skip
    return result


def _log_progress(env: lightgbm.callback.CallbackEnv) -> None:
    done = env.iteration + 1
    if done % _LOG_EVERY_ROUNDS and done != env.end_iteration:
        return
    scores = ", ".join(f"{e[0]} {e[1]} {e[2]:.4f}" for e in env.evaluation_result_list or [])
    log.info("round %d of at most %d%s", done, env.end_iteration, f": {scores}" * bool(scores))


def train_baseline(
    config: RunConfig, cache_dir: Path, out_path: Path, spec: FeatureSpec | None = None
) -> Path:
    """Fit the booster on the train split's epochs and write its checkpoint to ``out_path``.

    Seizure epochs are weighted by background / seizure epochs (``scale_pos_weight``); up to
    400 trees, stopped early on dev's average precision when dev holds both classes. Seeded
    by ``training.seed``, ``data.workers`` threads, deterministic.

    Raises:
        ValueError: the train split has no usable recordings, or no seizure epoch.
    """
    spec = FeatureSpec() if spec is None else spec
    started = time.perf_counter()
    train = _split_features(config, cache_dir, "train", spec)
    if train.n_recordings == 0:
        raise ValueError(f"{cache_dir}: the train split has no usable recordings to fit on")
    n_seizure = int(train.labels.sum())
    if n_seizure == 0:
        raise ValueError(
            f"{cache_dir}: the {train.n_recordings} train recordings hold no seizure epoch "
            f"(a {spec.hop_s:g} s hop more than half seizure); the baseline needs some"
        )
    params = {
        **_BOOSTER_PARAMS,
        "scale_pos_weight": (len(train.labels) - n_seizure) / n_seizure,
        "seed": config.training.seed,
        "num_threads": config.data.workers,
    }
    names = feature_names(spec)
    train_set = lightgbm.Dataset(train.features, label=train.labels, feature_name=names)
    dev = _split_features(config, cache_dir, "dev", spec)
    callbacks = [_log_progress]
    valid_sets = []
    if 0 < dev.labels.sum() < len(dev.labels):
        valid_sets.append(lightgbm.Dataset(dev.features, label=dev.labels, reference=train_set))
        callbacks.append(lightgbm.early_stopping(_EARLY_STOPPING_ROUNDS, verbose=False))
    else:
        log.warning("dev holds no epochs of both classes: %d trees, no early stopping", _MAX_ROUNDS)
    booster = lightgbm.train(
        params,
        train_set,
        _MAX_ROUNDS,
        valid_sets=valid_sets,
        valid_names=["dev"] * len(valid_sets),
        callbacks=callbacks,
    )
    rounds = booster.best_iteration or booster.current_iteration()
    summary = {
        "train_recordings": train.n_recordings,
        "train_epochs": len(train.labels),
        "train_seizure_epochs": n_seizure,
        "dev_epochs": len(dev.labels),
        "trees": rounds,
        "seconds": time.perf_counter() - started,
    }
    log.info("booster: %d trees, fitted in %.1f s", rounds, summary["seconds"])
    payload = baseline_payload(booster.model_to_string(num_iteration=rounds), spec, config, summary)
    save_checkpoint(out_path, payload)
    return out_path
