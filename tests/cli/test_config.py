"""The run configuration schema: shipped configs validate, mistakes are named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bgb.config import ConfigError, load_config, parse_set
from bgb_cli.env import env_assignments
from bgb_cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "configs").rglob("*.yaml"))
DEMO = ROOT / "configs/demo.yaml"


def test_five_configs_ship() -> None:
    names = {str(p.relative_to(ROOT / "configs")) for p in SHIPPED}
    assert {
        "demo.yaml",
        "local/smoke.yaml",
        "local/train.yaml",
        "modal/smoke.yaml",
        "modal/train.yaml",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_validates(path: Path) -> None:
    config = load_config(path)
    # the model accepts the config's windows: a whole number of its time steps
    assert round(config.data.window_s * 256) % config.detector_config().total_stride == 0
    assert 0 < config.postprocess_config().tau_off <= config.postprocess_config().tau_on


def test_seed_values_in_train_configs() -> None:
    local = load_config(ROOT / "configs/local/train.yaml")
    modal = load_config(ROOT / "configs/modal/train.yaml")
    assert (local.training.batch_size, modal.training.batch_size) == (8, 48)
    assert (local.training.mixed_precision, modal.training.mixed_precision) == (False, True)
    assert local.training.learning_rate == modal.training.learning_rate == 5e-5
    assert (local.training.num_workers, modal.training.num_workers) == (4, 8)
    assert local.training.epochs == modal.training.epochs == 100
    assert local.training.patience == 5
    assert str(modal.data.cache_dir) == "/results/cache/tusz"
    post = local.postprocess_config()
    assert (post.tau_on, post.tau_off, post.min_duration_s) == (0.86, 0.78, 3.0)


@pytest.mark.parametrize("name", ["local", "modal"])
def test_tusz_configs_bound_the_epoch_and_end_the_warmup_inside_the_first(name: str) -> None:
    training = load_config(ROOT / f"configs/{name}/train.yaml").training
    assert training.windows_per_epoch is not None and training.warmup_steps is not None
    steps_per_epoch = training.windows_per_epoch // training.batch_size
    assert 0 < training.warmup_steps < steps_per_epoch
    assert training.activation_checkpointing  # the original design's batch does not fit without it


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  epochs: 2\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key 'training\.epoch'"):
        load_config(path)


def test_unknown_model_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  preset: small\n  overrides:\n    tcn:\n      kernel: 5\n")
    with pytest.raises(ConfigError, match="kernel"):
        load_config(path)


def test_unknown_postprocessing_field_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("postprocessing:\n  tau: 0.5\n")
    with pytest.raises(ConfigError, match="tau"):
        load_config(path)


def test_wrong_type_names_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  batch_size: many\n")
    with pytest.raises(ConfigError, match=r"training\.batch_size"):
        load_config(path)


def test_set_overrides_are_validated_like_the_file() -> None:
    config = load_config(None, ["training.epochs=2", "data.root=/x/y"])
    assert config.training.epochs == 2
    assert str(config.data.root) == "/x/y"
    with pytest.raises(ConfigError, match=r"--set training\.epochs=0"):
        load_config(None, ["training.epochs=0"])
    with pytest.raises(ConfigError, match=r"unknown key 'training\.epoch'"):
        load_config(None, ["training.epoch=2"])
    with pytest.raises(ConfigError, match=r"KEY\.PATH=VALUE"):
        parse_set("training.epochs")


def test_changes_that_belong_together_apply_in_any_order() -> None:
    # A longer stride needs a window at least as long: the pair is checked once both apply.
    for order in (
        ["data.window_s=60", "evaluation.inference_stride_s=60"],
        ["evaluation.inference_stride_s=60", "data.window_s=60"],
    ):
        assert load_config(DEMO, order).inference_stride_s() == 60.0


def test_stride_longer_than_window_fails_at_load_naming_the_change() -> None:
    steps = ["evaluation.inference_stride_s=60", "training.epochs=3", "data.window_s=30"]
    with pytest.raises(ConfigError, match=r"--set data\.window_s=30: .*inference_stride_s 60 s"):
        load_config(None, steps)
    # The stride's passing mismatch is resolved by the window; only the epochs are named.
    late = ["evaluation.inference_stride_s=60", "data.window_s=60", "training.epochs=0"]
    with pytest.raises(ConfigError, match=r"^--set training\.epochs=0: training\.epochs[^\n]*$"):
        load_config(DEMO, late)


def test_environment_variables_map_onto_fields() -> None:
    environ = {
        "BGB_SMOKE_TEST": "1",
        "BGB_LIMIT_FILES": "3",
        "BGB_DISABLE_TQDM": "1",
        "BGB_NAN_DEBUG": "true",
        "BGB_FORCE_MANIFEST_REBUILD": "yes",
    }
    config = load_config(None, assignments=env_assignments(environ))
    assert config.training.smoke_test is True
    assert config.data.limit_files == 3
    assert config.training.progress is False
    assert config.training.nan_debug is True
    assert config.data.force_rebuild is True
    # --set wins over the environment
    config = load_config(None, ["data.limit_files=7"], assignments=env_assignments(environ))
    assert config.data.limit_files == 7


def test_bad_environment_value_is_named() -> None:
    with pytest.raises(ConfigError, match="BGB_LIMIT_FILES"):
        env_assignments({"BGB_LIMIT_FILES": "three"})
    with pytest.raises(ConfigError, match="BGB_SMOKE_TEST"):
        env_assignments({"BGB_SMOKE_TEST": "maybe"})


def test_missing_tusz_root_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(f"data:\n  root: {tmp_path / 'nowhere'}\n  cache_dir: {tmp_path / 'c'}\n")
    result = CliRunner().invoke(cli, ["train", str(path)])
    assert result.exit_code == 1
    message = result.output.strip().splitlines()
    assert len(message) == 1
    assert str(tmp_path / "nowhere" / "edf") in message[0]
    assert "TUSZ" in message[0] and "configs/demo.yaml" in message[0]


def test_missing_config_file_is_reported() -> None:
    result = CliRunner().invoke(cli, ["train", "does/not/exist.yaml"])
    assert result.exit_code == 1
    assert "cannot read config does/not/exist.yaml" in result.output


def test_gpu_configs_ask_for_the_kernels() -> None:
    gpu = [p for p in SHIPPED if p.parent.name in ("local", "modal")]
    assert len(gpu) == 4
    assert all(load_config(p).model.backend == "kernel" for p in gpu)


@pytest.mark.skipif(
    __import__("bgb_model").mamba_kernel_available(), reason="mamba-ssm kernels run here"
)
def test_kernel_backend_without_kernels_stops_before_any_work(tmp_path: Path) -> None:
    # the TUSZ root does not exist either: the backend is reported first, before the cache
    result = CliRunner().invoke(
        cli, ["train", str(ROOT / "configs/local/smoke.yaml"),
              "--set", f"data.root={tmp_path / 'absent'}"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert (
        "model.backend" in result.output and "uv sync --all-packages --extra cuda" in result.output
    )
    assert not (tmp_path / "absent").exists()


def test_float64_excludes_mixed_precision() -> None:
    with pytest.raises(ConfigError, match="float64 and mixed_precision"):
        load_config(None, ["training.float64=true", "training.mixed_precision=true"])


def test_hard_negatives_need_balanced_sampling() -> None:
    with pytest.raises(ConfigError, match="hard_negative_share needs balanced_sampling"):
        load_config(None, ["training.hard_negative_share=0.5", "training.balanced_sampling=false"])
    with pytest.raises(ConfigError, match="hard_negative_share"):
        load_config(None, ["training.hard_negative_share=1"])
    assert load_config(None, ["training.hard_negative_share=0.5"]).training.hard_negative_pool == 3
