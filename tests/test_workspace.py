"""The workspace is laid out as promised: members import, the CLI answers, and the
numpy-only packages stay free of torch."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from bgb_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = ["bgb-data", "bgb-model", "bgb-post", "bgb-eval"]


@pytest.mark.parametrize("member", MEMBERS)
def test_member_is_a_separate_package(member: str) -> None:
    folder = ROOT / "packages" / member
    meta = tomllib.loads((folder / "pyproject.toml").read_text())
    import_name = member.replace("-", "_")
    assert meta["project"]["name"] == member
    assert (folder / "README.md").is_file()
    assert (folder / "src" / import_name / "py.typed").is_file()
    assert (folder / "src" / import_name / "__init__.py").is_file()


@pytest.mark.parametrize("module", ["bgb_post", "bgb_eval"])
def test_numpy_packages_do_not_import_torch(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cli_group_answers_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "bgb" in result.output
