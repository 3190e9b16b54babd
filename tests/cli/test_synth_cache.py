"""``bgb synth`` then ``bgb cache build`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import bgb_data._task
from bgb_cli.main import cli
from bgb_data import ELECTRODES, write_edf
from bgb_events import make_events, write_csv_bi


def test_synth_then_cache_build(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "synth"
    result = runner.invoke(cli, ["synth", str(data), "--hours", "0.08", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "wrote 3 recordings of 3 patients" in result.output
    edfs = sorted((data / "edf").rglob("*.edf"))
    assert len(edfs) == 3
    assert all(e.with_suffix(".csv_bi").is_file() and e.with_suffix(".csv").is_file() for e in edfs)

    junk = data / "edf" / "eval" / "zzjunk01" / "s001_2010" / "01_tcp_ar" / "zzjunk01_s001_t000.edf"
    junk.parent.mkdir(parents=True)
    junk.write_text("not an edf\n" * 30)
    cache = tmp_path / "cache"
    args = ["cache", "build", "--data-root", str(data), "--out", str(cache)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3 ok, 1 skipped (0 reused)" in result.output
    assert "skipped edf/eval/zzjunk01/s001_2010/01_tcp_ar/zzjunk01_s001_t000.edf: not_edf" in (
        result.output
    )
    manifest = json.loads((cache / "manifest.json").read_text())
    assert {r["status"] for r in manifest["recordings"]} == {"ok", "skipped"}
    for key in ("path", "split", "patient", "status", "reason", "duration_s", "seizures"):
        assert key in manifest["recordings"][0]
    assert "recipe" in manifest

    result = runner.invoke(cli, [*args, "--split", "dev", "--limit-files", "1"])
    assert result.exit_code == 0 and "1 ok, 0 skipped (1 reused)" in result.output
    result = runner.invoke(cli, [*args, "--split", "dev", "--force", "--workers", "1"])
    assert result.exit_code == 0 and "1 ok, 0 skipped (0 reused)" in result.output


def test_cache_build_errors_are_click_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["cache", "build", "--data-root", str(tmp_path), "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 1
    assert "not a TUSZ tree" in result.output


def _recording(root: Path, patient: str, labels: list[str]) -> str:
    """A 70 s recording with a background-only .csv_bi; returns its path under ``root``."""
    rel = f"edf/train/{patient}/s001_2010/01_tcp_ar/{patient}_s001_t000.edf"
    path = root / rel
    path.parent.mkdir(parents=True)
    signals = np.random.default_rng(len(patient)).normal(0, 30, (len(labels), 256 * 70))
    write_edf(path, signals, labels, 256)
    write_csv_bi(path.with_suffix(".csv_bi"), make_events([], []), 70.0)
    return rel


def test_cache_build_exits_1_only_for_unexpected_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    referential = [f"EEG {e.upper()}-REF" for e in ELECTRODES]
    good = [_recording(root, f"zzcli00{i}", referential) for i in range(2)]
    bipolar = _recording(root, "zzcli009", ["FP1-F7", "F7-T7", "T7-P7", "P7-O1"])
    args = ["cache", "build", "--data-root", str(root), "--out", str(tmp_path / "cache")]

    real_prepare = bgb_data._task.prepare_recording

    def prepare_or_crash(edf_path: Path, *rest: object) -> object:
        if Path(edf_path).name.startswith("zzcli001"):
            raise MemoryError("out of memory in a worker")
        return real_prepare(edf_path, *rest)

    monkeypatch.setattr(bgb_data._task, "prepare_recording", prepare_or_crash)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "1 ok, 1 skipped, 1 failed (0 reused)" in result.output
    assert f"skipped {bipolar}: bipolar_montage: " in result.output
    assert "bipolar montage: referential electrodes needed" in result.output
    assert f"failed {good[1]}: unexpected_error: " in result.output
    assert "MemoryError: out of memory in a worker" in result.output
    assert "1 recordings failed for unexpected reasons" in result.output

    monkeypatch.undo()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 ok, 1 skipped (2 reused)" in result.output
    assert "failed" not in result.output
