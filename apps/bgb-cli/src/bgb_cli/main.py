"""Entry point of the ``bgb`` command group.

Each subcommand lives in its own module under ``bgb_cli.commands`` and is registered here.
"""

from __future__ import annotations

import logging

import click

from bgb_cli.commands.baseline import baseline
from bgb_cli.commands.cache import cache
from bgb_cli.commands.detect import detect
from bgb_cli.commands.evaluate import evaluate
from bgb_cli.commands.score import score
from bgb_cli.commands.synth import synth
from bgb_cli.commands.train import train

__all__ = ["cli", "train_alias"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """bgb: EEG seizure detection, from EDF to scored events."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(train)
cli.add_command(evaluate)
cli.add_command(detect)
cli.add_command(score)
cli.add_command(synth)
cli.add_command(cache)
cli.add_command(baseline)


def train_alias() -> None:
    """``bgb-train ARGS`` is ``bgb train ARGS``."""
    import sys

    cli.main(args=["train", *sys.argv[1:]], prog_name="bgb-train")
