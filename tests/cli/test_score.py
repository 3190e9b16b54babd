"""``bgb score`` through click's CliRunner: exit codes, table and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bgb_cli.main import cli
from bgb_events import EVENT_DTYPE, make_events, write_csv_bi


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    ref.mkdir()
    hyp.mkdir()
    write_csv_bi(ref / "r1.csv_bi", make_events([100.0], [160.0]), 3600.0)
    write_csv_bi(ref / "r2.csv_bi", np.empty(0, dtype=EVENT_DTYPE), 3600.0)
    write_csv_bi(hyp / "r1.csv_bi", make_events([110.0, 1000.0], [150.0, 1010.0]), 3600.0)
    write_csv_bi(hyp / "r2.csv_bi", np.empty(0, dtype=EVENT_DTYPE), 3600.0)
    return ref, hyp


def test_score_prints_table_and_writes_json(folders: tuple[Path, Path], tmp_path: Path) -> None:
    ref, hyp = folders
    out = tmp_path / "not" / "yet" / "scores.json"  # missing folders are created
    result = CliRunner().invoke(cli, ["score", str(ref), str(hyp), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 recordings, 2.00 h" in result.output
    assert "ovlp" in result.output and "szcore" in result.output
    data = json.loads(out.read_text())
    assert data["n_recordings"] == 2
    assert data["total_duration_s"] == 7200.0
    for method in ("ovlp", "taes", "szcore"):
        assert {"tp", "fn", "fp", "sensitivity", "fa_per_24h"} <= set(data[method])
    assert (data["ovlp"]["tp"], data["ovlp"]["fn"], data["ovlp"]["fp"]) == (1, 0, 1)
    assert data["ovlp"]["sensitivity"] == 1.0
    assert data["ovlp"]["fa_per_24h"] == pytest.approx(12.0)


def test_missing_hypothesis_fails_unless_allowed(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    (hyp / "r2.csv_bi").unlink()
    result = CliRunner().invoke(cli, ["score", str(ref), str(hyp)])
    assert result.exit_code == 1
    assert "r2.csv_bi" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["score", str(ref), str(hyp), "--missing-as-empty"])
    assert result.exit_code == 0, result.output


def test_bad_file_names_file_and_line(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    with (hyp / "r1.csv_bi").open("a") as handle:
        handle.write("TERM,5,oops,seiz,1\n")
    result = CliRunner().invoke(cli, ["score", str(ref), str(hyp)])
    assert result.exit_code == 1
    assert "r1.csv_bi:9" in result.output
    assert "Traceback" not in result.output
