"""Reading a run configuration: YAML file, then environment variables, then ``--set``.

This is the one place where ``BGB_*`` environment variables are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from bgb_cli.config.schema import RunConfig

__all__ = ["ENV_VARIABLES", "ConfigError", "env_overrides", "load_config", "parse_set"]

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


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says where and what to change."""


def env_flag(name: str, raw: str) -> bool:
    """The boolean value of environment variable ``name`` set to ``raw`` (1/0, true/false,
    yes/no, on/off, empty = false). Raises ConfigError naming the variable otherwise."""
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"environment variable {name}={raw!r}: expected 1/0, true/false")


def env_overrides(environ: Mapping[str, str] | None = None) -> list[tuple[str, Any, str]]:
    """(dotted key, value, origin) for each ``BGB_*`` variable that is set."""
    environ = os.environ if environ is None else environ
    found: list[tuple[str, Any, str]] = []
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


def parse_set(assignment: str) -> tuple[str, Any]:
    """``"training.epochs=2"`` -> ``("training.epochs", 2)``; the value is read as YAML."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {assignment!r}: expected KEY.PATH=VALUE")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {assignment!r}: value is not valid YAML ({err})") from err
    return key.strip(), value


def _assign(tree: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = dotted.split(".")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"{origin}: {where} is a value, not a section")
        node = child
    node[parts[-1]] = value


def _describe(err: pydantic.ValidationError, source: str) -> str:
    lines = []
    for problem in err.errors():
        location = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        if problem["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {location!r}")
        else:
            lines.append(f"{source}: {location}: {problem['msg']}")
    return "\n".join(lines)


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Read, merge and validate a run configuration.

    Precedence, lowest first: the schema's defaults, the YAML file, ``BGB_*`` environment
    variables, then each ``--set KEY.PATH=VALUE`` in order.

    Raises:
        ConfigError: unreadable file, unknown key, or an invalid value; the message names the
            file (or the variable, or the ``--set``) and the key.
    """
    tree: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise ConfigError(f"cannot read config {path}: {err.strerror}") from err
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from err
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
        tree = loaded
    try:
        RunConfig.model_validate(tree)
    except pydantic.ValidationError as err:
        raise ConfigError(_describe(err, source)) from None
    changes = [*env_overrides(environ)]
    for assignment in overrides:
        key, value = parse_set(assignment)
        changes.append((key, value, f"--set {assignment}"))
    for key, value, origin in changes:
        _assign(tree, key, value, origin)
        try:
            RunConfig.model_validate(tree)
        except pydantic.ValidationError as err:
            raise ConfigError(_describe(err, origin)) from None
    return RunConfig.model_validate(tree)
