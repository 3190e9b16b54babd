"""The app's function bodies run locally (``.local()``) on a small synthetic corpus, driven by
the same launcher as ``modal run``; arguments cross a pickle round trip as they would."""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
import pytest
import torch
import yaml

from bgb_data import Manifest, build_cache
from bgb_modal import CloudFunctions, launch
from bgb_modal import app as modal_app

pytestmark = pytest.mark.filterwarnings("ignore:The .* function is executing locally")

TINY: dict[str, Any] = {
    "data": {"window_s": 8, "stride_s": 4, "workers": 1, "limit_files": 2},
    "model": {
        "preset": "small",
        "overrides": {
            "node_stream": {"chunk_size": 32},
            "edge_stream": {"stream": {"chunk_size": 32}},
        },
    },
    "training": {"epochs": 1, "batch_size": 4, "windows_per_epoch": 8, "learning_rate": 1e-3,
                 "device": "cpu", "progress": False, "seed": 3},
    "evaluation": {"inference_stride_s": 4, "n_thresholds": 8, "max_plots": 0,
                   "after_training": False},
}  # fmt: skip


class LocalFunction:
    """Stands in for a ``modal.Function``: calls its body here, pickling what goes in and out."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.options: list[dict[str, Any]] = []

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        return pickle.loads(pickle.dumps(self.function.local(*args, **kwargs)))

    def map(
        self,
        *inputs: Iterable[Any],
        kwargs: dict[str, Any] | None = None,
        order_outputs: bool = True,
        return_exceptions: bool = False,
    ) -> list[Any]:
        results = []
        for items in zip(*inputs, strict=True):
            try:
                results.append(self.remote(*items, **(kwargs or {})))
            except Exception as err:  # as Modal hands back a failed input
                if not return_exceptions:
                    raise
                results.append(err)
        return results

    def with_options(self, **options: Any) -> LocalFunction:
        self.options.append(options)
        return self


def local_functions() -> CloudFunctions:
    names = ["mamba_check", "plan_cache", "build_recording", "finish_cache", "train", "evaluate",
             "detect"]  # fmt: skip
    return CloudFunctions(**{name: LocalFunction(getattr(modal_app, name)) for name in names})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bgb_data import generate_corpus

    root = tmp_path_factory.mktemp("corpus")
    generate_corpus(root, hours=0.2, seed=2, recording_minutes=(1.5, 2.0), no_seizure_share=0.0)
    return root


# CPU-sized: one window of 4 s per step, one step per epoch (two recordings per split, so
# that dev holds a seizure)
CPU_SIZED: dict[str, Any] = {
    "data__window_s": 4,
    "data__stride_s": 4,
    "training__batch_size": 1,
    "training__windows_per_epoch": 1,
    "evaluation__inference_stride_s": 4,
}


def write_config(folder: Path, corpus: Path, **changes: Any) -> Path:
    tree = yaml.safe_load(yaml.safe_dump(TINY))
    tree["data"].update(root=str(corpus), cache_dir=str(folder / "cache"))
    tree["output"] = {"run_dir": str(folder / "run")}
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        tree[section][key] = value
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def run(action: str, functions: CloudFunctions | None = None, **options: Any) -> Any:
    lines: list[str] = []
    result = launch(action, functions or local_functions(), require_volumes=False,
                    echo=lines.append, **options)  # fmt: skip
    return result, lines


def test_build_cache_fans_out_and_matches_the_local_build(corpus: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, corpus)
    outcome, lines = run("build-cache", config=str(config))
    # the corpus has 3 train, 2 dev and 2 eval recordings; the config takes 2 per split
    assert (outcome.n_selected, outcome.n_built, outcome.n_ok) == (6, 6, 6)
    assert lines[0] == "cache: 6 recordings selected, 6 to build"
    reference = tmp_path / "reference"
    build_cache(corpus, reference, limit_files=2)
    assert Manifest.load(tmp_path / "cache").to_dict() == Manifest.load(reference).to_dict()

    again, lines = run("build-cache", config=str(config), overrides=["data.limit_files=3"])
    assert (again.n_selected, again.n_built, again.n_reused) == (7, 1, 6)


class ContainerDied(Exception):
    """Stands in for what Modal returns when an input's container exits mid-call."""


class DyingBuild(LocalFunction):
    """``build_recording`` whose container dies on one recording."""

    def __init__(self, dies_on: str) -> None:
        super().__init__(modal_app.build_recording)
        self.dies_on = dies_on

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        if args[0] == self.dies_on:
            raise ContainerDied("exit code 137")
        return super().remote(*args, **kwargs)


def test_a_build_step_whose_container_dies_fails_alone(corpus: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, corpus)
    victim = "edf/dev/" + next(
        p.relative_to(corpus / "edf" / "dev").as_posix()
        for p in sorted((corpus / "edf" / "dev").rglob("*.edf"))
    )
    functions = dataclasses.replace(local_functions(), build_recording=DyingBuild(victim))
    outcome, lines = run("build-cache", config=str(config), functions=functions)
    assert (outcome.n_selected, outcome.n_ok) == (6, 5)
    assert outcome.skipped == [(victim, "unexpected_error")]
    assert any(victim in line and "ContainerDied: exit code 137" in line for line in lines)
    entry = {e.path: e for e in Manifest.load(tmp_path / "cache").recordings}[victim]
    assert entry.status == "skipped" and "exit code 137" in (entry.message or "")

    # not stored: the next build retries it, and builds it
    again, _ = run("build-cache", config=str(config))
    assert (again.n_built, again.n_reused, again.n_ok) == (1, 5, 6)


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One epoch of one step, through the ``train`` action: (config path, its outcome)."""
    folder = tmp_path_factory.mktemp("trained")
    config = write_config(folder, corpus, **CPU_SIZED)
    outcome, _ = run("train", config=str(config))
    return config, outcome


@pytest.mark.slow
def test_train_writes_the_run_and_a_new_attempt_resumes_it(trained: tuple[Path, Any]) -> None:
    config, first = trained
    run_dir = Path(first.run_dir)
    assert first.status == "finished" and not first.resumed
    assert first.last_epoch["epoch"] == "1"
    assert {"last.pt", "best.pt", "metrics.csv"} <= {p.name for p in run_dir.iterdir()}
    before = torch.load(run_dir / "last.pt", weights_only=True)["model"]

    # an attempt restarted after preemption or a timeout continues from last.pt; this run had
    # finished, so nothing is trained again
    again, _ = run("train", config=str(config))
    assert again.status == "finished" and again.resumed
    assert (run_dir / "metrics.csv").read_text().count("\n") == 2
    after = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(before[name], after[name]) for name in before)

    with pytest.raises(ValueError, match=r"another configuration \(changed: training\.seed\)"):
        run("train", config=str(config), overrides=["training.seed=4"])


@pytest.mark.slow
def test_evaluate_and_detect_on_the_trained_run(
    trained: tuple[Path, Any], corpus: Path, tmp_path: Path
) -> None:
    config, first = trained
    run_dir = Path(first.run_dir)
    report, lines = run("evaluate", config=str(config), split="dev")
    assert report["split"] == "dev" and report["out_dir"] == str(run_dir / "eval-dev")
    assert (run_dir / "eval-dev" / "metrics.json").is_file()
    assert any("OVLP" in line for line in lines)

    folder = tmp_path / "edfs"  # a folder stands for the EDF files under it
    folder.mkdir()
    edf = shutil.copy(sorted((corpus / "edf" / "eval").rglob("*.edf"))[0], folder)
    not_edf = tmp_path / "notes.edf"
    not_edf.write_text("not an EDF\n")
    with pytest.raises(click.ClickException, match="1 files rejected"):
        run("detect", checkpoint=str(run_dir / "best.pt"), edfs=[str(folder), str(not_edf)],
            out=str(tmp_path / "detect"))  # fmt: skip
    assert (tmp_path / "detect" / f"{Path(edf).stem}.csv_bi").is_file()


def test_several_gpus_ask_modal_for_them_in_one_container(corpus: Path, tmp_path: Path) -> None:
    functions = local_functions()
    calls: list[tuple[Any, ...]] = []

    class Recorder(LocalFunction):
        def remote(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return pickle.loads(
                pickle.dumps(modal_app.actions.TrainOutcome("finished", "r", False))
            )

    train = Recorder(modal_app.train)
    functions = CloudFunctions(**{**functions.__dict__, "train": train})
    run("train", functions, config=str(write_config(tmp_path, corpus)), gpus=4)
    assert train.options == [{"gpu": "A100-80GB:4"}]
    assert calls[0][1] == 4


def test_bad_requests_fail_before_any_container(tmp_path: Path) -> None:
    never = CloudFunctions(*[_Never()] * 7)
    with pytest.raises(click.ClickException, match="choose one of mamba-check, build-cache"):
        run("fit", never)
    with pytest.raises(click.ClickException, match="--config is required"):
        run("train", never)
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  epochz: 3\n")
    with pytest.raises(click.ClickException, match=r"bad\.yaml: unknown key 'training\.epochz'"):
        run("train", never, config=str(bad))
    with pytest.raises(click.ClickException, match="must lie under /data"):
        launch("build-cache", never, config="configs/demo.yaml", echo=print)
    with pytest.raises(click.ClickException, match="needs --checkpoint and --edfs"):
        run("detect", never)


class _Never:
    def __getattr__(self, name: str) -> Callable[..., Any]:
        raise AssertionError(f"a cloud function was called ({name})")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_mamba_check_says_why_the_kernel_cannot_run() -> None:
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        run("mamba-check")


def test_several_processes_run_bgb_train_under_torchrun(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bgb_modal import ConfigSource, train_run

    source = ConfigSource.read(write_config(tmp_path, corpus), ["training.seed=5"])
    commands: list[list[str]] = []
    returncode, dump = 0, tmp_path / "run" / "nonfinite_batch.pt"

    def fake_run(command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        if returncode and dump.parent.is_dir():
            dump.write_bytes(b"")  # the run reported a non-finite loss
        assert Path(command[-2]).read_text() == source.text  # the config, written for torchrun
        return subprocess.CompletedProcess(command, returncode)

    monkeypatch.setattr(subprocess, "run", fake_run)
    outcome = train_run(source, n_processes=4)
    assert outcome.status == "finished" and not outcome.resumed
    *launcher, config_path, override = commands[0][1:]
    assert launcher == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4",
                        "-m", "bgb_modal.train_entry"]  # fmt: skip
    assert config_path.endswith("tiny.yaml") and override == "--set=training.seed=5"

    returncode = 1  # a crash: raised, so that Modal retries the attempt from last.pt
    with pytest.raises(RuntimeError, match="torchrun exited with code 1"):
        train_run(source, n_processes=4)
    dump.parent.mkdir()
    failed = train_run(source, n_processes=4)
    assert failed.status == "failed" and "non-finite values" in failed.message
    assert str(dump) in failed.message
