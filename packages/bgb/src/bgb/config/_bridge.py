"""Validate a package's frozen dataclass config with pydantic, strictly.

The packages (bgb-model, bgb-post) describe their settings as plain dataclasses so that they
do not depend on pydantic. The app validates those same settings from YAML; this module
derives, once per dataclass, a pydantic model with the same fields, types and defaults, that
rejects unknown keys and carries each field's attribute docstring as its description.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
import typing
from typing import Any, TypeVar

import pydantic

__all__ = ["dataclass_model", "validate_dataclass"]

T = TypeVar("T")


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """Map field name -> the string literal written right under its annotation."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    statements = body.body
    for current, following in itertools.pairwise(statements):
        if (
            isinstance(current, ast.AnnAssign)
            and isinstance(current.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[current.target.id] = inspect.cleandoc(following.value.value)
    return docs


@functools.cache
def dataclass_model(cls: type) -> type[pydantic.BaseModel]:
    """A strict pydantic model mirroring dataclass ``cls`` (nested dataclasses included)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    docs = _attribute_docstrings(cls)
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        annotation = hints[field.name]
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            annotation = dataclass_model(annotation)
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
        elif field.default_factory is not dataclasses.MISSING:
            produced = field.default_factory()
            default = (
                dataclasses.asdict(produced)
                if dataclasses.is_dataclass(produced) and not isinstance(produced, type)
                else produced
            )
        else:
            default = ...
        fields[field.name] = (
            annotation,
            pydantic.Field(default=default, description=docs.get(field.name)),
        )
    model: type[pydantic.BaseModel] = pydantic.create_model(
        cls.__name__,
        __config__=pydantic.ConfigDict(extra="forbid", frozen=True),
        __doc__=inspect.getdoc(cls),
        **fields,
    )
    return model


def _to_dataclass(cls: type[T], data: dict[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = data[field.name]
        annotation = hints[field.name]
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            value = _to_dataclass(annotation, value)
        elif isinstance(value, list) and typing.get_origin(annotation) is tuple:
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)


def validate_dataclass(cls: type[T], data: dict[str, Any]) -> T:
    """Validate ``data`` against ``cls``'s fields and build the dataclass.

    Raises:
        pydantic.ValidationError: unknown keys, wrong types, or the dataclass's own checks
            (its ``__post_init__`` raising ValueError) reported against the section.
    """
    as_type: type = cls  # the cached builder takes any (hashable) class
    model = dataclass_model(as_type)
    validated = model.model_validate(data).model_dump()
    return _to_dataclass(cls, validated)
