"""``bgb synth`` then ``bgb cache build`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bgb_cli.main import cli


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
