"""``bgb evaluate --checkpoint CKPT --config CONFIG --split dev|eval --out DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from bgb_cli.commands._common import load_run_config, set_option

__all__ = ["evaluate"]


@click.command()
@click.option(
    "--checkpoint",
    "checkpoint",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
)
@click.option(
    "--config", "config_path", required=True, type=click.Path(path_type=Path, dir_okay=False)
)
@click.option("--split", type=click.Choice(["dev", "eval"]), default="eval", show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--recalibrate",
    is_flag=True,
    help="Choose the operating points on dev again (and store them in the checkpoint) "
    "instead of using the checkpoint's.",
)
@set_option
def evaluate(
    checkpoint: Path,
    config_path: Path,
    split: str,
    out_dir: Path,
    recalibrate: bool,
    overrides: tuple[str, ...],
) -> None:
    """Score whole recordings of a split at the checkpoint's operating points.

    The operating points (thresholds for 10, 5, 2.5 and 1 FA/24h) are those stored in the
    checkpoint, chosen on dev. With --split dev, --recalibrate, a checkpoint without them, or
    other inference settings in CONFIG than they were chosen with, they are chosen on dev now
    and stored in the checkpoint, so that `bgb detect` uses them.
    """
    import bgb
    from bgb.reporting import format_metrics_table

    config = load_run_config(config_path, overrides)
    try:
        report = bgb.evaluate(checkpoint, config, split, out_dir, recalibrate=recalibrate)
    except ValueError as err:  # ConfigError included
        raise click.ClickException(str(err)) from None
    click.echo(format_metrics_table(report))
    click.echo(f"report: {out_dir / 'metrics.json'}")
