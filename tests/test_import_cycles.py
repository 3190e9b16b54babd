"""The import-cycle check that `.ci/run` applies to the workspace, on small trees."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_import_cycles", ROOT / ".ci/check_import_cycles.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "packages" / "p" / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a cycle hidden in a function is still a cycle
        (
            {
                "a/__init__.py": "",
                "a/x.py": "from a.y import f\n",
                "a/y.py": "def f():\n    from a import x\n",
            },
            [["a.x", "a.y"]],
        ),
        # relative imports resolve against the package
        (
            {"a/__init__.py": "", "a/x.py": "from .y import f\n", "a/y.py": "from . import x\n"},
            [["a.x", "a.y"]],
        ),
        # importing a.sub.m from outside a.sub runs a/sub/__init__.py first: the package
        # counts, so a loop through what it re-exports is a cycle (Python fails on it)
        (
            {
                "a/__init__.py": "",
                "a/t.py": "from a.sub.c import save\n",
                "a/sub/__init__.py": "from a.sub.run import go\n",
                "a/sub/c.py": "save = 1\n",
                "a/sub/run.py": "from a.e import ev\ngo = 1\n",
                "a/e.py": "from a.t import x\nev = 1\n",
            },
            [["a.e", "a.sub", "a.sub.run", "a.t"]],
        ),
        # ... but the modules of a package reaching each other is not
        (
            {
                "a/__init__.py": "",
                "a/sub/__init__.py": "from a.sub.run import go\n",
                "a/sub/c.py": "save = 1\n",
                "a/sub/run.py": "from a.sub.c import save\ngo = 1\n",
            },
            [],
        ),
        # a package re-exporting its submodules is not a cycle
        (
            {
                "a/__init__.py": "from a.x import g\n",
                "a/x.py": "from a.y import f\ng = 1\n",
                "a/y.py": "f = 2\n",
            },
            [],
        ),
        # ... but a submodule using the package's re-export is
        (
            {
                "a/__init__.py": "from a.x import g\n",
                "a/x.py": "from a import h\ng = 1\n",
                "a/h.py": "",
            },
            [],
        ),
        (
            {"a/__init__.py": "from a.x import g\n", "a/x.py": "from a import g2\ng = 1\n"},
            [["a", "a.x"]],
        ),
    ],
)
def test_cycles_are_found_and_only_cycles(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    checker = _checker()
    root = _tree(tmp_path, files)
    modules = checker.module_files(root)
    graph = {m: checker.imports_of(m, p, modules) for m, p in modules.items()}
    assert checker.cycles(graph) == expected


def test_the_workspace_has_no_cycle() -> None:
    checker = _checker()
    modules = checker.module_files(ROOT)
    assert len(modules) > 50
    graph = {m: checker.imports_of(m, p, modules) for m, p in modules.items()}
    assert checker.cycles(graph) == []
