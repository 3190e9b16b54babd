"""Fail when a project module uses a private name (``_x``) of another project module.

A name that begins with ``_`` belongs to the module that defines it. A module that begins
with ``_`` may still be imported (by its package's other modules and by tests); its
non-underscore names are the package's internal API. So, for every module under
``packages/*/src`` and ``apps/*/src``, these are reported:

- ``from m import _x`` where ``m`` is a project module and ``m._x`` is not a module
  (relative forms such as ``from ._m import _x`` included);
- ``m._x`` where ``m`` names an imported project module (``import m``, ``import m as a``,
  ``from p import m``) and ``m._x`` is not a module.

Every import counts, at module level or inside a function. Dunder names (``__version__``)
are not private; names of other libraries are not checked.

Usage: ``python .ci/check_private_imports.py [ROOT]``. Prints ``file:line: name is private
to module`` for each use; exits 1 if any.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from check_import_cycles import imported_from, module_files, package_of


@dataclass(frozen=True)
class PrivateUse:
    """One use of a private name outside the module that defines it."""

    path: Path
    line: int
    name: str
    owner: str
    """The module the name was taken from."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name} is private to {self.owner}"


def is_private(name: str) -> bool:
    """``_x`` and ``__x`` are private; ``__x__`` is not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(module: str, path: Path, modules: dict[str, Path]) -> list[PrivateUse]:
    """The private names of other project modules that ``module`` (the file ``path``) uses."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = package_of(module, path)
    bound: dict[str, str] = {}  # local name -> the project module it names
    found: list[PrivateUse] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name if alias.asname else alias.name.partition(".")[0]
                if target in modules:
                    bound[alias.asname or target] = target
        elif isinstance(node, ast.ImportFrom):
            base = imported_from(node, package)
            if base not in modules:
                continue
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif is_private(alias.name):
                    found.append(PrivateUse(path, node.lineno, alias.name, base))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = _module_named(node.value, bound, modules)
            if owner not in (None, module) and f"{owner}.{node.attr}" not in modules:
                found.append(PrivateUse(path, node.lineno, node.attr, str(owner)))
    return sorted(found, key=lambda use: (use.line, use.name))


def _module_named(node: ast.expr, bound: dict[str, str], modules: dict[str, Path]) -> str | None:
    """The project module that an expression such as ``a`` or ``a.b`` names, or None."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = _module_named(node.value, bound, modules)
        if parent is not None and f"{parent}.{node.attr}" in modules:
            return f"{parent}.{node.attr}"
    return None


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    modules = module_files(root)
    found = [use for m, p in sorted(modules.items()) for use in private_uses(m, p, modules)]
    for use in found:
        print(use)
    print(f"{len(modules)} modules, {len(found)} uses of another module's private names")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
