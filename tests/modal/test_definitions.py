"""The Modal app offline: it imports without a token or network, and its functions, volumes,
machines, time limits, image inputs and run configs agree with ``bgb_modal.settings``, with
each other and with Modal's limits. Nothing here talks to Modal."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import sys
import tomllib
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import modal
import pytest

from bgb.config import ConfigError
from bgb_modal import ACTIONS, CloudFunctions, ConfigSource, check_volume_paths, launch, settings
from bgb_modal._image import WORKSPACE_MEMBERS, WORKSPACE_PACKAGES, workspace_root

ROOT = Path(__file__).resolve().parents[2]
APP_FILE = ROOT / "apps" / "bgb-modal" / "src" / "bgb_modal" / "app.py"
GPU_FUNCTIONS = ("mamba_check", "train", "evaluate", "detect")
CACHE_FUNCTIONS = ("plan_cache", "build_recording", "finish_cache")
MODAL_MAX_TIMEOUT_S = 24 * 60 * 60
"""Modal's limit on one attempt of a function (docs: guide/timeouts); retries start afresh."""
COMPUTE_CAPABILITY = {"A100": "8.0", "A10G": "8.6", "L4": "8.9", "L40S": "8.9", "H100": "9.0",
                      "H200": "9.0", "B200": "10.0"}  # fmt: skip
"""NVIDIA compute capability of Modal's GPU types, to check mamba-ssm is built for the one used."""
MODAL_CONFIGS = ("smoke.yaml", "train.yaml")


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
    roles = {field.name for field in dataclasses.fields(CloudFunctions)}
    assert set(options) == roles == {*GPU_FUNCTIONS, *CACHE_FUNCTIONS}
    for name in options:
        assert isinstance(getattr(module, name), modal.Function), name
    assert all(f"``{action}``" in (module.__doc__ or "") for action in ACTIONS)
    # every option of the launcher is on the command line, with the same default
    entry = inspect.signature(module.main.info.raw_f).parameters
    launcher = inspect.signature(launch).parameters
    internal = {"functions", "require_volumes", "echo"}  # not for the person at the terminal
    assert set(entry) == set(launcher) - internal
    for name in ("split", "checkpoint", "out", "gpus", "config"):
        assert entry[name].default == launcher[name].default, name


def test_gpus_volumes_and_time_limits(declared: tuple[ModuleType, dict[str, Any]]) -> None:
    module, options = declared
    for name in GPU_FUNCTIONS:
        assert options[name]["gpu"] == settings.GPU, name
    # one GPU type, without a count (``--gpus N`` appends it), that mamba-ssm is compiled for
    assert ":" not in settings.GPU
    family = settings.GPU.split("-")[0]
    assert COMPUTE_CAPABILITY[family] in settings.CUDA_ARCH_LIST.split(";"), settings.GPU
    for name in CACHE_FUNCTIONS:
        assert "gpu" not in options[name], name
        assert options[name]["cpu"] == settings.CACHE_CPU
        assert options[name]["memory"] == settings.CACHE_MEMORY_MIB
    mounts = {
        settings.DATA_MOUNT: module.data_volume,
        settings.RESULTS_MOUNT: module.results_volume,
    }
    for name in ("train", "evaluate", "detect", *CACHE_FUNCTIONS):
        assert options[name]["volumes"] == mounts, name
    assert "volumes" not in options["mamba_check"]
    assert options["build_recording"]["max_containers"] == settings.CACHE_MAX_CONTAINERS
    timeouts = {name: options[name]["timeout"] for name in options}
    assert all(60 <= t <= MODAL_MAX_TIMEOUT_S for t in timeouts.values()), timeouts
    # training resumes from last.pt in the next attempt: each attempt gets all Modal allows
    assert timeouts["train"] == MODAL_MAX_TIMEOUT_S == max(timeouts.values())
    retries = options["train"]["retries"]
    assert isinstance(retries, modal.Retries)
    assert retries.max_retries == settings.TRAIN_RETRIES >= 1
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


def under(path: object, mount: str) -> bool:
    """Whether a config path lies under a container mount point (POSIX paths, as in Modal)."""
    return PurePosixPath(str(path)).is_relative_to(mount)


@pytest.mark.parametrize("name", MODAL_CONFIGS)
def test_modal_configs_keep_data_and_results_on_the_volumes(name: str) -> None:
    config = ConfigSource.read(ROOT / "configs" / "modal" / name).load()
    check_volume_paths(config)
    assert under(config.data.root, settings.DATA_MOUNT)  # TUSZ, uploaded once
    # what a run writes goes to the results volume, which every function commits
    assert under(config.data.cache_dir, settings.RESULTS_MOUNT)
    assert under(config.output.run_dir, settings.RESULTS_MOUNT)


def test_smoke_and_full_run_share_the_cache_but_not_the_run() -> None:
    smoke, full = (ConfigSource.read(ROOT / "configs" / "modal" / n).load() for n in MODAL_CONFIGS)
    assert (smoke.data.root, smoke.data.cache_dir) == (full.data.root, full.data.cache_dir)
    # the full run would otherwise resume from the smoke run's last.pt
    assert smoke.output.run_dir != full.output.run_dir
    assert smoke.data.limit_files is not None and full.data.limit_files is None


def test_a_config_off_the_volumes_is_refused() -> None:
    config = ConfigSource.read(ROOT / "configs" / "demo.yaml").load()
    assert not under(config.data.root, settings.DATA_MOUNT)
    message = f"data.root={config.data.root}: on Modal it must lie under {settings.DATA_MOUNT}"
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_volume_paths(config)
