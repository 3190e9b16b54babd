"""The private-name check that `.ci/run` applies to the workspace, on small trees."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / ".ci/check_private_imports.py"


def _checker(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(CHECK.parent))  # it imports check_import_cycles beside it
    spec = importlib.util.spec_from_file_location("check_private_imports", CHECK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    files = {"a/__init__.py": "", "a/_m.py": "def f(): ...\ndef _g(): ...\n", **files}
    for name, text in files.items():
        path = tmp_path / "packages" / "p" / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # public names of a private module, and private modules themselves, may be imported
        ("from a._m import f\nfrom a import _m\nfrom . import _m as m2\n_m.f()\n", []),
        ("import a._m\nimport a._m as m\na._m.f()\nm.f()\n", []),
        # dunders are not private; other libraries' names are not checked
        ("from a import __doc__\nimport os\nos._exit\nfrom os import _exit\n", []),
        # the module's own private names
        ("def _h(): ...\n_h()\n", []),
        # from m import _x, absolute and relative
        ("from a._m import _g\n", [(1, "_g", "a._m")]),
        ("x = 1\nfrom ._m import f, _g\n", [(2, "_g", "a._m")]),
        ("def run():\n    from a._m import _g as g\n", [(2, "_g", "a._m")]),
        # m._x on an imported module, however it was bound
        ("import a._m\na._m._g()\n", [(2, "_g", "a._m")]),
        ("import a._m as m\nm._g()\n", [(2, "_g", "a._m")]),
        ("from a import _m\n_m._g()\n", [(2, "_g", "a._m")]),
        ("import a\na._m._g()\n", [(2, "_g", "a._m")]),
    ],
)
def test_private_names_of_other_modules_are_found(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    expected: list[tuple[int, str, str]],
) -> None:
    checker = _checker(monkeypatch)
    root = _tree(tmp_path, {"a/x.py": text})
    modules = checker.module_files(root)
    found = checker.private_uses("a.x", modules["a.x"], modules)
    assert [(use.line, use.name, use.owner) for use in found] == expected


def test_the_script_prints_file_line_name_and_module_and_fails(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a/x.py": "from a._m import _g\n"})
    result = subprocess.run(
        [sys.executable, str(CHECK), str(root)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    path = root / "packages/p/src/a/x.py"
    assert f"{path}:1: _g is private to a._m" in result.stdout.splitlines()


def test_the_workspace_uses_no_private_name_of_another_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checker = _checker(monkeypatch)
    modules = checker.module_files(ROOT)
    assert len(modules) > 50
    found = [use for m, p in modules.items() for use in checker.private_uses(m, p, modules)]
    assert [str(use) for use in found] == []
