"""Pieces the subcommands share: config loading with readable errors, device choice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["load_run_config", "set_option"]

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY.PATH=VALUE",
    help="Override one config field (repeatable), e.g. --set training.epochs=2.",
)


def load_run_config(path: Path | None, overrides: Sequence[str]) -> Any:
    """The validated run config, or a click error carrying the schema's message."""
    from bgb_cli.config import ConfigError, load_config

    try:
        return load_config(path, overrides)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
