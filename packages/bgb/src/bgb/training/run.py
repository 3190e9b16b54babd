"""A whole training run as one call: cache, training, then evaluation on the eval split."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bgb.config import ConfigError, RunConfig
from bgb.corpus import ensure_cache
from bgb.evaluation import evaluate_run
from bgb.training.distributed import (
    DistributedContext,
    init_distributed,
    report_failure,
    run_on_main,
    shutdown,
)
from bgb.training.trainer import Trainer, TrainResult
from bgb_model.mamba2 import check_backend

__all__ = ["ResumeError", "TrainedRun", "train"]

log = logging.getLogger(__name__)


class ResumeError(ValueError):
    """A run that cannot be resumed: no ``last.pt``, or one of another configuration."""


@dataclass(frozen=True)
class TrainedRun:
    """What :func:`train` did: the training result and, when it ran, the eval report."""

    result: TrainResult | None
    """None on the ranks other than 0 of a distributed run."""
    report: dict[str, Any] | None
    """The eval split's ``metrics.json`` content (None when evaluation did not run)."""

    @property
    def run_dir(self) -> Path | None:
        return None if self.result is None else self.result.run_dir


def train(
    config: RunConfig,
    *,
    resume: bool = False,
    changed_keys: Collection[str] = (),
    echo: Callable[[str], None] = log.info,
) -> TrainedRun:
    """Build or reuse the cache, train the detector, then evaluate ``best.pt`` on eval.

    With ``resume`` training continues from ``RUN_DIR/last.pt`` to the same weights an
    uninterrupted run reaches; ``changed_keys`` names the config keys the caller changed on
    purpose since that checkpoint (any other difference is refused). Started under
    ``torchrun`` it trains with DistributedDataParallel, one process per device; rank 0
    alone builds the cache, writes checkpoints and evaluates. ``echo`` receives the progress
    lines a user should see (one per epoch).

    Raises:
        ConfigError: the config cannot run here (model backend, missing corpus).
        ResumeError: ``resume`` without ``RUN_DIR/last.pt``, or ``last.pt`` was written by
            another configuration (the message names the differing keys).
        bgb.training.NonFiniteLossError: a loss or model stage was not finite (the batch
            is saved in the run folder).
    """
    try:
        check_backend(config.model.backend)  # before the cache build, which can take hours
    except RuntimeError as err:
        raise ConfigError(f"model.backend: {err}") from None
    distributed = init_distributed(config.training.device)
    failed = True
    try:
        trained = _train(config, resume, changed_keys, echo, distributed)
        failed = False
    except BaseException as err:
        # the other ranks stop within seconds instead of waiting in a collective for hours
        report_failure(distributed, err)
        raise
    finally:
        shutdown(distributed, failed=failed)
    return trained


def _train(
    config: RunConfig,
    resume: bool,
    changed_keys: Collection[str],
    echo: Callable[[str], None],
    distributed: DistributedContext | None,
) -> TrainedRun:
    cache_dir = run_on_main(
        lambda: ensure_cache(config, progress=config.training.progress), distributed
    )
    trainer = Trainer(config, cache_dir, echo=echo, distributed=distributed)
    if resume:
        last = config.output.run_dir / "last.pt"
        if not last.is_file():
            raise ResumeError(f"no checkpoint to resume from at {last}")
        try:
            trainer.resume(last, changed_keys)
        except ValueError as err:
            raise ResumeError(str(err)) from None
    result = trainer.fit()
    if not trainer.is_main:
        return TrainedRun(result=None, report=None)
    echo(
        f"training done: {result.epochs_run} epochs, best epoch {result.best_epoch}, "
        f"checkpoints in {result.run_dir}"
    )
    if not config.evaluation.after_training or config.training.smoke_test:
        return TrainedRun(result=result, report=None)
    report = evaluate_run(
        result.run_dir / "best.pt", config, cache_dir, "eval", result.run_dir / "eval"
    )
    return TrainedRun(result=result, report=report)
