"""The run configuration: one typed, validated schema for train, evaluate and detect.

Sections ``data``, ``training``, ``evaluation`` and ``output`` are the app's own; ``model``
and ``postprocessing`` are the packages' configs (``bgb_model.DetectorConfig``,
``bgb_post.PostprocessConfig``) validated strictly through :mod:`bgb.config._bridge`.
Relative paths are taken relative to the working directory the command runs in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from bgb.config._bridge import validate_dataclass
from bgb_data import SFREQ_HZ
from bgb_model import DetectorConfig
from bgb_post import PostprocessConfig

__all__ = [
    "ConfigError",
    "DataConfig",
    "EvaluationConfig",
    "ModelSection",
    "OutputConfig",
    "RunConfig",
    "SyntheticConfig",
    "TrainingConfig",
]


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says where and what to change."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class SyntheticConfig(_Section):
    """Generate a synthetic corpus in TUSZ layout into ``data.root`` when it holds none."""

    hours: float = Field(default=8.0, gt=0)
    """Total hours of EEG to synthesise, over all splits."""
    seed: int = 0
    """Seed of the generator; the same seed writes the same files."""
    profile: Literal["basic", "clinical"] = "basic"
    """``basic`` (the demo's corpus) or ``clinical`` (see ``bgb synth --profile``)."""


class DataConfig(_Section):
    """Where the recordings are and how the cache is built."""

    root: Path | None = None
    """TUSZ v2.0.x root: the folder that holds ``edf/{train,dev,eval}``."""
    cache_dir: Path = Path("cache/tusz")
    """Folder of the preprocessed cache and its ``manifest.json``."""
    synthetic: SyntheticConfig | None = None
    """When set, a synthetic corpus is generated into ``root`` if ``root/edf`` is absent."""
    limit_files: int | None = Field(default=None, gt=0)
    """Use at most this many recordings per split (env ``BGB_LIMIT_FILES``)."""
    workers: int = Field(default=1, ge=1)
    """Processes that build the cache in parallel."""
    force_rebuild: bool = False
    """Rebuild every cached recording and the manifest (env ``BGB_FORCE_MANIFEST_REBUILD``)."""
    window_s: float = Field(default=60.0, gt=0)
    """Length of one model input window, seconds."""
    stride_s: float = Field(default=10.0, gt=0)
    """Step between training windows, seconds."""


class AugmentConfig(_Section):
    """Random transforms of each training window (see ``bgb.training.augment``); the
    defaults change nothing."""

    gain: tuple[float, float] = (1.0, 1.0)
    """Range of the log-uniform factor scaling a whole window."""
    channel_gain: tuple[float, float] = (1.0, 1.0)
    """Range of the log-uniform factor scaling each electrode of a window."""
    sign_flip: float = Field(default=0.0, ge=0, le=1)
    """Probability of inverting a window's polarity."""
    mirror: float = Field(default=0.0, ge=0, le=1)
    """Probability of exchanging a window's left and right electrodes."""
    channel_dropout: float = Field(default=0.0, ge=0, lt=1)
    """Probability of zeroing each electrode of a window."""
    rhythm: float = Field(default=0.0, ge=0, le=1)
    """Probability of adding a bilaterally symmetric background rhythm to a window."""
    rhythm_hz: tuple[float, float] = (4.0, 13.0)
    """Range of the added rhythm's centre frequency (uniform), Hz."""
    rhythm_width_hz: tuple[float, float] = (0.3, 1.5)
    """Range of its half-bandwidth (uniform), Hz: narrow like an alpha rhythm, broad like
    drowsy theta."""
    rhythm_amplitude: tuple[float, float] = (0.5, 2.0)
    """Range of its RMS amplitude at its largest site (log-uniform), in the cache's units
    (each electrode's robust standard deviation)."""

    @pydantic.model_validator(mode="after")
    def _ranges(self) -> AugmentConfig:
        for name in ("gain", "channel_gain", "rhythm_hz", "rhythm_width_hz", "rhythm_amplitude"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"augment.{name} must be a range 0 < low <= high")
        low_hz, high_hz = (
            self.rhythm_hz[0] - self.rhythm_width_hz[1],
            self.rhythm_hz[1] + self.rhythm_width_hz[1],
        )
        if low_hz <= 0 or high_hz > SFREQ_HZ / 2 - 1.0:
            raise ValueError(
                f"augment.rhythm_hz widened by rhythm_width_hz spans {low_hz:g}-{high_hz:g} Hz; "
                f"it must lie above 0 and at most 1 Hz below the cache's Nyquist frequency "
                f"({SFREQ_HZ / 2 - 1.0:g} Hz)"
            )
        return self

    @property
    def enabled(self) -> bool:
        """Whether any transform can change a window."""
        return (
            self.gain != (1.0, 1.0)
            or self.channel_gain != (1.0, 1.0)
            or self.sign_flip > 0
            or self.mirror > 0
            or self.channel_dropout > 0
            or self.rhythm > 0
        )


class TrainingConfig(_Section):
    """Optimisation, sampling, precision and stopping."""

    epochs: int = Field(default=100, ge=1)
    """Maximum number of epochs."""
    batch_size: int = Field(default=8, ge=1)
    """Windows per optimiser step."""
    learning_rate: float = Field(default=5e-5, gt=0)
    """Peak learning rate of AdamW, reached after warm-up."""
    weight_decay: float = Field(default=0.01, ge=0)
    """AdamW decoupled weight decay, applied to weight matrices only (not norms, biases, SSM
    scalars)."""
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    """Share of the planned optimiser steps (epochs x steps per epoch) spent warming the
    learning rate up linearly; ``warmup_steps`` replaces it when set."""
    warmup_steps: int | None = Field(default=None, ge=0)
    """Length of the linear warm-up in optimiser steps (null: ``warmup_fraction`` of the
    planned steps). Epochs that end inside the warm-up do not count towards ``patience``."""
    min_lr_ratio: float = Field(default=0.01, ge=0, le=1)
    """Cosine decay ends at learning_rate * min_lr_ratio."""
    ema_decay: float | None = Field(default=None, gt=0, lt=1)
    """Keep an exponential moving average of the weights (and BatchNorm statistics), updated
    after every optimiser step with this decay (null: none). When set, dev is evaluated with
    the averaged weights, and those are the ``model`` of ``best.pt`` and ``last.pt`` that
    evaluation and detection load; the raw weights travel in the checkpoint for resuming.
    0.98 averages over about the last 50 steps."""
    grad_clip_norm: float | None = Field(default=1.0, gt=0)
    """Clip the global gradient norm to this value (null: no clipping)."""
    mixed_precision: bool = False
    """Autocast the forward pass: bf16 where the device supports it, else fp16 with a scaler."""
    float64: bool = False
    """Train (and validate) in float64: several times slower, for checking that two setups
    (one process and several, two machines) run the same training up to float64 rounding,
    which float32 rounding amplified by Adam's per-element normalisation would blur."""
    num_workers: int = Field(default=0, ge=0)
    """DataLoader worker processes that read windows from the cache. They live for the whole
    run (persistent), each keeps its own bounded set of open recordings, and each prefetches
    ``prefetch_batches`` batches; on CUDA, batches come in pinned memory."""
    prefetch_batches: int = Field(default=4, ge=1)
    """Batches each DataLoader worker reads ahead (ignored with ``num_workers: 0``)."""
    activation_checkpointing: bool = False
    """Keep only block inputs during the forward pass and recompute each block's activations
    in the backward pass: about a third more compute for a fraction of the activation memory
    (figures in packages/bgb-model/README.md, "Training memory"). Gradients are unchanged."""
    seed: int = 42
    """Seed of every random generator of the run."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: ``auto`` takes CUDA when present."""
    focal_alpha: float = Field(default=0.25, ge=0, le=1)
    """Focal loss weight of the seizure class (1 - alpha for background)."""
    focal_gamma: float = Field(default=2.0, ge=0)
    """Focal loss focusing exponent (0 gives weighted cross-entropy)."""
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    """Training-time transforms of the windows (none by default)."""
    balanced_sampling: bool = True
    """Redraw each epoch's windows so that ``seizure_share`` of them hold seizure."""
    seizure_share: float = Field(default=0.5, gt=0, lt=1)
    """Share of seizure-bearing windows in a balanced epoch."""
    seizure_draw: Literal["window", "event"] = "window"
    """How a balanced epoch draws its windows with seizure: ``window``, uniformly over them
    (long seizures fill most draws); ``event``, so that every seizure is equally likely to be
    drawn whatever its length (``bgb_data.BalancedSampler(per_event=True)``)."""
    hard_negative_share: float = Field(default=0.0, ge=0, lt=1)
    """Share of each balanced epoch's windows without seizure that are hard negatives: before
    the epoch, the current weights (the averaged ones with ``ema_decay``) score a random pool
    of windows without seizure, and the highest-scoring ones join the epoch's draw. 0 (the
    default) draws them all uniformly. They are the artifacts, mimics and post-ictal stretches
    that would become false alarms (README, "Unseen corpora")."""
    hard_negative_pool: float = Field(default=3.0, ge=1)
    """Pool scored for hard negatives, as a multiple of their number (at most every window
    without seizure of the training split)."""
    hard_negative_from_epoch: int = Field(default=3, ge=1)
    """First epoch (counted from 1) whose draw includes hard negatives; before it the weights
    have not yet learned what to rank."""
    windows_per_epoch: int | None = Field(default=None, ge=1)
    """Windows drawn per epoch (null: as many as the training split has). An epoch is the unit
    between dev evaluations, checkpoints and patience; on TUSZ a bounded epoch keeps that
    rhythm independent of the corpus size (see configs/local/train.yaml)."""
    max_steps_per_epoch: int | None = Field(default=None, ge=1)
    """Stop each epoch after this many optimiser steps (null: the whole epoch)."""
    patience: int = Field(default=5, ge=1)
    """Dev evaluations (``evaluation.dev_every_epochs``) without a better dev sensitivity at
    ``evaluation.early_stopping_fa`` (ties broken by the sensitivity at the stricter
    ``evaluation.fa_targets``) before stopping. Counting starts once the warm-up has ended
    and some epoch has found seizures (sensitivity above 0) at the target."""
    checkpoint_every_steps: int | None = Field(default=None, ge=1)
    """Also write ``last.pt`` every this many steps inside an epoch (null: once per epoch)."""
    smoke_test: bool = False
    """Quick check of the pipeline (env ``BGB_SMOKE_TEST``): one epoch of at most 10 steps,
    uniform rather than balanced sampling."""
    nan_debug: bool = False
    """Anomaly detection and a fuller dump when the loss is not finite (env ``BGB_NAN_DEBUG``)."""
    progress: bool = True
    """Show progress bars (off with env ``BGB_DISABLE_TQDM=1``, and when not on a terminal)."""

    @pydantic.model_validator(mode="after")
    def _check_precision(self) -> TrainingConfig:
        if self.float64 and self.mixed_precision:
            raise ValueError("float64 and mixed_precision exclude each other; set one")
        if self.hard_negative_share > 0 and not self.balanced_sampling:
            raise ValueError("hard_negative_share needs balanced_sampling: true")
        return self


class EvaluationConfig(_Section):
    """Whole-recording validation and the final report."""

    fa_targets: tuple[float, ...] = (10.0, 5.0, 2.5, 1.0)
    """False alarms per 24 h at which sensitivity is reported."""
    early_stopping_fa: float = Field(default=10.0, gt=0)
    """Early stopping watches dev OVLP sensitivity at this many FA/24h."""
    dev_every_epochs: int = Field(default=1, ge=1)
    """Evaluate dev (and so choose operating points, rank for early stopping and write
    ``best.pt``) after every this many epochs, and after the last; patience counts
    evaluations. On the CPU demo a dev evaluation costs about half as much as an epoch's
    training (README, "Unseen corpora")."""
    select_by: Literal["sensitivity", "pr_auc"] = "sensitivity"
    """How dev evaluations are ranked for ``best.pt`` and patience. ``sensitivity``: the OVLP
    sensitivity at ``early_stopping_fa``, ties broken at the stricter ``fa_targets``.
    ``pr_auc``: the area under the precision-recall curve of the dev samples, ties broken as
    ``sensitivity`` ranks; it moves with the separation of every seizure sample from every
    background sample, where a sensitivity moves in steps of one seizure and with one false
    alarm more or less (README, "Unseen corpora")."""
    first_dev_epoch: int = Field(default=1, ge=1)
    """First epoch (counted from 1) that dev evaluates: epochs before it are neither evaluated
    nor candidates for ``best.pt``, and patience does not count them. The last epoch is always
    evaluated. In a short run the first evaluations rank weights that have seen a fraction of
    the data, and a lucky one can outlast the rest (README, "Unseen corpora")."""
    n_thresholds: int = Field(default=50, ge=2)
    """Thresholds in the operating-point sweep, evenly spaced over (0, 1); six more between
    0.995 and 0.9999 keep strict points for detectors whose scores saturate."""
    inference_stride_s: float | None = Field(default=None, gt=0)
    """Step between windows when stitching whole recordings, at most ``data.window_s``;
    overlaps are averaged. Unset: the window length, so every sample is computed once (half
    overlap measured no better; README, "Inference stride")."""
    batch_size: int | None = Field(default=None, ge=1)
    """Windows per forward pass during inference; unset: 16 on CUDA, 1 on CPU, where batches
    of full-sized windows measured about twice as slow per window and five times the memory
    (apps/bgb-cli/README.md). Checkpoints written before this default store 16 explicitly."""
    after_training: bool = True
    """After training, evaluate the best checkpoint on the eval split with thresholds frozen
    on dev."""
    max_plots: int = Field(default=8, ge=0)
    """Per-recording probability plots written by the report."""


class OutputConfig(_Section):
    """Where a run writes checkpoints, logs and reports."""

    run_dir: Path = Path("runs/default")
    """Folder of ``best.pt``, ``last.pt``, ``metrics.csv``, TensorBoard logs and reports."""


class ModelSection(_Section):
    """Which detector to build: a preset, then any field of ``bgb_model.DetectorConfig``."""

    preset: Literal["default", "small"] = "default"
    """``default``: the original design's sizes; ``small``: the same architecture, CPU-sized."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Nested fields of DetectorConfig that replace the preset's values."""
    backend: Literal["auto", "kernel", "torch"] = "auto"
    """Mamba2 scan for training: "kernel" (mamba-ssm's CUDA kernels; training stops before any
    work when they cannot run), "torch" (the exact pure-PyTorch scan, any device) or "auto"
    (the kernels on CUDA when importable, else torch, with a warning on CUDA). Parameters are
    the same for all three, so evaluation and detection pick their own (``auto``)."""

    def build(self) -> DetectorConfig:
        """The validated detector configuration."""
        base = DetectorConfig() if self.preset == "default" else DetectorConfig.small()
        merged = _deep_merge(base.to_dict(), self.overrides)
        return validate_dataclass(DetectorConfig, merged)

    @pydantic.model_validator(mode="after")
    def _check_overrides(self) -> ModelSection:
        self.build()
        return self


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class RunConfig(_Section):
    """Everything a ``bgb train`` / ``bgb evaluate`` / ``bgb detect`` run needs."""

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelSection = Field(default_factory=ModelSection)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    postprocessing: dict[str, Any] = Field(default_factory=dict)
    """Fields of ``bgb_post.PostprocessConfig`` (hysteresis, morphology, duration rule)."""
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @pydantic.field_validator("postprocessing")
    @classmethod
    def _check_postprocessing(cls, value: dict[str, Any]) -> dict[str, Any]:
        validate_dataclass(PostprocessConfig, value)
        return value

    @pydantic.model_validator(mode="after")
    def _check_stride(self) -> RunConfig:
        # At load, so that a mismatch fails before training rather than at the first dev pass.
        self.inference_stride_s()
        return self

    def inference_stride_s(self) -> float:
        """Seconds between window starts in whole-recording inference.

        Raises:
            ConfigError: a stride longer than the window (samples would get no prediction).
        """
        stride = self.evaluation.inference_stride_s
        if stride is None:
            return self.data.window_s
        if stride > self.data.window_s:
            raise ConfigError(
                f"evaluation.inference_stride_s {stride:g} s is longer than data.window_s "
                f"{self.data.window_s:g} s: samples between windows would get no prediction"
            )
        return stride

    def detector_config(self) -> DetectorConfig:
        """The detector configuration of this run."""
        return self.model.build()

    def postprocess_config(self) -> PostprocessConfig:
        """The post-processing configuration of this run."""
        return validate_dataclass(PostprocessConfig, self.postprocessing)
