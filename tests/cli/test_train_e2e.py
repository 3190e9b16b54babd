"""End to end on a tiny synthetic corpus: train, resume exactly after a crash, stop on a
non-finite loss, evaluate, detect (with bad inputs)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import bgb_cli.commands.detect
from bgb.calibration import Calibration, CalibrationPoint
from bgb.checkpoint import load_checkpoint
from bgb.config import RunConfig, load_config
from bgb.corpus import ensure_cache
from bgb.inference import inference_batch_size
from bgb.training import NonFiniteLossError, Trainer
from bgb_cli.main import cli

pytestmark = pytest.mark.slow

TINY = [
    "data.window_s=8",
    "data.stride_s=4",
    "data.workers=1",
    "model.preset=small",
    "model.overrides={node_stream: {chunk_size: 32}, edge_stream: {stream: {chunk_size: 32}}}",
    "training.epochs=2",
    "training.batch_size=4",
    "training.windows_per_epoch=16",
    "training.learning_rate=1e-3",
    "training.device=cpu",
    "training.progress=false",
    "training.seed=3",
    "evaluation.inference_stride_s=8",
    "evaluation.batch_size=16",  # the narrow test models pay per call, not per window
    "evaluation.n_thresholds=8",
    "evaluation.max_plots=1",
    "evaluation.after_training=false",
]
# Narrower still, for the tests that check resumed weights bit for bit rather than learning:
# the same stages and checkpoint contents at a fraction of the arithmetic.
NARROW_MODEL = (
    "model.overrides={tcn: {channels: [4, 4, 4, 4, 8, 8, 8, 8]},"
    " node_stream: {d_model: 8, n_layers: 1, headdim: 4, d_state: 4, chunk_size: 32},"
    " edge_stream: {pair_width: 4, stream: {d_model: 4, headdim: 4, chunk_size: 32}},"
    " head: {hidden: 8}}"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bgb_data import generate_corpus

    root = tmp_path_factory.mktemp("corpus")
    generate_corpus(root, hours=0.3, seed=1, recording_minutes=(2.0, 2.5))
    return root


def _config(corpus: Path, tmp: Path, run: str, *extra: str) -> RunConfig:
    sets = [f"data.root={corpus}", f"data.cache_dir={corpus.parent / 'cache'}",
            f"output.run_dir={tmp / run}", *TINY, *extra]  # fmt: skip
    return load_config(None, sets)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = load_checkpoint(run_dir / "last.pt")["model"]
    return state


class _Crash(RuntimeError):
    pass


def _crash_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    original = Trainer._train_step

    def crashing(self: Trainer, *args: Any) -> float:
        if self.step == step:
            raise _Crash(f"killed at step {step}")
        return original(self, *args)

    monkeypatch.setattr(Trainer, "_train_step", crashing)


def _crash_and_reload(
    config: RunConfig, cache: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> Trainer:
    """Train ``config`` until it crashes at ``step``; a new Trainer resumed from its last.pt."""
    with monkeypatch.context() as patch:
        _crash_at(patch, step)
        with pytest.raises(_Crash):
            Trainer(config, cache).fit()
    resumed = Trainer(config, cache)
    resumed.resume(config.output.run_dir / "last.pt")
    return resumed


def test_resume_after_crash_reaches_the_same_weights(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 steps per epoch; last.pt is written at steps 3, 4 (epoch end), 6 and 8 (epoch end).
    every = "training.checkpoint_every_steps=3"
    straight = _config(corpus, tmp_path, "straight", every, NARROW_MODEL)
    cache = ensure_cache(straight, progress=False)
    result = Trainer(straight, cache).fit()
    assert result.epochs_run == 2
    assert (tmp_path / "straight" / "best.pt").is_file()
    assert (tmp_path / "straight" / "metrics.csv").read_text().count("\n") == 3

    # step 7: inside epoch 2, one step after the mid-epoch checkpoint
    crashed = _config(corpus, tmp_path, "crashed", every, NARROW_MODEL)
    resumed = _crash_and_reload(crashed, cache, monkeypatch, 7)
    assert (resumed.epoch, resumed.step, resumed.step_in_epoch) == (1, 6, 2)
    reads: list[int] = []
    dataset = type(resumed.windows.windows)
    read = dataset.__getitem__
    with monkeypatch.context() as patch:
        patch.setattr(dataset, "__getitem__", lambda self, i: reads.append(i) or read(self, i))
        resumed.fit()
    assert len(reads) == 2 * 4  # the epoch's last two batches; the first two are not read

    expected, got = _weights(tmp_path / "straight"), _weights(tmp_path / "crashed")
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    history = load_checkpoint(tmp_path / "crashed" / "last.pt")["history"]
    assert [(r["step"], r["train_loss"]) for r in history] == [
        (r["step"], r["train_loss"]) for r in result.history
    ]


def test_weight_average_is_what_checkpoints_hold_and_resumes_exactly(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ema = "training.ema_decay=0.5"
    straight = _config(corpus, tmp_path, "straight", ema, NARROW_MODEL)
    cache = ensure_cache(straight, progress=False)
    Trainer(straight, cache).fit()
    # step 5: inside epoch 2, after the checkpoint at the end of epoch 1
    crashed = _config(corpus, tmp_path, "crashed", ema, NARROW_MODEL)
    _crash_and_reload(crashed, cache, monkeypatch, 5).fit()
    expected = load_checkpoint(tmp_path / "straight" / "last.pt")
    got = load_checkpoint(tmp_path / "crashed" / "last.pt")
    assert expected["ema_updates"] == got["ema_updates"] == 8  # one update per step
    for key in ("model", "train_weights"):
        for name in expected[key]:
            assert torch.equal(expected[key][name], got[key][name]), (key, name)
    averaged, raw = expected["model"], expected["train_weights"]
    moved = [n for n in raw if raw[n].is_floating_point() and not torch.equal(raw[n], averaged[n])]
    assert moved  # the checkpoint's model is the average, not the last optimised weights


def _background_scores(trainer: Trainer) -> dict[int, float]:
    """Each window without seizure's highest logit under the trainer's evaluated weights."""
    model = trainer.evaluated_model.eval()
    scores = {}
    with torch.no_grad():
        for i in trainer.draw.background_windows.tolist():
            x = torch.from_numpy(trainer.windows.windows[i][0])[None]
            scores[i] = float(model(x).max())
    return scores


def test_hard_negatives_are_the_top_scored_background_and_resume_exactly(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 windows without seizure per epoch, half of them hard from epoch 2; a pool as large as
    # the background, so the chosen are the top 4 of all; last.pt also at step 6 (mid epoch 2)
    sets = ("training.hard_negative_share=0.5", "training.hard_negative_pool=1000",
            "training.hard_negative_from_epoch=2", "training.checkpoint_every_steps=3",
            NARROW_MODEL)  # fmt: skip
    straight = _config(corpus, tmp_path, "straight", *sets)
    cache = ensure_cache(straight, progress=False)
    Trainer(straight, cache).fit()
    expected = load_checkpoint(tmp_path / "straight" / "last.pt")
    assert len(expected["hard_negatives"]) == 4

    # step 5: epoch 2 has started from the end-of-epoch-1 checkpoint, so it mines again
    at_start = _crash_and_reload(
        _config(corpus, tmp_path, "at-start", *sets), cache, monkeypatch, 5
    )
    assert (at_start.epoch, at_start.step_in_epoch, at_start.hard_negatives) == (1, 0, [])
    scores = _background_scores(at_start)
    top = sorted(sorted(scores, key=lambda i: -scores[i])[:4])
    assert at_start._mine_hard_negatives() == top == expected["hard_negatives"]
    at_start.train_model.train()
    at_start.fit()

    # step 7: after the mid-epoch checkpoint, which carries the epoch's hard negatives
    mid = _crash_and_reload(_config(corpus, tmp_path, "mid", *sets), cache, monkeypatch, 7)
    assert (mid.epoch, mid.step_in_epoch, mid.hard_negatives) == (1, 2, top)
    mid.fit()
    for run in ("at-start", "mid"):
        got = load_checkpoint(tmp_path / run / "last.pt")
        assert got["hard_negatives"] == top
        for name in expected["model"]:
            assert torch.equal(expected["model"][name], got["model"][name]), (run, name)


def _train_process(config_file: Path, sets: list[str], *extra: str) -> subprocess.Popen[bytes]:
    code = "import sys; from bgb_cli.main import cli; cli.main(args=sys.argv[1:])"
    args = [sys.executable, "-c", code, "train", str(config_file), *extra]
    for item in sets:
        args += ["--set", item]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_resume_after_sigkill_reaches_the_same_weights(corpus: Path, tmp_path: Path) -> None:
    # A real `bgb train` process is killed with SIGKILL as soon as its first mid-epoch
    # checkpoint exists, wherever it then is; `bgb train --resume` must end on the weights of
    # a run that was never interrupted (3 epochs of 4 steps, last.pt every 2 steps).
    extra = ("training.checkpoint_every_steps=2", "training.epochs=3", NARROW_MODEL)
    straight = _config(corpus, tmp_path, "straight", *extra)
    cache = ensure_cache(straight, progress=False)
    Trainer(straight, cache).fit()

    run_dir = tmp_path / "killed"
    sets = [f"data.root={corpus}", f"data.cache_dir={corpus.parent / 'cache'}",
            f"output.run_dir={run_dir}", *TINY, *extra]  # fmt: skip
    config_file = tmp_path / "run.yaml"
    config_file.write_text("{}\n")
    process = _train_process(config_file, sets)
    deadline = time.monotonic() + 300
    while not (run_dir / "last.pt").is_file():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    killed_at = load_checkpoint(run_dir / "last.pt")["step"]
    assert killed_at < 12  # the kill landed before the end of training

    resumed = _train_process(config_file, sets, "--resume")
    _, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr.decode()
    expected, got = _weights(tmp_path / "straight"), _weights(run_dir)
    assert load_checkpoint(run_dir / "last.pt")["step"] == 12
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


def test_nonfinite_loss_stops_and_names_the_batch(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(corpus, tmp_path, "nan")
    cache = ensure_cache(config, progress=False)
    trainer = Trainer(config, cache)
    forward = trainer.model.forward

    def poisoned(x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = forward(x)
        return out * float("nan") if trainer.step == 2 else out

    monkeypatch.setattr(trainer.model, "forward", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"step 3") as caught:
        trainer.fit()
    assert ".edf @ " in str(caught.value)
    dump = torch.load(tmp_path / "nan" / "nonfinite_batch.pt", weights_only=True)
    assert dump["x"].shape[0] == 4 and len(dump["windows"]) == 4


def test_nan_caught_by_a_stage_check_is_dumped_like_a_nan_loss(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(corpus, tmp_path, "stage")
    trainer = Trainer(config, ensure_cache(config, progress=False))
    step = Trainer._train_step

    def poisoned(self: Trainer, *args: Any) -> float:
        if self.step == 1:  # finite input, a weight gone bad: the encoder's check sees it
            with torch.no_grad():
                self.model.encoder.project.weight[0, 0] = float("nan")
        return step(self, *args)

    monkeypatch.setattr(Trainer, "_train_step", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"TCN encoder output.*step 2; batch saved"):
        trainer.fit()
    dump = torch.load(tmp_path / "stage" / "nonfinite_batch.pt", weights_only=True)
    assert torch.isfinite(dump["x"]).all() and "TCN encoder output" in dump["error"]


def test_a_nan_window_stops_before_the_forward_and_names_it(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(corpus, tmp_path, "input")
    trainer = Trainer(config, ensure_cache(config, progress=False))
    dataset = type(trainer.windows.windows)
    read = dataset.__getitem__

    def poisoned(self: Any, i: int) -> Any:
        x, y = read(self, i)
        if trainer.step == 1:
            x[3, 100] = float("inf")
        return x, y

    monkeypatch.setattr(dataset, "__getitem__", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"non-finite values in the input windows.*step 2"):
        trainer.fit()
    dump = torch.load(tmp_path / "input" / "nonfinite_batch.pt", weights_only=True)
    assert not torch.isfinite(dump["x"]).all() and "input windows" in dump["error"]


def test_patience_counts_after_the_warmup_and_a_reached_target(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 steps per epoch; the warm-up ends at step 14, inside epoch 4
    config = _config(corpus, tmp_path, "patience", "training.epochs=6", "training.patience=1",
                     "training.warmup_steps=14")  # fmt: skip
    trainer = Trainer(config, ensure_cache(config, progress=False))
    dev = iter([{}, {"sensitivity_at_10fa": 0.5}, {"sensitivity_at_10fa": 0.4},
                {"sensitivity_at_10fa": 0.4}, {"sensitivity_at_10fa": 0.9}])  # fmt: skip
    monkeypatch.setattr(trainer, "_validate", lambda: next(dev))
    result = trainer.fit()
    # epoch 1 reached no target, epoch 3 ended inside the warm-up: neither counts; epoch 4 does
    assert result.stopped_early and result.epochs_run == 4 and result.best_epoch == 2
    assert [row["bad_epochs"] for row in result.history] == [0, 0, 0, 1]
    lrs = [row["lr"] for row in result.history]  # after steps 4, 8, 12 (warm-up), 16 (cosine)
    assert lrs[:3] == pytest.approx([5e-3 / 14, 9e-3 / 14, 13e-3 / 14])
    assert lrs[3] < 1e-3


def test_patience_waits_for_an_epoch_that_finds_seizures(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An epoch that detects nothing "meets" any FA target with sensitivity 0; such epochs
    # must not run the patience down before the model has found a single seizure.
    config = _config(corpus, tmp_path, "nothing-found", "training.epochs=6",
                     "training.patience=1", "training.warmup_steps=2")  # fmt: skip
    trainer = Trainer(config, ensure_cache(config, progress=False))
    dev = iter([{"sensitivity_at_10fa": 0.0}, {"sensitivity_at_10fa": 0.0},
                {"sensitivity_at_10fa": 0.0}, {"sensitivity_at_10fa": 0.5},
                {"sensitivity_at_10fa": 0.4}])  # fmt: skip
    monkeypatch.setattr(trainer, "_validate", lambda: next(dev))
    result = trainer.fit()
    assert result.stopped_early and result.epochs_run == 5 and result.best_epoch == 4
    assert [row["bad_epochs"] for row in result.history] == [0, 0, 0, 0, 1]


def _five_epochs(corpus: Path, folder: Path, *extra: str) -> Trainer:
    """A trainer of five epochs, patience 1 and a warm-up of two steps, writing to ``folder``."""
    sets = ("training.epochs=5", "training.patience=1", "training.warmup_steps=2", *extra)
    config = _config(corpus, folder, "run", *sets)
    return Trainer(config, ensure_cache(config, progress=False))


def _script_dev(
    trainer: Trainer, monkeypatch: pytest.MonkeyPatch, results: list[dict[str, Any]]
) -> list[int]:
    """Make dev evaluations return ``results`` in turn; the list fills with the epochs
    (counted from 1) that were evaluated."""
    evaluated: list[int] = []
    remaining = iter(results)

    def validate() -> dict[str, Any]:
        evaluated.append(trainer.epoch + 1)
        return next(remaining)

    monkeypatch.setattr(trainer, "_validate", validate)
    return evaluated


def test_dev_every_n_epochs_evaluates_those_and_the_last_and_counts_only_them(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = _five_epochs(corpus, tmp_path / "every", "evaluation.dev_every_epochs=2")
    evaluated = _script_dev(
        trainer, monkeypatch, [{"sensitivity_at_10fa": s} for s in (0.5, 0.6, 0.7)]
    )
    result = trainer.fit()
    # epochs 2 and 4 and the last (5); patience 1 is not run down by epoch 3 in between
    assert evaluated == [2, 4, 5] and result.epochs_run == 5 and not result.stopped_early
    assert result.best_epoch == 5
    assert [row["bad_epochs"] for row in result.history] == [0, 0, 0, 0, 0]
    assert ["sensitivity_at_10fa" in row for row in result.history] == [
        False,
        True,
        False,
        True,
        True,
    ]


def test_first_dev_epoch_holds_back_evaluation_and_a_tie_keeps_the_earlier_epoch(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = _five_epochs(corpus, tmp_path / "first", "evaluation.first_dev_epoch=3")
    dev = [{"sensitivity_at_10fa": s, "sensitivity_at_5fa": 0.5} for s in (0.8, 0.8, 0.6)]
    evaluated = _script_dev(trainer, monkeypatch, dev)
    result = trainer.fit()
    # epochs 1 and 2 are not evaluated; epoch 4 only ties epoch 3, which stays the best
    assert evaluated == [3, 4] and result.best_epoch == 3
    assert [row["bad_epochs"] for row in result.history] == [0, 0, 0, 1]
    assert (
        result.stopped_early
        and load_checkpoint(tmp_path / "first" / "run" / "best.pt")["epoch"] == 3
    )


def test_a_warmup_as_long_as_the_run_is_refused(corpus: Path, tmp_path: Path) -> None:
    config = _config(corpus, tmp_path, "long", "training.warmup_steps=8")
    with pytest.raises(ValueError, match=r"warmup_steps=8 does not end before the 8 planned"):
        Trainer(config, ensure_cache(config, progress=False))


def test_resume_refuses_a_changed_config_unless_it_is_set(corpus: Path, tmp_path: Path) -> None:
    import yaml

    config = _config(corpus, tmp_path, "resumed", "training.epochs=1")
    Trainer(config, ensure_cache(config, progress=False)).fit()
    tree = config.model_dump(mode="json")
    tree["training"]["learning_rate"] = 2e-3
    tree["training"]["focal_gamma"] = 1.0
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(tree))
    refused = CliRunner().invoke(cli, ["train", str(path), "--resume"])
    assert refused.exit_code == 1
    assert "differs in training.focal_gamma, training.learning_rate" in refused.output
    half = CliRunner().invoke(cli, ["train", str(path), "--resume",
                                    "--set", "training.learning_rate=2e-3"])  # fmt: skip
    assert half.exit_code == 1 and "differs in training.focal_gamma." in half.output
    sets = ["--set", "training.learning_rate=2e-3", "--set", "training.focal_gamma=1"]
    both = CliRunner().invoke(cli, ["train", str(path), "--resume", *sets])
    assert both.exit_code == 0, both.output


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunConfig, Path]:
    tmp = tmp_path_factory.mktemp("trained")
    config = _config(corpus, tmp, "run", "training.epochs=1")
    cache = ensure_cache(config, progress=False)
    Trainer(config, cache).fit()
    return config, tmp / "run" / "best.pt"


def _write_config(config: RunConfig, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def test_evaluate_writes_the_report(trained: tuple[RunConfig, Path], tmp_path: Path) -> None:
    config, checkpoint = trained
    config_path = _write_config(config, tmp_path / "run.yaml")
    out = tmp_path / "eval"
    args = ["evaluate", "--checkpoint", str(checkpoint), "--config", str(config_path),
            "--split", "eval", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    # the points chosen on dev while training, stored in best.pt, are the ones applied
    assert report["split"] == "eval"
    assert report["thresholds_from"] == "checkpoint calibration (dev, epoch 1)"
    assert report["calibration"] == load_checkpoint(checkpoint)["calibration"]
    for method in ("ovlp", "taes", "szcore"):
        assert {"tp", "fn", "fp", "sensitivity", "fa_per_24h"} <= report["default_thresholds"][
            method
        ].keys()
    assert [p["target_fa_per_24h"] for p in report["operating_points"]] == [10, 5, 2.5, 1]
    assert (out / "report.md").is_file()
    assert (out / "sensitivity_fa_curve.png").stat().st_size > 0
    assert len(list((out / "recordings").glob("*.png"))) == 1
    assert "OVLP sens" in result.output


def test_detect_writes_events_and_rejects_bad_files(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path
) -> None:
    _, checkpoint = trained
    edf = sorted(corpus.rglob("*.edf"))[0]
    not_edf = tmp_path / "notes.edf"
    not_edf.write_text("this is not an EDF file\n")
    truncated = tmp_path / "truncated.edf"
    truncated.write_bytes(edf.read_bytes()[:5000])
    out = tmp_path / "detect"
    result = CliRunner().invoke(
        cli, ["detect", str(edf), str(not_edf), str(truncated), str(tmp_path / "missing.edf"),
              "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    stem = edf.stem
    assert (out / f"{stem}.csv_bi").read_text().startswith("# version = csv_v1.0.0")
    events_tsv = (out / f"{stem}_events.tsv").read_text()
    assert events_tsv.startswith("onset\tduration")
    # dateTime is the EDF's start (SzCORE reads it), not n/a
    from bgb_data import read_edf_header

    start = read_edf_header(edf).start
    assert start is not None
    assert start.strftime("%Y-%m-%d %H:%M:%S") in events_tsv.splitlines()[1]
    assert (out / f"{stem}.png").stat().st_size > 0
    rejected = [line for line in result.output.splitlines() if line.startswith("rejected")]
    assert len(rejected) == 3
    assert {"notes.edf", "truncated.edf", "missing.edf"} == {
        Path(line.split()[1].rstrip(":")).name for line in rejected
    }
    assert not (out / "notes.csv_bi").exists()


def test_python_detect_on_a_path_and_on_an_mne_raw_agree_with_the_cli(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path
) -> None:
    import mne

    import bgb

    _, checkpoint = trained
    edf = sorted(corpus.rglob("*.edf"))[0]
    cli_out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["detect", str(edf), "--checkpoint", str(checkpoint),
                                      "--out", str(cli_out), "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    detector = bgb.load_trained(checkpoint, torch.device("cpu"))
    in_memory = bgb.detect(edf, detector, device="cpu")
    assert in_memory.files is None
    assert in_memory.probabilities.shape == (round(in_memory.duration_s * 256),)
    raw = mne.io.read_raw_edf(edf, preload=True, infer_types=False, verbose="error")
    from_raw = bgb.detect(raw, checkpoint, out_dir=tmp_path / "raw", stem=edf.stem, device="cpu")
    # the same samples through the same preprocessing and model: the same trace and events
    assert np.array_equal(from_raw.probabilities, in_memory.probabilities)
    assert np.array_equal(from_raw.events, in_memory.events)
    assert from_raw.files is not None
    from_cli = (cli_out / f"{edf.stem}.csv_bi").read_text()
    assert from_raw.files.csv_bi.read_text() == from_cli


def _detect_first(trained: tuple[RunConfig, Path], corpus: Path) -> tuple[Path, list[str]]:
    """The corpus's first EDF and the `bgb detect` arguments for it on CPU (no --out)."""
    edf = sorted(corpus.rglob("*.edf"))[0]
    return edf, ["detect", str(edf), "--checkpoint", str(trained[1]), "--device", "cpu"]


def test_detect_compile_without_a_compiler_says_so_and_runs_uncompiled(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bgb_model.compiled

    edf, args = _detect_first(trained, corpus)
    plain = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    monkeypatch.setattr(bgb_model.compiled, "cpp_compiler", lambda: None)
    asked = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "asked"), "--compile"])
    assert asked.exit_code == 0, asked.output
    assert asked.output.count("note: not compiling: no C++ compiler found") == 1
    name = f"{edf.stem}.csv_bi"
    assert (tmp_path / "asked" / name).read_text() == (tmp_path / "plain" / name).read_text()


def test_detect_stride_changes_the_window_count_and_is_bounded(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TINY trains 8 s windows and infers every 8 s; --stride 2 places about four times as many.
    _, base = _detect_first(trained, corpus)
    progress = bgb_cli.commands.detect._WindowProgress
    original = progress.update
    seen: list[int] = []

    def spy(self: bgb_cli.commands.detect._WindowProgress, n_windows: int) -> None:
        seen.append(n_windows)
        original(self, n_windows)

    monkeypatch.setattr(progress, "update", spy)
    counts = {}
    for stride in ("8", "2"):
        seen.clear()
        result = CliRunner().invoke(
            cli, [*base, "--out", str(tmp_path / stride), "--stride", stride]
        )
        assert result.exit_code == 0, result.output
        counts[stride] = sum(seen)
    assert counts["8"] >= 2 and counts["2"] > 3 * counts["8"]
    too_long = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "x"), "--stride", "9"])
    assert too_long.exit_code == 2
    assert "--stride" in too_long.output and "8.0 s window" in too_long.output


def test_inference_batch_defaults_to_one_window_on_cpu() -> None:
    assert inference_batch_size(None, torch.device("cpu")) == 1
    assert inference_batch_size(None, torch.device("cuda")) == 16
    assert inference_batch_size(4, torch.device("cpu")) == 4


def test_training_stores_the_dev_operating_points(trained: tuple[RunConfig, Path]) -> None:
    config, checkpoint = trained
    calibration = load_checkpoint(checkpoint)["calibration"]
    assert calibration["split"] == "dev" and calibration["epoch"] == 1
    assert calibration["inference_stride_s"] == config.evaluation.inference_stride_s == 8
    assert [p["target_fa_per_24h"] for p in calibration["points"]] == [10, 5, 2.5, 1]
    assert (
        calibration["postprocessing"]["min_duration_s"]
        == config.postprocess_config().min_duration_s
    )


def test_evaluate_calibrates_a_checkpoint_without_points(
    trained: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    config, original = trained
    checkpoint = tmp_path / "bare.pt"
    state = load_checkpoint(original)
    del state["calibration"]
    torch.save(state, checkpoint)
    config_path = _write_config(config, tmp_path / "run.yaml")
    args = ["evaluate", "--checkpoint", str(checkpoint), "--config", str(config_path),
            "--split", "eval", "--out", str(tmp_path / "eval")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert "the checkpoint holds no calibration" in report["thresholds_from"]
    # chosen on dev now and written into the checkpoint, for bgb detect
    assert load_checkpoint(checkpoint)["calibration"] == report["calibration"]


def _calibrated_copy(
    original: Path, folder: Path, points: tuple[CalibrationPoint, ...] | None = None
) -> Path:
    """The checkpoint with known operating points: by default 10 and 5 FA/24h usable, 1 FA/24h
    not."""
    from bgb.trained import store_calibration

    checkpoint = folder / "calibrated.pt"
    checkpoint.write_bytes(original.read_bytes())
    stored = Calibration.from_dict(load_checkpoint(original)["calibration"])
    if points is None:
        points = (
            CalibrationPoint(10.0, 0.3, 0.2, 0.95, 8.0),
            CalibrationPoint(5.0, 0.6, 0.5, 0.9, 4.0),
            CalibrationPoint(1.0, None, None, None, None),
        )
    store_calibration(checkpoint, Calibration(**{**stored.__dict__, "points": points}))
    return checkpoint


def test_detect_says_when_its_point_found_no_dev_seizure(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path
) -> None:
    # Dev had no threshold finding a seizure within 10 FA/24h: the highest was kept.
    points = (CalibrationPoint(10.0, 0.9999, 0.9199, 0.0, 0.0),
              CalibrationPoint(5.0, 0.6, 0.5, 0.9, 4.0))  # fmt: skip
    checkpoint = _calibrated_copy(trained[1], tmp_path, points)
    edf = sorted(corpus.rglob("*.edf"))[0]
    base = ["detect", str(edf), "--checkpoint", str(checkpoint), "--device", "cpu"]
    silent = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "ten")])
    assert silent.exit_code == 0, silent.output
    assert "found none of dev's seizures" in silent.output
    other = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "five"),
                                     "--operating-point", "5"])  # fmt: skip
    assert other.exit_code == 0, other.output
    assert "found none of dev's seizures" not in other.output


def test_detect_thresholds_the_averaged_trace_when_the_checkpoint_says_so(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path
) -> None:
    import dataclasses

    import bgb
    from bgb.trained import store_calibration
    from bgb_post import moving_average, postprocess, postprocess_averaged

    checkpoint = _calibrated_copy(trained[1], tmp_path)
    stored = Calibration.from_dict(load_checkpoint(checkpoint)["calibration"])
    # a calibration written before trim_to_raw existed reads as trim_to_raw false
    older = {k: v for k, v in stored.postprocessing.items() if k != "trim_to_raw"}
    smoothed = {**older, "smoothing_s": 5.0}
    store_calibration(checkpoint, dataclasses.replace(stored, postprocessing=smoothed))
    edf = sorted(corpus.rglob("*.edf"))[0]
    found = bgb.detect(edf, checkpoint, device="cpu")
    post = found.thresholds.post_config
    assert post.smoothing_s == 5.0 and not post.trim_to_raw
    # the events are those of the plain pipeline on the averaged trace
    averaged = moving_average(found.probabilities, found.sfreq_hz, 5.0)
    plain = dataclasses.replace(post, smoothing_s=None)
    assert found.events.tobytes() == postprocess(averaged, found.sfreq_hz, plain).tobytes()
    # and not those of the raw trace (here at least the confidences, event means, differ)
    raw = postprocess(found.probabilities, found.sfreq_hz, plain)
    assert found.events.tobytes() != raw.tobytes()

    # with the trim: edges from the raw trace, said in the thresholds line and the csv_bi
    trimmed = {**smoothed, "trim_to_raw": True}
    store_calibration(checkpoint, dataclasses.replace(stored, postprocessing=trimmed))
    out = tmp_path / "out"
    args = ["detect", str(edf), "--checkpoint", str(checkpoint), "--device", "cpu"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert (
        "tau_on 0.3000, tau_off 0.2000 on the 5 s moving average, edges from the raw trace"
        in result.output
    )
    csv_bi = (out / f"{edf.stem}.csv_bi").read_text()
    assert "# bgb_smoothing_s = 5\n" in csv_bi and "# bgb_trim_to_raw = true\n" in csv_bi
    sidecar = json.loads((out / f"{edf.stem}_detect.json").read_text())
    assert sidecar["operating_point"]["postprocessing"]["smoothing_s"] == 5.0
    assert sidecar["operating_point"]["postprocessing"]["trim_to_raw"] is True
    assert not (out / f"{edf.stem}.png").exists()
    again = bgb.detect(edf, checkpoint, device="cpu")
    post = again.thresholds.post_config
    assert post.trim_to_raw
    # bgb_post's tests show what the trim does; here, that detect runs it (this tiny model's
    # trace stays above tau_on to the recording's ends, so its one event keeps its edges)
    want = postprocess_averaged(averaged, again.probabilities, again.sfreq_hz, post)
    assert again.events.tobytes() == want.tobytes()
    assert again.events.size == found.events.size


def test_detect_applies_the_calibrated_operating_point(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path
) -> None:
    config, original = trained
    checkpoint = _calibrated_copy(original, tmp_path)
    edf = sorted(corpus.rglob("*.edf"))[0]
    base = ["detect", str(edf), "--checkpoint", str(checkpoint), "--device", "cpu"]

    def run(name: str, *extra: str) -> tuple[Any, dict[str, Any], str]:
        result = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / name), *extra])
        if result.exit_code != 0:
            return result, {}, ""
        sidecar = json.loads((tmp_path / name / f"{edf.stem}_detect.json").read_text())
        return result, sidecar, (tmp_path / name / f"{edf.stem}.csv_bi").read_text()

    result, sidecar, csv_bi = run("default")
    assert result.exit_code == 0, result.output
    assert "10 FA/24h operating point chosen on dev at epoch 1: tau_on 0.3000" in result.output
    assert sidecar["operating_point"]["tau_on"] == 0.3 and sidecar["stride_s"] == 8
    assert sidecar["operating_point"]["target_fa_per_24h"] == 10
    assert "# bgb_tau_on = 0.3\n" in csv_bi and "# bgb_tau_off = 0.2\n" in csv_bi

    result, sidecar, _ = run("five", "--operating-point", "5")
    assert sidecar["operating_point"]["tau_on"] == 0.6, result.output

    result, sidecar, _ = run("override", "--tau-on", "0.9", "--tau-off", "0.8")
    assert (sidecar["operating_point"]["tau_on"], sidecar["operating_point"]["tau_off"]) == (
        0.9, 0.8,
    )  # fmt: skip
    assert "--tau-on/--tau-off over the 10 FA/24h operating point" in result.output

    result, _, _ = run("one", "--operating-point", "1")
    assert result.exit_code == 1
    assert "usable points for 10, 5 FA/24h" in result.output

    bare = tmp_path / "bare.pt"
    state = load_checkpoint(original)
    del state["calibration"]
    torch.save(state, bare)
    result = CliRunner().invoke(
        cli, ["detect", str(edf), "--checkpoint", str(bare), "--device", "cpu",
              "--out", str(tmp_path / "bare")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    post = config.postprocess_config()
    assert f"holds no calibration; the run config's thresholds: tau_on {post.tau_on:.4f}" in (
        result.output
    )


@pytest.mark.parametrize("kind", ["text", "tensor", "dict"])
def test_detect_refuses_what_is_not_a_bgb_checkpoint(
    corpus: Path, tmp_path: Path, kind: str
) -> None:
    fake = tmp_path / "model.pt"
    if kind == "text":
        fake.write_text("not a checkpoint\n")
    elif kind == "tensor":
        torch.save(torch.zeros(3), fake)
    else:
        torch.save({"model": {}}, fake)
    edf = sorted(corpus.rglob("*.edf"))[0]
    result = CliRunner().invoke(
        cli, ["detect", str(edf), "--checkpoint", str(fake), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert "is not a bgb checkpoint" in result.output
    assert "weights_only" not in result.output and "Traceback" not in result.output


def test_detect_keeps_same_named_inputs_apart(
    trained: tuple[RunConfig, Path], corpus: Path, tmp_path: Path
) -> None:
    _, checkpoint = trained
    edf = sorted(corpus.rglob("*.edf"))[0]
    first, second = tmp_path / "site-a" / "rec.edf", tmp_path / "site-b" / "rec.edf"
    for copy in (first, second):
        copy.parent.mkdir()
        copy.write_bytes(edf.read_bytes())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["detect", str(first), str(second), "--checkpoint", str(checkpoint),
              "--device", "cpu", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "rec.csv_bi", "rec.png", "rec_2.csv_bi", "rec_2.png", "rec_2_detect.json",
        "rec_2_events.tsv", "rec_detect.json", "rec_events.tsv",
    ]  # fmt: skip
    sidecars = [json.loads((out / n).read_text()) for n in ("rec_detect.json", "rec_2_detect.json")]
    assert [s["edf"] for s in sidecars] == [str(first), str(second)]
    assert sidecars[0]["channels"]["interpolated"] == {}  # the synthetic corpus has all 19
