"""Pieces the subcommands share: config loading with readable errors, the ``--set`` option.

Commands import the library inside their functions, so that ``bgb score`` or ``bgb synth``
start without loading torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bgb.config import RunConfig

__all__ = ["load_run_config", "set_option"]

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override one config field (repeatable), e.g. --set training.epochs=2.",
)


def load_run_config(path: Path | None, overrides: Sequence[str]) -> RunConfig:
    """The validated run config, or a click error carrying the schema's message."""
    from bgb.config import ConfigError, load_config
    from bgb_cli.env import env_assignments

    try:
        return load_config(path, overrides, assignments=env_assignments())
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
