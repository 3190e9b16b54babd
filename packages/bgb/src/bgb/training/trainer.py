"""The training loop: balanced epochs, focal loss, AdamW + warm-up/cosine, whole-recording
validation with early stopping, atomic checkpoints and exact resume."""

from __future__ import annotations

import csv
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from bgb.calibration import Calibration, calibration_from_sweep, read_calibration
from bgb.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from bgb.config import RunConfig, TrainingConfig
from bgb.evaluation import predict_split, sample_ranking, sweep_split
from bgb.inference import autocast_context, inference_batch_size, resolve_device
from bgb.training.augment import augment_batch
from bgb.training.data import EpochPosition, IndexedWindows, make_sampler
from bgb.training.distributed import (
    DistributedContext,
    NullWriter,
    local_batch_size,
    mean_across_ranks,
    run_on_main,
    shard,
    wrap_model,
)
from bgb.training.losses import focal_loss
from bgb.training.optim import build_optimizer, build_scheduler
from bgb_data import BalancedSampler, WindowDataset
from bgb_model import Detector

__all__ = ["NonFiniteLossError", "TrainResult", "Trainer", "config_differences"]

log = logging.getLogger(__name__)
SMOKE_MAX_STEPS = 10


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the batch's recordings."""


@dataclass
class TrainResult:
    """What a finished (or early-stopped) run produced."""

    run_dir: Path
    epochs_run: int
    best_epoch: int | None
    best_metric: float | None
    stopped_early: bool
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """One training run of the detector described by a :class:`RunConfig`."""

    def __init__(
        self,
        config: RunConfig,
        cache_dir: Path,
        *,
        echo: Callable[[str], None] = log.info,
        distributed: DistributedContext | None = None,
    ) -> None:
        """``distributed``: this process's rank under torchrun (see
        :mod:`bgb.training.distributed`), None for a single process."""

        self.config = config
        self.cache_dir = cache_dir
        self.echo = echo
        self.run_dir = config.output.run_dir
        training = config.training
        self.device = resolve_device(training.device)
        self.progress = training.progress and sys.stderr.isatty()
        # several processes (torchrun): rank 0 alone validates, writes and reports
        self.distributed = distributed
        self.is_main = distributed is None or distributed.is_main
        if distributed is not None:
            self.device = distributed.device
            self.progress = self.progress and self.is_main
            self.echo = echo if self.is_main else log.debug
        self.batch_size = local_batch_size(training.batch_size, distributed)
        self.epochs = 1 if training.smoke_test else training.epochs
        torch.manual_seed(training.seed)
        random.seed(training.seed)
        self.dtype = torch.float64 if training.float64 else torch.float32
        self.model = Detector(config.detector_config(), backend=config.model.backend).to(
            self.device, self.dtype
        )
        self.model.set_activation_checkpointing(training.activation_checkpointing)
        self.train_model = wrap_model(self.model, distributed)
        self.ema = None if training.ema_decay is None else weight_average(self.model, training)
        self.windows = IndexedWindows(
            WindowDataset(
                cache_dir, "train", window_s=config.data.window_s, stride_s=config.data.stride_s
            )
        )
        if len(self.windows) == 0:
            raise ValueError(f"the train split of {cache_dir} has no usable window")
        self.draw = make_sampler(config, self.windows.windows)  # the whole epoch's draw
        self.sampler = shard(self.draw, distributed)  # this rank's part of it
        self.steps_per_epoch = self._steps_per_epoch()
        self.position = EpochPosition(self.sampler, self.batch_size, self.steps_per_epoch)
        self.total_steps = self.epochs * self.steps_per_epoch
        self.warmup_steps = self._warmup_steps()
        self.optimizer = build_optimizer(self.model, training.learning_rate, training.weight_decay)
        self.scheduler = build_scheduler(
            self.optimizer, self.total_steps, self.warmup_steps, training.min_lr_ratio
        )
        use_fp16 = (
            training.mixed_precision
            and self.device.type == "cuda"
            and not torch.cuda.is_bf16_supported()
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_fp16)
        self.calibration: Calibration | None = None
        self.epoch = 0
        self.step = 0
        self.step_in_epoch = 0
        self.epoch_losses: list[float] = []
        self.best_metric: float | None = None
        self.best_key: tuple[float, ...] | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.history: list[dict[str, Any]] = []
        self.hard_negatives: list[int] = []  # those of the current epoch

    @property
    def evaluated_model(self) -> Detector:
        """The weights that dev evaluation and the checkpoints' ``model`` use: the moving
        average when ``training.ema_decay`` is set, else the optimised weights."""
        if self.ema is None:
            return self.model
        averaged = self.ema.module
        assert isinstance(averaged, Detector)
        return averaged

    def _steps_per_epoch(self) -> int:
        steps = math.ceil(len(self.sampler) / self.batch_size)
        limit = self.config.training.max_steps_per_epoch
        if self.config.training.smoke_test:
            limit = min(limit or SMOKE_MAX_STEPS, SMOKE_MAX_STEPS)
        return min(steps, limit) if limit else steps

    def _warmup_steps(self) -> int:
        """``training.warmup_steps``, else ``warmup_fraction`` of the planned steps.

        Raises:
            ValueError: the warm-up would not end before the last planned step.
        """
        training = self.config.training
        if training.warmup_steps is None:
            return round(training.warmup_fraction * self.total_steps)
        if training.smoke_test:  # a smoke run's 10 steps: warm up over half of them at most
            return min(training.warmup_steps, self.total_steps // 2)
        if training.warmup_steps >= self.total_steps:
            raise ValueError(
                f"training.warmup_steps={training.warmup_steps} does not end before the "
                f"{self.total_steps} planned steps ({self.epochs} epochs of "
                f"{self.steps_per_epoch}); lower it or plan more steps"
            )
        return training.warmup_steps

    # ------------------------------------------------------------------ checkpoints
    def _payload(self) -> dict[str, Any]:
        return {
            "format": 1,
            "config": self.config.model_dump(mode="json"),
            "detector_config": self.config.detector_config().to_dict(),
            "model": self.evaluated_model.state_dict(),
            "train_weights": None if self.ema is None else self.model.state_dict(),
            "ema_updates": None if self.ema is None else int(self.ema.n_averaged),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": capture_rng(),
            "epoch": self.epoch,
            "step": self.step,
            "step_in_epoch": self.step_in_epoch,
            "epoch_losses": self.epoch_losses,
            "best_metric": self.best_metric,
            "best_key": None if self.best_key is None else list(self.best_key),
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "hard_negatives": self.hard_negatives,
        }

    def resume(self, path: Path, explicit: Collection[str] = ()) -> None:
        """Continue from a ``last.pt`` written by this configuration.

        ``explicit``: dotted config keys the user changed on purpose for this run (``--set``,
        ``BGB_*`` variables); a key also covers everything under it.

        Raises:
            ValueError: the checkpoint's configuration differs from this one in a key that is
                not in ``explicit`` (the message lists the differences).
        """
        state = load_checkpoint(path, map_location=self.device)
        changed = [
            key
            for key in config_differences(state["config"], self.config)
            if not any(key == e or key.startswith(f"{e}.") for e in explicit)
        ]
        if changed:
            raise ValueError(
                f"{path} was written with another configuration; it differs in "
                f"{', '.join(changed)}. To resume with a change, give it explicitly "
                "(--set KEY=VALUE); to start a new run, set another output.run_dir"
            )
        if self.ema is None:
            self.model.load_state_dict(state["model"])
        else:  # "model" holds the averaged weights, "train_weights" the optimised ones
            # (a run that starts averaging on resume, with --set, starts from "model")
            raw = state.get("train_weights")
            self.model.load_state_dict(state["model"] if raw is None else raw)
            self.ema.module.load_state_dict(state["model"])
            self.ema.n_averaged.fill_(state.get("ema_updates") or 1)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng(state["rng"])
        self.epoch = state["epoch"]
        self.step = state["step"]
        self.step_in_epoch = state["step_in_epoch"]
        self.epoch_losses = list(state["epoch_losses"])
        self.best_metric = state["best_metric"]
        stored_key = state.get("best_key")
        self.best_key = None if stored_key is None else tuple(stored_key)
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
        self.history = list(state["history"])
        self.calibration = read_calibration(state)
        self.hard_negatives = list(state.get("hard_negatives") or [])
        self.echo(f"resumed {path}: epoch {self.epoch + 1}, step {self.step}")

    # ------------------------------------------------------------------ training
    def fit(self) -> TrainResult:
        """Train until the epoch budget or the patience runs out."""
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(str(self.run_dir / "tensorboard")) if self.is_main else NullWriter()
        stopped_early = False
        anomaly = torch.autograd.set_detect_anomaly(self.config.training.nan_debug)
        loader = self._loader()
        try:
            with anomaly:
                while self.epoch < self.epochs and not stopped_early:
                    stopped_early = self._run_epoch(loader, writer)
        finally:
            writer.close()
            del loader  # its persistent workers end with it
        return TrainResult(
            run_dir=self.run_dir,
            epochs_run=self.epoch,
            best_epoch=self.best_epoch,
            best_metric=self.best_metric,
            stopped_early=stopped_early,
            history=self.history,
        )

    def _loader(self) -> DataLoader[Any]:
        """The run's one DataLoader: its workers (each with its own bounded set of open
        recordings) live for the whole run, read ``prefetch_batches`` batches ahead, and hand
        batches over in pinned memory on CUDA, so that the copy to the GPU is asynchronous."""
        workers = self.config.training.num_workers
        return DataLoader(
            self.windows,
            batch_size=self.batch_size,
            sampler=self.position,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=self.config.training.prefetch_batches if workers else None,
        )

    def _run_epoch(self, loader: DataLoader[Any], writer: Any) -> bool:
        from tqdm.auto import tqdm

        started = time.perf_counter()
        losses = self.epoch_losses
        skip = self.step_in_epoch
        if skip == 0:  # a resumed epoch keeps the hard negatives it started with
            self.hard_negatives = self._mine_hard_negatives()
        if isinstance(self.draw, BalancedSampler):
            self.draw.set_hard_negatives(self.hard_negatives)
        self.train_model.train()
        self.position.set_position(self.epoch, skip)  # a resumed epoch reads from its step on
        bar = tqdm(
            total=self.steps_per_epoch,
            initial=skip,
            disable=not self.progress,
            desc=f"epoch {self.epoch + 1}/{self.epochs}",
            leave=False,
        )
        every = self.config.training.checkpoint_every_steps
        for batch_number, (x, y, index) in enumerate(loader, start=skip):
            losses.append(self._train_step(x, y, index))
            writer.add_scalar("train/loss", losses[-1], self.step)
            writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], self.step)
            self.step_in_epoch = batch_number + 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if (
                every
                and self.step % every == 0
                and self.step_in_epoch < self.steps_per_epoch
                and self.is_main
            ):
                save_checkpoint(self.run_dir / "last.pt", self._payload())
        bar.close()
        return self._end_epoch(writer, losses, time.perf_counter() - started)

    def _mine_hard_negatives(self) -> list[int]:
        """This epoch's hard negatives (training.hard_negative_share), chosen on rank 0 and
        shared with every rank; none when off, before ``hard_negative_from_epoch`` or in a
        uniform draw."""
        training = self.config.training
        if (
            training.hard_negative_share == 0
            or self.epoch + 1 < training.hard_negative_from_epoch
            or not isinstance(self.draw, BalancedSampler)
        ):
            return []
        return run_on_main(self._score_background_pool, self.distributed)

    def _score_background_pool(self) -> list[int]:
        """Score a random pool of windows without seizure with the evaluated weights (each
        window's highest per-sample logit) and return the highest-scoring indices, sorted."""
        assert isinstance(self.draw, BalancedSampler)
        training = self.config.training
        started = time.perf_counter()
        n_hard = round(training.hard_negative_share * self.draw.n_background)
        background = self.draw.background_windows
        n_pool = min(background.size, math.ceil(training.hard_negative_pool * n_hard))
        if n_hard == 0 or n_pool == 0:
            return []
        rng = np.random.default_rng([training.seed, self.epoch, 1])
        pool = np.sort(rng.choice(background, size=n_pool, replace=False))
        model = self.evaluated_model
        was_training = model.training
        model.eval()
        batch = inference_batch_size(self.config.evaluation.batch_size, self.device)
        scores = []
        with torch.no_grad(), autocast_context(self.device, training.mixed_precision):
            for start in range(0, n_pool, batch):
                x = np.stack([self.windows.windows[int(i)][0] for i in pool[start : start + batch]])
                logits = model(torch.from_numpy(x).to(self.device, self.dtype))  # (b, S)
                scores.append(logits.amax(dim=1).float().cpu())
        model.train(was_training)
        top = torch.argsort(torch.cat(scores), descending=True, stable=True)[:n_hard]
        chosen = sorted(int(pool[int(i)]) for i in top)
        self.echo(
            f"epoch {self.epoch + 1}: {len(chosen)} hard negatives of {n_pool} windows without "
            f"seizure scored, {time.perf_counter() - started:.0f} s"
        )
        return chosen

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> float:
        training = self.config.training
        # checked on the host before any collective: under DDP, a NaN window would otherwise
        # spread through the synchronised BatchNorm statistics into every rank's batch
        if not bool(torch.isfinite(x).all()):
            self._stop_on_nonfinite(x, y, index, "non-finite values in the input windows")
        x = x.to(self.device, self.dtype, non_blocking=True)
        y = y.to(self.device, self.dtype, non_blocking=True)
        if training.augment.enabled:
            x = augment_batch(x, training.augment, self._augment_generator())
        try:
            with autocast_context(self.device, training.mixed_precision):
                logits = self.train_model(x)
        except FloatingPointError as err:  # a stage check of the model saw NaN or inf
            self._stop_on_nonfinite(x, y, index, str(err))
        loss = focal_loss(logits, y, training.focal_alpha, training.focal_gamma)
        reported = mean_across_ranks(loss.detach(), self.distributed)  # every rank agrees
        if not torch.isfinite(reported):
            self._stop_on_nonfinite(x, y, index, f"loss is {float(loss.detach())}")
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(self.scaler.scale(loss))
        if training.grad_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), training.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        return float(reported)

    def _augment_generator(self) -> torch.Generator:
        """Draws for this step's augmentation: a function of seed, rank and step alone, so a
        resumed run augments exactly as the uninterrupted one would have."""
        rank = 0 if self.distributed is None else self.distributed.rank
        seed = (self.config.training.seed * 1_000_003 + self.step) * 1_009 + rank
        return torch.Generator().manual_seed(seed)

    def _stop_on_nonfinite(
        self, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor, what: str
    ) -> NoReturn:
        """Save this rank's batch (and with ``nan_debug`` the weights) and raise
        NonFiniteLossError naming the batch's windows; ``what`` says what was not finite."""
        names = [self.windows.describe(int(i)) for i in index]
        rank = 0 if self.distributed is None else self.distributed.rank
        dump = self.run_dir / (
            "nonfinite_batch.pt" if rank == 0 else f"nonfinite_batch_rank{rank}.pt"
        )
        payload: dict[str, Any] = {
            "x": x.cpu(),
            "y": y.cpu(),
            "index": index.cpu(),
            "windows": names,
            "step": self.step,
            "rank": rank,
            "error": what,
        }
        if self.config.training.nan_debug:
            payload["model"] = self.model.state_dict()
            payload["input_finite"] = bool(torch.isfinite(x).all())
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(dump, payload)
        raise NonFiniteLossError(
            f"{what} at epoch {self.epoch + 1}, step {self.step + 1}; batch saved to {dump}; "
            f"its windows: {'; '.join(names)}"
        )

    def _end_epoch(self, writer: Any, losses: list[float], seconds: float) -> bool:
        number = self.epoch + 1
        evaluation = self.config.evaluation
        evaluated = number == self.epochs or (
            number >= evaluation.first_dev_epoch and number % evaluation.dev_every_epochs == 0
        )
        if evaluated:
            dev = run_on_main(self._validate, self.distributed)
        else:
            dev, self.calibration = {}, None  # no operating points for unevaluated weights
        target = self.config.evaluation.early_stopping_fa
        metric = dev.get(f"sensitivity_at_{target:g}fa")
        ranking = selection_key(
            dev, target, self.config.evaluation.fa_targets, self.config.evaluation.select_by
        )
        improved = metric is not None and (self.best_key is None or ranking > self.best_key)
        self.epoch += 1
        self.step_in_epoch = 0
        self.epoch_losses = []
        row = {
            "epoch": self.epoch,
            "step": self.step,
            "seconds": round(seconds, 2),
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "lr": self.scheduler.get_last_lr()[0],
            **dev,
        }
        self.history.append(row)
        for key, value in row.items():
            if key.startswith(("dev_", "sensitivity", "fa_")) and value is not None:
                writer.add_scalar(f"dev/{key}", value, self.step)
        # patience counts from the end of the warm-up, once some epoch has found seizures at
        # the target: before that, an epoch that detects nothing is no reason to stop
        counting = self.step >= self.warmup_steps and (self.best_metric or 0.0) > 0.0
        if not evaluated:
            pass  # patience counts dev evaluations
        elif improved:
            self.best_metric, self.best_epoch, self.bad_epochs = metric, self.epoch, 0
            self.best_key = ranking
        elif counting:
            self.bad_epochs += 1
        row["bad_epochs"] = self.bad_epochs
        if self.is_main:
            payload = self._payload()
            if improved or self.best_epoch is None:
                save_checkpoint(self.run_dir / "best.pt", payload)
            save_checkpoint(self.run_dir / "last.pt", payload)
            self._write_csv()
        shown = "n/a" if metric is None else f"{metric:.3f}"
        line = f"epoch {self.epoch}/{self.epochs}: loss {row['train_loss']:.4f}, "
        if not evaluated:
            self.echo(line + f"dev not evaluated this epoch, {seconds:.0f} s")
            return False
        self.echo(
            line
            + f"dev sensitivity at {target:g} FA/24h {shown}"
            + ("" if dev.get("dev_pr_auc") is None else f", PR-AUC {dev['dev_pr_auc']:.4f}")
            + f", {seconds:.0f} s"
            + (" (best)" if improved else "")
            + ("" if counting or improved else " (patience not counting yet)")
        )
        return self.bad_epochs >= self.config.training.patience

    def _validate(self) -> dict[str, Any]:
        predictions = predict_split(
            self.evaluated_model, self.config, self.cache_dir, "dev", self.device
        )
        if not predictions:
            self.calibration = None
            return {}
        sweep = sweep_split(predictions, self.config)
        # the points travel with this epoch's weights into best.pt / last.pt
        self.calibration = calibration_from_sweep(sweep.result, self.config, self.epoch + 1, "dev")
        ranking = sample_ranking(predictions, self.cache_dir)
        return {**sweep.summary(), "dev_auroc": ranking["auroc"], "dev_pr_auc": ranking["pr_auc"]}

    def _write_csv(self) -> None:
        keys: list[str] = []
        for row in self.history:
            keys.extend(k for k in row if k not in keys)
        path = self.run_dir / "metrics.csv"
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)
        tmp.replace(path)


def weight_average(model: Detector, training: TrainingConfig) -> AveragedModel:
    """An exponential moving average of ``model``'s parameters and buffers (BatchNorm
    statistics), decay ``training.ema_decay``; its first update copies the weights."""
    assert training.ema_decay is not None
    update = get_ema_multi_avg_fn(training.ema_decay)  # type: ignore[no-untyped-call]
    averaged = AveragedModel(model, multi_avg_fn=update, use_buffers=True)
    averaged.requires_grad_(False)
    return averaged


def config_differences(stored: dict[str, Any], config: RunConfig) -> list[str]:
    """Dotted keys whose values differ between a checkpoint's stored config and ``config``.

    The stored config is validated first, so that fields added to the schema since it was
    written compare at their defaults.
    """
    try:
        filled = RunConfig.model_validate(stored).model_dump(mode="json")
    except ValueError:  # written by an older schema with fields since removed: as stored
        filled = stored
    return _differences(filled, config.model_dump(mode="json"))


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def selection_key(
    dev: dict[str, Any],
    early_stopping_fa: float,
    fa_targets: Sequence[float],
    select_by: str = "sensitivity",
) -> tuple[float, ...]:
    """How early stopping ranks a dev evaluation (compare tuples; higher is better).

    With ``select_by`` "pr_auc", the dev samples' PR-AUC comes first and the sensitivities
    below break its ties. Otherwise (and after it) the dev OVLP sensitivity at
    ``early_stopping_fa``; ties go to the epoch with the
    higher sensitivity at the stricter targets (fewer false alarms allowed), in order. Such an
    epoch separates seizures from background more widely on dev, so the thresholds chosen for
    it sit further from the background and transfer to unseen recordings more safely. A
    target without a reaching threshold counts as -1. Equal keys keep the earlier evaluation.
    """
    stricter = sorted((t for t in fa_targets if t < early_stopping_fa), reverse=True)
    values = [dev.get(f"sensitivity_at_{t:g}fa") for t in (early_stopping_fa, *stricter)]
    if select_by == "pr_auc":
        values.insert(0, dev.get("dev_pr_auc"))
    return tuple(-1.0 if value is None else float(value) for value in values)
