"""The command line's environment variables: the one place ``BGB_*`` variables are read.

Each maps onto one config field and is applied after the YAML file and before ``--set``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from bgb.config import Assignment, ConfigError

__all__ = ["ENV_VARIABLES", "env_assignments", "env_flag", "progress_disabled"]

# variable -> (dotted config key, value it sets, what it is for)
ENV_VARIABLES: dict[str, tuple[str, str, str]] = {
    "BGB_SMOKE_TEST": ("training.smoke_test", "bool", "one short epoch, uniform sampling"),
    "BGB_LIMIT_FILES": ("data.limit_files", "int", "at most N recordings per split"),
    "BGB_DISABLE_TQDM": ("training.progress", "not-bool", "no progress bars"),
    "BGB_NAN_DEBUG": ("training.nan_debug", "bool", "anomaly detection on a non-finite loss"),
    "BGB_FORCE_MANIFEST_REBUILD": ("data.force_rebuild", "bool", "rebuild the cache"),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_flag(name: str, raw: str) -> bool:
    """The boolean value of environment variable ``name`` set to ``raw`` (1/0, true/false,
    yes/no, on/off, empty = false). Raises ConfigError naming the variable otherwise."""
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"environment variable {name}={raw!r}: expected 1/0, true/false")


def env_assignments(environ: Mapping[str, str] | None = None) -> list[Assignment]:
    """(dotted key, value, origin) for each ``BGB_*`` variable that is set."""
    environ = os.environ if environ is None else environ
    found: list[Assignment] = []
    for name, (key, kind, _purpose) in ENV_VARIABLES.items():
        if name not in environ:
            continue
        raw = environ[name]
        value: Any
        if kind == "int":
            try:
                value = int(raw)
            except ValueError:
                message = f"environment variable {name}={raw!r}: expected an integer"
                raise ConfigError(message) from None
        elif kind == "not-bool":
            value = not env_flag(name, raw)
        else:
            value = env_flag(name, raw)
        found.append((key, value, f"environment variable {name}"))
    return found


def progress_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``BGB_DISABLE_TQDM`` turns progress bars off."""
    environ = os.environ if environ is None else environ
    return env_flag("BGB_DISABLE_TQDM", environ.get("BGB_DISABLE_TQDM", ""))
