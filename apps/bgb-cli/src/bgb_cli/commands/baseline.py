"""``bgb baseline CONFIG [--set key=value ...] [--out DIR]``: the feature baseline."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bgb_cli.commands._common import load_run_config, set_option

__all__ = ["baseline"]


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the checkpoint and reports go (default: RUN_DIR/baseline).",
)
@set_option
def baseline(config_path: Path, out_dir: Path | None, overrides: tuple[str, ...]) -> None:
    """Train the feature baseline (per-second EEG features, LightGBM) and score it like the
    deep model.

    \b
    Writes DIR/best.pt (usable with `bgb detect` and `bgb evaluate`), then chooses its
    operating points on dev (DIR/dev) and evaluates it on eval with them (DIR/eval).
    """
    from bgb.baseline import train_baseline
    from bgb.config import ConfigError
    from bgb.corpus import ensure_cache
    from bgb.evaluation import evaluate_run
    from bgb.reporting import format_metrics_table

    config = load_run_config(config_path, overrides)
    out = out_dir if out_dir is not None else config.output.run_dir / "baseline"
    try:
        cache_dir = ensure_cache(config, progress=config.training.progress)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    checkpoint = out / "best.pt"
    started = time.perf_counter()
    try:
        train_baseline(config, cache_dir, checkpoint)
        seconds = time.perf_counter() - started
        evaluate_run(checkpoint, config, cache_dir, "dev", out / "dev")
        report = evaluate_run(checkpoint, config, cache_dir, "eval", out / "eval")
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(format_metrics_table(report))
    click.echo(f"training (features and trees): {seconds:.1f} s")
    click.echo(f"checkpoint: {checkpoint}")
    click.echo(f"report: {out / 'eval' / 'metrics.json'}")
