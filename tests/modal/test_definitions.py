"""The Modal app offline: it imports without a token or network, and its functions, volumes,
machines, time limits and image inputs are as configured. Nothing here talks to Modal."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import modal
import pytest

from bgb_cli.config import ConfigError
from bgb_modal import ACTIONS, ConfigSource, check_volume_paths, settings
from bgb_modal._image import WORKSPACE_MEMBERS, WORKSPACE_PACKAGES, workspace_root

ROOT = Path(__file__).resolve().parents[2]
APP_FILE = ROOT / "apps" / "bgb-modal" / "src" / "bgb_modal" / "app.py"
GPU_FUNCTIONS = ("mamba_check", "train", "evaluate", "detect")
CACHE_FUNCTIONS = ("plan_cache", "build_recording", "finish_cache")


@pytest.fixture(scope="module")
def declared(
    monkeypatch_module: pytest.MonkeyPatch,
) -> tuple[ModuleType, dict[str, dict[str, Any]]]:
    """The app module loaded afresh, with the keyword arguments of each @app.function."""
    options: dict[str, dict[str, Any]] = {}
    original = modal.App.function

    def recording(self: modal.App, **kwargs: Any) -> Any:
        decorate = original(self, **kwargs)

        def wrapper(raw: Any) -> Any:
            options[raw.__name__] = kwargs
            return decorate(raw)

        return wrapper

    monkeypatch_module.setattr(modal.App, "function", recording)
    monkeypatch_module.delenv("MODAL_TOKEN_ID", raising=False)
    monkeypatch_module.delenv("MODAL_TOKEN_SECRET", raising=False)
    spec = importlib.util.spec_from_file_location("bgb_modal_app_under_test", APP_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module, options
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_every_action_has_its_functions(declared: tuple[ModuleType, dict[str, Any]]) -> None:
    module, options = declared
    assert set(options) == {*GPU_FUNCTIONS, *CACHE_FUNCTIONS}
    assert ACTIONS == ("test-mamba", "build-cache", "train", "evaluate", "detect")
    for name in options:
        assert isinstance(getattr(module, name), modal.Function), name
    entry = inspect.signature(module.main.info.raw_f)
    assert list(entry.parameters) == [
        "action", "config", "overrides", "split", "checkpoint", "out", "edfs", "gpus"
    ]  # fmt: skip


def test_gpus_volumes_and_time_limits(declared: tuple[ModuleType, dict[str, Any]]) -> None:
    module, options = declared
    for name in GPU_FUNCTIONS:
        assert options[name]["gpu"] == "A100-80GB", name
    for name in CACHE_FUNCTIONS:
        assert "gpu" not in options[name], name
        assert options[name]["cpu"] == settings.CACHE_CPU
        assert options[name]["memory"] == settings.CACHE_MEMORY_MIB
    for name in ("train", "evaluate", "detect", *CACHE_FUNCTIONS):
        volumes = options[name]["volumes"]
        assert volumes == {"/data": module.data_volume, "/results": module.results_volume}, name
    assert "volumes" not in options["mamba_check"]
    assert options["build_recording"]["max_containers"] == settings.CACHE_MAX_CONTAINERS
    timeouts = {name: options[name]["timeout"] for name in options}
    assert timeouts["train"] == 24 * 3600  # Modal's maximum; longer runs resume in a retry
    assert all(60 <= t <= 24 * 3600 for t in timeouts.values()), timeouts
    retries = options["train"]["retries"]
    assert isinstance(retries, modal.Retries)
    assert "retries" not in options["build_recording"]  # a failed recording is recorded instead
    for name in options:
        assert options[name]["image"] is module.image, name


def test_image_inputs_are_the_workspace_lock_and_members() -> None:
    root = workspace_root()
    assert root == ROOT and (root / "uv.lock").is_file()
    workspace = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = sorted(
        str(p.parent.relative_to(root))
        for pattern in workspace["members"]
        for p in root.glob(f"{pattern}/pyproject.toml")
    )
    assert sorted(WORKSPACE_MEMBERS) == members
    packages = sorted(p.name for m in members for p in (root / m / "src").iterdir() if p.is_dir()
                      and (p / "__init__.py").is_file())  # fmt: skip
    assert sorted(WORKSPACE_PACKAGES) == packages
    lock = (root / "uv.lock").read_text()
    assert '[[package]]\nname = "mamba-ssm"' in lock  # the cuda extra the image syncs is locked
    assert '[[package]]\nname = "torch-geometric"' in lock


@pytest.mark.parametrize("name", ["smoke.yaml", "train.yaml"])
def test_modal_configs_keep_data_and_results_on_the_volumes(name: str) -> None:
    config = ConfigSource.read(ROOT / "configs" / "modal" / name).load()
    check_volume_paths(config)
    assert str(config.data.cache_dir) == "/results/cache/tusz"
    if name == "smoke.yaml":
        assert config.data.limit_files == 50  # smoke runs are limited through the config


def test_a_config_off_the_volumes_is_refused() -> None:
    config = ConfigSource.read(ROOT / "configs" / "demo.yaml").load()
    with pytest.raises(ConfigError, match=r"data\.root=runs/demo/corpus: on Modal it must lie"):
        check_volume_paths(config)
