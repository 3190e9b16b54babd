"""``bgb train CONFIG`` (alias ``bgb-train``)."""

from __future__ import annotations

from pathlib import Path

import click

from bgb_cli.commands._common import load_run_config, set_option

__all__ = ["train"]


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--resume", is_flag=True, help="Continue from RUN_DIR/last.pt.")
@set_option
def train(config_path: Path, resume: bool, overrides: tuple[str, ...]) -> None:
    """Build or reuse the cache, train the detector, then evaluate it on the eval split."""
    from bgb_cli.config import ConfigError
    from bgb_cli.evaluation import evaluate_run
    from bgb_cli.reporting import format_metrics_table
    from bgb_cli.training import NonFiniteLossError, Trainer, ensure_cache

    config = load_run_config(config_path, overrides)
    try:
        cache_dir = ensure_cache(config, progress=config.training.progress)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    trainer = Trainer(config, cache_dir, echo=click.echo)
    last = config.output.run_dir / "last.pt"
    if resume:
        if not last.is_file():
            raise click.ClickException(f"--resume: no checkpoint at {last}")
        trainer.resume(last)
    try:
        result = trainer.fit()
    except NonFiniteLossError as err:
        raise click.ClickException(str(err)) from None
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
