"""Whole-split scores: recordings the cache skipped count as recordings with no detections.

Fast tests read skipped recordings from a hand-written manifest and format hand-written
reports; the slow one evaluates a checkpoint on a synthetic eval split with a truncated and a
too-short recording, and checks its whole-split row against `bgb detect` + `bgb score`.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bgb.evaluation import evaluate_run
from bgb.reporting import format_markdown, format_metrics_table
from bgb.skipped import skipped_recordings
from bgb_cli.main import cli
from bgb_data import ELECTRODES, Manifest, RecordingEntry, write_edf
from bgb_events import make_events, read_annotation, write_csv_bi

SESSION = "edf/eval/aaaaaaac/s001_2013/02_tcp_le"
LABELS = [f"EEG {e}-LE" for e in ELECTRODES]


def _write_recording(folder: Path, stem: str, duration_s: int) -> Path:
    """A readable 256 Hz EDF of noise; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(stem) + duration_s)
    edf = folder / f"{stem}.edf"
    write_edf(edf, rng.normal(0.0, 20.0, (len(LABELS), 256 * duration_s)), LABELS, 256.0)
    return edf


def _truncate(edf: Path) -> None:
    data = edf.read_bytes()
    edf.write_bytes(data[: len(data) // 2])


def _entry(path: str, status: str = "skipped", reason: str | None = "too_short") -> RecordingEntry:
    patient, session, montage = path.split("/")[2:5]
    return RecordingEntry(
        path=path, split=path.split("/")[1], patient=patient, session=session, montage=montage,
        status=status, reason=None if status == "ok" else reason,
        message=None if status == "ok" else f"{path}: {reason}", recipe_hash="test",
        source_size=0, source_mtime_ns=0,
    )  # fmt: skip


def _save_manifest(cache: Path, root: Path, entries: list[RecordingEntry]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    Manifest(
        recipe={}, recipe_hash="test", data_root=str(root), sfreq_hz=256.0, window_n=15360,
        stride_n=2560, recordings=entries,
    ).save(cache)  # fmt: skip


def test_skipped_recordings_are_read_back_from_the_corpus(tmp_path: Path) -> None:
    root, folder = tmp_path / "corpus", tmp_path / "corpus" / SESSION
    # truncated EDF: seizures and duration from its annotation
    _truncate(_write_recording(folder, "trunc", 120))
    write_csv_bi(folder / "trunc.csv_bi", make_events([10.0, 70.0], [40.0, 90.0]), 120.0)
    # annotation without a duration line: the EDF header gives it
    _write_recording(folder, "short", 30)
    (folder / "short.csv_bi").write_text(
        "channel,start_time,stop_time,label,confidence\nTERM,5.0,20.0,seiz,1.0\n"
    )
    # no annotation: seizures unknown
    _write_recording(folder, "bare", 30)
    # neither annotation nor EDF can be read
    (folder / "broken.edf").write_text("not an EDF\n")
    (folder / "broken.csv_bi").write_text("garbage\n")
    # a seizure past the end of the recording: does not fit, so unknown
    _write_recording(folder, "late", 30)
    (folder / "late.csv_bi").write_text(
        "channel,start_time,stop_time,label,confidence\nTERM,25.0,50.0,seiz,1.0\n"
    )
    entries = [
        _entry(f"{SESSION}/bare.edf", reason="no_annotation"),
        _entry(f"{SESSION}/broken.edf", reason="not_edf"),
        _entry(f"{SESSION}/late.edf", reason="bad_annotation"),
        _entry(f"{SESSION}/ok.edf", status="ok"),
        _entry(f"{SESSION}/short.edf", reason="too_short"),
        _entry(f"{SESSION}/trunc.edf", reason="truncated"),
        _entry("edf/dev/aaaaaaab/s001_2012/01_tcp_ar/other.edf", reason="too_short"),
    ]
    _save_manifest(tmp_path / "cache", root, entries)

    found = {Path(s.entry.path).stem: s for s in skipped_recordings(tmp_path / "cache", "eval")}
    assert sorted(found) == ["bare", "broken", "late", "short", "trunc"]
    trunc = found["trunc"].to_dict()
    assert (trunc["reason"], trunc["duration_s"], trunc["n_seizures"]) == ("truncated", 120.0, 2)
    assert trunc["duration_from"] == "annotation" and trunc["unknown"] is None
    short = found["short"].to_dict()
    assert (short["duration_s"], short["duration_from"], short["n_seizures"]) == (
        30.0, "edf_header", 1,
    )  # fmt: skip
    bare = found["bare"].to_dict()
    assert bare["duration_s"] == 30.0 and bare["n_seizures"] is None
    assert "no .csv_bi or .csv annotation" in bare["unknown"]
    broken = found["broken"].to_dict()
    assert broken["duration_s"] is None and broken["n_seizures"] is None
    assert "seizures:" in broken["unknown"] and "duration:" in broken["unknown"]
    assert found["late"].reference is None and "do not fit" in str(found["late"].unknown)

    # the corpus may have moved since the build: data_root says where it is now
    moved = tmp_path / "moved"
    shutil.move(root, moved)
    again = skipped_recordings(tmp_path / "cache", "eval", moved)
    assert [(s.duration_s, s.duration_from, s.unknown is None) for s in again] == [
        (s.duration_s, s.duration_from, s.unknown is None) for s in found.values()
    ]
    assert [len(s.reference) for s in again if s.reference is not None] == [1, 2]


def _scores(tp: int, fn: int, fp: int, hours: float) -> dict[str, Any]:
    counts = {"tp": tp, "fn": fn, "fp": fp, "precision": None, "f1": None}
    rates = {"sensitivity": tp / (tp + fn), "fa_per_24h": fp / hours * 24}
    return {m: {**counts, **rates} for m in ("ovlp", "taes", "szcore")}


def _report(skipped: list[dict[str, Any]], n_unknown: int = 0) -> dict[str, Any]:
    scored = _scores(3, 1, 2, 2.0)
    whole = _scores(3, 1 + len(skipped) - n_unknown, 2, 2.0 + 0.5 * (len(skipped) - n_unknown))
    reasons: dict[str, int] = {}
    for item in skipped:
        reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    return {
        "split": "eval", "checkpoint": "best.pt", "thresholds_from": "checkpoint calibration",
        "n_recordings": 4, "total_duration_s": 7200.0, "n_seizures": 4, "auroc": 0.9,
        "pr_auc": 0.5,
        "default_thresholds": {"tau_on": 0.8, "tau_off": 0.2, **scored, "whole_split": whole},
        "operating_points": [
            {"target_fa_per_24h": 10.0, "tau_on": 0.5, **scored, "whole_split": whole},
            {"target_fa_per_24h": 1.0, "tau_on": None},
        ],
        "whole_split": {
            "n_recordings": 4 + len(skipped) - n_unknown, "n_skipped": len(skipped),
            "n_unknown": n_unknown, "complete": n_unknown == 0,
            "total_duration_s": 7200.0 + 1800.0 * (len(skipped) - n_unknown),
            "n_seizures": 4 + len(skipped) - n_unknown, "skipped_by_reason": reasons,
            "limit_files": None,
        },
        "skipped_recordings": skipped,
    }  # fmt: skip


def _skipped(name: str, reason: str, unknown: str | None = None) -> dict[str, Any]:
    return {
        "path": f"{SESSION}/{name}.edf", "status": "skipped", "reason": reason,
        "message": reason, "duration_s": None if unknown else 1800.0,
        "duration_from": None if unknown else "annotation",
        "n_seizures": None if unknown else 1, "unknown": unknown,
    }  # fmt: skip


def test_report_without_skipped_recordings_says_all_were_scored() -> None:
    report = _report([])
    table = format_metrics_table(report)
    assert "all 4 recordings of the split were scored" in table
    assert "whole split" not in table
    assert len(table.splitlines()) == 2 + 2 + 3  # summary lines, header and rule, rows
    markdown = format_markdown(report, [])
    assert "all 4 recordings of the split were scored." in markdown
    assert "whole split" not in markdown and "Skipped recordings" not in markdown


def test_report_shows_whole_split_rows_and_skip_reasons() -> None:
    report = _report([_skipped("a", "too_short"), _skipped("b", "not_edf")])
    table = format_metrics_table(report)
    assert "2 skipped by the cache: 1 too short, 1 not edf" in table
    lines = table.splitlines()
    whole_rows = [line for line in lines if line.startswith("  whole split")]
    assert len(whole_rows) == 2  # under the default row and the usable operating point
    # the whole-split row follows its scored row: same tp, two more misses, 3 h in all
    assert whole_rows[0].split()[2:4] == ["0.500", "16.00"]
    assert "unknown" not in table and "incomplete" not in table
    markdown = format_markdown(report, [])
    assert "## Skipped recordings" in markdown
    assert f"| `{SESSION}/a.edf` | too_short | 1800.0 | 1 |  |" in markdown
    assert "empty hypothesis file" in markdown


def test_report_marks_an_incomplete_whole_split() -> None:
    report = _report(
        [_skipped("a", "too_short"), _skipped("b", "no_annotation", unknown="no annotation")],
        n_unknown=1,
    )
    table = format_metrics_table(report)
    assert "unknown: 1 skipped recordings" in table and "upper bounds" in table
    assert sum("whole split (incomplete)" in line for line in table.splitlines()) == 2
    assert "| n/a | n/a | no annotation |" in format_markdown(report, [])


# ----------------------------------------------------------------- end to end, slow

TINY = [
    "data.window_s=8", "data.stride_s=4", "model.preset=small",
    "model.overrides={node_stream: {chunk_size: 32}, edge_stream: {stream: {chunk_size: 32}}}",
    "training.device=cpu", "training.progress=false", "evaluation.inference_stride_s=8",
    "evaluation.max_plots=0",
]  # fmt: skip


@pytest.fixture(scope="module")
def split_with_skips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A synthetic corpus whose eval split gains a truncated copy of a recording with a
    seizure and a 30 s recording with one, and an untrained checkpoint (no training needed to
    count) whose 10 FA/24h point puts detections on part of the eval split."""
    import dataclasses

    from bgb.calibration import Calibration, CalibrationPoint
    from bgb.checkpoint import save_checkpoint
    from bgb.config import load_config
    from bgb.evaluation import predict_split
    from bgb_data import build_cache, generate_corpus
    from bgb_model import Detector

    tmp = tmp_path_factory.mktemp("whole_split")
    root = tmp / "corpus"
    generate_corpus(root, hours=0.3, seed=1, recording_minutes=(2.0, 2.5))
    for split in ("train", "dev"):  # nothing here needs them; the cache builds faster
        shutil.rmtree(root / "edf" / split)
    edfs = sorted(root.glob("edf/eval/*/*/*/*.edf"))
    with_seizure = next(e for e in edfs if read_annotation(e.with_suffix(".csv_bi")).events.size)
    folder, stem = with_seizure.parent, with_seizure.stem[: -len("t000")]
    shutil.copy(with_seizure, folder / f"{stem}t008.edf")
    _truncate(folder / f"{stem}t008.edf")
    shutil.copy(with_seizure.with_suffix(".csv_bi"), folder / f"{stem}t008.csv_bi")
    _write_recording(folder, f"{stem}t009", 30)
    write_csv_bi(folder / f"{stem}t009.csv_bi", make_events([5.0], [20.0]), 30.0)

    sets = [f"data.root={root}", f"data.cache_dir={tmp / 'cache'}", *TINY]
    config = load_config(None, sets)
    build_cache(root, config.data.cache_dir)
    torch.manual_seed(0)
    model = Detector(config.detector_config(), backend=config.model.backend).eval()
    cache, cpu = config.data.cache_dir, torch.device("cpu")
    probs = np.concatenate([p.probs for p in predict_split(model, config, cache, "eval", cpu)])
    tau_on, tau_off = (float(q) for q in np.quantile(probs, [0.7, 0.5]))
    calibration = Calibration(
        split="dev", epoch=0, window_s=config.data.window_s,
        inference_stride_s=config.evaluation.inference_stride_s,
        postprocessing=dataclasses.asdict(config.postprocess_config()),
        points=(CalibrationPoint(10.0, tau_on, tau_off, None, None),),
    )  # fmt: skip
    checkpoint = tmp / "untrained.pt"
    save_checkpoint(checkpoint, {
        "format": 1, "config": config.model_dump(mode="json"),
        "detector_config": config.detector_config().to_dict(), "model": model.state_dict(),
        "epoch": 0, "calibration": calibration.to_dict(),
    })  # fmt: skip
    return config, checkpoint


def _counts(scores: dict[str, Any]) -> tuple[float, float, float]:
    return scores["tp"], scores["fn"], scores["fp"]


@pytest.mark.slow
def test_evaluate_scores_the_whole_split_as_bgb_score_does(
    split_with_skips: tuple[Any, Path], tmp_path: Path
) -> None:
    import yaml

    config, checkpoint = split_with_skips
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli, ["evaluate", "--checkpoint", str(checkpoint), "--config", str(config_path),
              "--split", "eval", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())

    skipped = {Path(s["path"]).stem[-4:]: s for s in report["skipped_recordings"]}
    assert {k: (s["reason"], s["duration_from"]) for k, s in skipped.items()} == {
        "t008": ("truncated", "annotation"), "t009": ("too_short", "annotation"),
    }  # fmt: skip
    for item in skipped.values():
        annotation = read_annotation((config.data.root / item["path"]).with_suffix(".csv_bi"))
        assert (item["duration_s"], item["n_seizures"]) == (annotation.duration_s, 1)
    whole = report["whole_split"]
    assert (whole["n_skipped"], whole["n_unknown"], whole["complete"]) == (2, 0, True)
    assert whole["n_recordings"] == report["n_recordings"] + 2
    assert whole["n_seizures"] == report["n_seizures"] + 2
    total_s = report["total_duration_s"] + sum(s["duration_s"] for s in skipped.values())
    assert whole["total_duration_s"] == pytest.approx(total_s)
    assert "2 skipped by the cache:" in result.output and "1 too short" in result.output
    assert "  whole split" in result.output
    assert "## Skipped recordings" in (out / "report.md").read_text()

    # every row: the skipped seizures are misses and their hours dilute the false alarms
    point = report["operating_points"][0]
    for row in (report["default_thresholds"], point):
        scored, ovlp = row["ovlp"], row["whole_split"]["ovlp"]
        assert _counts(ovlp) == (scored["tp"], scored["fn"] + 2, scored["fp"])
        assert ovlp["sensitivity"] == pytest.approx(scored["tp"] / whole["n_seizures"])
        assert ovlp["fa_per_24h"] == pytest.approx(scored["fp"] / total_s * 86400)

    # the same recordings scored by hand: detections of the scored ones, none for the others
    eval_edfs = sorted(Path(config.data.root).glob("edf/eval/*/*/*/*.edf"))
    scored_edfs = [e for e in eval_edfs if e.stem[-4:] not in skipped]
    detect = tmp_path / "detect"
    result = CliRunner().invoke(
        cli, ["detect", *map(str, scored_edfs), "--checkpoint", str(checkpoint),
              "--device", "cpu", "--out", str(detect)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    reference = tmp_path / "reference"
    reference.mkdir()
    for edf in eval_edfs:
        shutil.copy(edf.with_suffix(".csv_bi"), reference)
    scores_json = tmp_path / "score.json"
    result = CliRunner().invoke(
        cli,
        ["score", str(reference), str(detect), "--missing-as-empty", "--json", str(scores_json)],
    )
    assert result.exit_code == 0, result.output
    by_hand = json.loads(scores_json.read_text())
    assert by_hand["total_duration_s"] == pytest.approx(total_s)
    for method in ("ovlp", "szcore"):
        got, expected = by_hand[method], point["whole_split"][method]
        assert _counts(got) == _counts(expected), method
        for rate in ("sensitivity", "fa_per_24h"):
            assert math.isclose(got[rate], expected[rate], rel_tol=1e-9), (method, rate)
    # TAES counts overlap fractions; .csv_bi files keep event times to 1e-4 s
    got, expected = by_hand["taes"], point["whole_split"]["taes"]
    assert _counts(got) == pytest.approx(_counts(expected), abs=1e-3)
    assert got["fa_per_24h"] == pytest.approx(expected["fa_per_24h"], abs=1e-2)


@pytest.mark.slow
def test_a_skipped_recording_without_annotation_leaves_the_whole_split_incomplete(
    split_with_skips: tuple[Any, Path], tmp_path: Path
) -> None:
    # The corpus as evaluation finds it now: the truncated recording has lost its annotation.
    config, checkpoint = split_with_skips
    moved = tmp_path / "corpus"
    shutil.copytree(config.data.root / "edf" / "eval", moved / "edf" / "eval")
    lost = next(moved.rglob("*t008.csv_bi"))
    lost.unlink()
    here = config.model_copy(update={"data": config.data.model_copy(update={"root": moved})})
    report = evaluate_run(checkpoint, here, config.data.cache_dir, "eval", tmp_path / "eval")
    whole = report["whole_split"]
    assert (whole["n_skipped"], whole["n_unknown"], whole["complete"]) == (2, 1, False)
    unknown = [s for s in report["skipped_recordings"] if s["unknown"]]
    assert [Path(s["path"]).stem[-4:] for s in unknown] == ["t008"]
    # its header states more data than the file holds, so its duration is unknown too
    assert unknown[0]["n_seizures"] is None and unknown[0]["duration_s"] is None
    assert "seizures: no .csv_bi" in unknown[0]["unknown"]
    assert "duration: " in unknown[0]["unknown"] and "header states" in unknown[0]["unknown"]
    # only the 30 s recording is added: one more miss, 30 s more
    ovlp = report["default_thresholds"]["whole_split"]["ovlp"]
    assert ovlp["fn"] == report["default_thresholds"]["ovlp"]["fn"] + 1
    assert whole["total_duration_s"] == pytest.approx(report["total_duration_s"] + 30.0)
    table = format_metrics_table(report)
    assert "whole split (incomplete)" in table and "unknown: 1 skipped" in table
