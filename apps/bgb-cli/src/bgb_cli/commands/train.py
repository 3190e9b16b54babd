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
    """Build or reuse the cache, train the detector, then evaluate it on the eval split.

    Under ``torchrun --nproc-per-node N`` it trains with DistributedDataParallel, one process
    per device; rank 0 alone builds the cache, writes and evaluates.
    """
    import bgb
    from bgb.config import parse_set
    from bgb.reporting import format_metrics_table
    from bgb_cli.env import env_assignments

    config = load_run_config(config_path, overrides)
    # the keys this command line changed on purpose, which --resume accepts
    changed = [key for key, _, _ in env_assignments()] + [parse_set(o)[0] for o in overrides]
    try:
        run = bgb.train(config, resume=resume, changed_keys=changed, echo=click.echo)
    except (bgb.ConfigError, bgb.NonFiniteLossError) as err:
        raise click.ClickException(str(err)) from None
    except bgb.ResumeError as err:
        raise click.ClickException(f"--resume: {err}") from None
    if run.report is not None:
        click.echo(format_metrics_table(run.report))
        click.echo(f"report: {config.output.run_dir / 'eval' / 'metrics.json'}")
