"""The workspace is laid out as promised: members import, the CLI answers, the library
packages depend on each other only along the data's path, and the numpy-only packages stay
free of torch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgb_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ["bgb-events", "bgb-data", "bgb-model", "bgb-post", "bgb-eval"]

# The workspace packages each library package may use: events <- post <- eval, events <- data
# (the data never depends on the scorer), model on none.
ALLOWED_DEPENDENCIES = {
    "bgb-events": set(),
    "bgb-post": {"bgb-events"},
    "bgb-eval": {"bgb-events", "bgb-post"},
    "bgb-data": {"bgb-events"},
    "bgb-model": set(),
}


@pytest.mark.parametrize("member", MEMBERS)
def test_member_is_a_separate_package(member: str) -> None:
    folder = ROOT / "packages" / member
    meta = tomllib.loads((folder / "pyproject.toml").read_text())
    import_name = member.replace("-", "_")
    assert meta["project"]["name"] == member
    assert (folder / "README.md").is_file()
    assert (folder / "src" / import_name / "py.typed").is_file()
    assert (folder / "src" / import_name / "__init__.py").is_file()


def _workspace_imports(src: Path) -> set[str]:
    """The ``bgb*`` packages that the modules under ``src`` import (function level too)."""
    found: set[str] = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return {name for name in found if name.startswith("bgb")}


@pytest.mark.parametrize("member", sorted(ALLOWED_DEPENDENCIES))
def test_member_depends_only_on_the_packages_before_it(member: str) -> None:
    folder = ROOT / "packages" / member
    meta = tomllib.loads((folder / "pyproject.toml").read_text())
    declared = {
        re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0] for spec in meta["project"]["dependencies"]
    }
    allowed = ALLOWED_DEPENDENCIES[member]
    assert {name for name in declared if name.startswith("bgb")} == allowed
    imported = _workspace_imports(folder / "src") - {member.replace("-", "_")}
    assert imported <= {name.replace("-", "_") for name in allowed}


@pytest.mark.parametrize("module", ["bgb_events", "bgb_post", "bgb_eval"])
def test_numpy_packages_do_not_import_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cli_group_answers_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "bgb" in result.output
