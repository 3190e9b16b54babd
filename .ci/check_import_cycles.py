"""Fail when the project's own modules import each other in a cycle.

Every ``import`` statement counts, at module level or inside a function: an import moved into a
function hides a cycle from Python's loader but not from a reader, so it is still a cycle here.
Modules are the files under ``packages/*/src`` and ``apps/*/src``; ``from pkg import name``
depends on ``pkg.name`` when that is a module, else on ``pkg`` itself. Importing ``a.b.c``
from outside package ``a.b`` also runs ``a/b/__init__.py`` first, so it depends on ``a.b``
too (a module's own enclosing packages are already being imported, and do not count).

Usage: ``python .ci/check_import_cycles.py [ROOT]``. Prints each cycle; exits 1 if any.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the workspace members."""
    found: dict[str, Path] = {}
    for src in (*root.glob("packages/*/src"), *root.glob("apps/*/src")):
        for path in src.rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of ``modules``."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def package_of(module: str, path: Path) -> str:
    """The package that the relative imports of ``module`` (the file ``path``) start from."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imported_from(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the module that ``from ... import`` reads, in ``package``."""
    base = node.module or ""
    if node.level:  # relative: climb from this module's package
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return base


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that ``module`` imports anywhere in its file."""
    package = package_of(module, path)
    wanted: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            wanted.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = imported_from(node, package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                wanted.add(full if full in modules else base)
    owners = {_owner(name, modules) for name in wanted}
    found = {o for o in owners if o is not None and o != module}
    for owner in list(found):
        parent = owner.rpartition(".")[0]
        while parent:
            inside = module == parent or module.startswith(parent + ".")
            if parent in modules and not inside:
                found.add(parent)
            parent = parent.rpartition(".")[0]
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in order:
            continue
        work = [(start, iter(sorted(graph[start])))]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], order[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == order[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    modules = module_files(root)
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    found = cycles(graph)
    for component in found:
        print("import cycle: " + " <-> ".join(component))
    print(f"{len(modules)} modules, {sum(map(len, graph.values()))} imports, {len(found)} cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
