"""``bgb train CONFIG`` (alias ``bgb-train``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bgb_cli.commands._common import load_run_config, set_option

__all__ = ["train"]


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--resume", is_flag=True, help="Continue from RUN_DIR/last.pt.")
@set_option
def train(config_path: Path, resume: bool, overrides: tuple[str, ...]) -> None:
    """Build or reuse the cache, train the detector, then evaluate it on the eval split.

    Under ``torchrun --nproc-per-node N`` it trains with DistributedDataParallel, one process
    per device (see ``bgb_cli.training.distributed``); rank 0 alone builds the cache, writes
    and evaluates.
    """
    from bgb_cli.training.distributed import init_distributed, report_failure, shutdown
    from bgb_model.mamba2 import check_backend

    config = load_run_config(config_path, overrides)
    try:
        check_backend(config.model.backend)  # before the cache build, which can take hours
    except RuntimeError as err:
        raise click.ClickException(f"model.backend: {err}") from None
    distributed = init_distributed(config.training.device)
    failed = True
    try:
        _train(config, resume, _explicit_keys(overrides), distributed)
        failed = False
    except BaseException as err:
        # the other ranks stop within seconds instead of waiting in a collective for hours
        report_failure(distributed, err)
        raise
    finally:
        shutdown(distributed, failed=failed)


def _explicit_keys(overrides: tuple[str, ...]) -> list[str]:
    """The config keys this command line (``--set``) and ``BGB_*`` variables set."""
    from bgb_cli.config import env_overrides, parse_set

    return [key for key, _, _ in env_overrides()] + [parse_set(o)[0] for o in overrides]


def _train(config: Any, resume: bool, explicit: list[str], distributed: Any) -> None:
    from bgb_cli.config import ConfigError
    from bgb_cli.evaluation import evaluate_run
    from bgb_cli.reporting import format_metrics_table
    from bgb_cli.training import NonFiniteLossError, Trainer, ensure_cache
    from bgb_cli.training.distributed import run_on_main

    try:
        cache_dir = run_on_main(
            lambda: ensure_cache(config, progress=config.training.progress), distributed
        )
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    trainer = Trainer(config, cache_dir, echo=click.echo, distributed=distributed)
    last = config.output.run_dir / "last.pt"
    if resume:
        if not last.is_file():
            raise click.ClickException(f"--resume: no checkpoint at {last}")
        try:
            trainer.resume(last, explicit)
        except ValueError as err:
            raise click.ClickException(f"--resume: {err}") from None
    try:
        result = trainer.fit()
    except NonFiniteLossError as err:
        raise click.ClickException(str(err)) from None
    if not trainer.is_main:
        return
    click.echo(
        f"training done: {result.epochs_run} epochs, best epoch {result.best_epoch}, "
        f"checkpoints in {result.run_dir}"
    )
    if config.evaluation.after_training and not config.training.smoke_test:
        report = evaluate_run(
            result.run_dir / "best.pt", config, cache_dir, "eval", result.run_dir / "eval"
        )
        click.echo(format_metrics_table(report))
        click.echo(f"report: {result.run_dir / 'eval' / 'metrics.json'}")
