"""Reading a run configuration: YAML text, then the caller's assignments, then ``--set``s.

The library reads no environment variables; the command line maps its ``BGB_*`` variables
onto assignments (``bgb_cli.env``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml

from bgb.config.schema import ConfigError, RunConfig

__all__ = ["Assignment", "load_config", "parse_config", "parse_set"]


Assignment = tuple[str, Any, str]
"""(dotted key, value, origin): one change to a config, and where it came from for messages."""


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
    return "\n".join(_describe_one(problem, source) for problem in err.errors())


def _describe_one(problem: Mapping[str, Any], source: str) -> str:
    location = ".".join(str(part) for part in problem["loc"]) or "(top level)"
    if problem["type"] == "extra_forbidden":
        return f"{source}: unknown key {location!r}"
    return f"{source}: {location}: {problem['msg']}"


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    *,
    assignments: Sequence[Assignment] = (),
) -> RunConfig:
    """Read, merge and validate a run configuration file (``None``: the defaults alone).

    Precedence, lowest first: the schema's defaults, the YAML file, ``assignments`` (the
    command line's environment variables), then each ``KEY.PATH=VALUE`` of ``overrides``.

    Raises:
        ConfigError: unreadable file, unknown key, or an invalid value; the message names the
            file (or the assignment's origin, or the ``--set``) and the key.
    """
    if path is None:
        return parse_config("", "defaults", overrides, assignments=assignments)
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from err
    return parse_config(text, str(path), overrides, assignments=assignments)


def parse_config(
    text: str,
    source: str,
    overrides: Sequence[str] = (),
    *,
    assignments: Sequence[Assignment] = (),
) -> RunConfig:
    """:func:`load_config` on YAML ``text``; ``source`` names it in error messages."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from err
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    tree: dict[str, Any] = loaded
    try:
        RunConfig.model_validate(tree)
    except pydantic.ValidationError as err:
        raise ConfigError(_describe(err, source)) from None
    changes = list(assignments)
    for assignment in overrides:
        key, value = parse_set(assignment)
        changes.append((key, value, f"--set {assignment}"))
    base = copy.deepcopy(tree)
    for key, value, origin in changes:
        _assign(tree, key, value, origin)
    # Validated once all are applied, so that the order of changes that belong together
    # (data.window_s and evaluation.inference_stride_s) does not matter.
    try:
        return RunConfig.model_validate(tree)
    except pydantic.ValidationError as err:
        raise ConfigError(_describe_changes(err, base, changes)) from None


def _describe_changes(
    err: pydantic.ValidationError, base: dict[str, Any], changes: Sequence[Assignment]
) -> str:
    """Name, for each problem left after all ``changes``, the first change that caused it."""
    origins: list[str] = [origin for _, _, origin in changes]
    problems = {_problem_key(problem) for problem in err.errors()}
    blamed: dict[tuple[str, str], str] = {}
    partial = copy.deepcopy(base)
    for key, value, origin in changes:
        _assign(partial, key, value, origin)
        try:
            RunConfig.model_validate(partial)
        except pydantic.ValidationError as step_err:
            for problem in step_err.errors():
                found = _problem_key(problem)
                if found in problems:
                    blamed.setdefault(found, origin)
    lines = []
    for problem in err.errors():
        source = blamed.get(_problem_key(problem), ", ".join(origins))
        lines.append(_describe_one(problem, source))
    return "\n".join(lines)


def _problem_key(problem: Mapping[str, Any]) -> tuple[str, str]:
    return (".".join(str(part) for part in problem["loc"]), str(problem["msg"]))
