"""score_folders: matching files by relative path, durations, and the error cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bgb_eval import FolderMismatchError, score_folders, score_recordings
from bgb_events import EVENT_DTYPE, AnnotationError, make_events, write_csv_bi

NONE = np.empty(0, dtype=EVENT_DTYPE)


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    (ref / "p1").mkdir(parents=True)
    (hyp / "p1").mkdir(parents=True)
    write_csv_bi(ref / "p1" / "a.csv_bi", make_events([10.0], [40.0]), 600.0)
    write_csv_bi(ref / "b.csv_bi", NONE, 1200.0)
    write_csv_bi(hyp / "p1" / "a.csv_bi", make_events([20.0, 300.0], [30.0, 310.0]), 600.0)
    write_csv_bi(hyp / "b.csv_bi", make_events([5.0], [8.0]), 1200.0)
    return ref, hyp


def test_scores_match_scoring_the_events_directly(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    result = score_folders(ref, hyp)
    expected = score_recordings(
        [
            (make_events([10.0], [40.0]), make_events([20.0, 300.0], [30.0, 310.0]), 600.0),
            (NONE, make_events([5.0], [8.0]), 1200.0),
        ]
    )
    assert result == expected
    assert result.n_recordings == 2
    assert result.total_duration_s == 1800.0


def test_missing_hypothesis(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    (hyp / "b.csv_bi").unlink()
    with pytest.raises(FolderMismatchError, match=r"no hypothesis for .*b\.csv_bi"):
        score_folders(ref, hyp)
    result = score_folders(ref, hyp, missing_as_empty=True)
    assert result.n_recordings == 2
    assert result.ovlp.fp == 1


def test_orphan_hypothesis(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    write_csv_bi(hyp / "extra.csv_bi", NONE, 100.0)
    with pytest.raises(FolderMismatchError, match=r"without a reference: .*extra\.csv_bi"):
        score_folders(ref, hyp, missing_as_empty=True)


def test_reference_without_duration(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    text = (ref / "b.csv_bi").read_text().replace("# duration = 1200.00 secs\n", "")
    (ref / "b.csv_bi").write_text(text)
    with pytest.raises(AnnotationError, match=r"b\.csv_bi: no '# duration"):
        score_folders(ref, hyp)


def test_hypothesis_duration_disagrees(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    write_csv_bi(hyp / "b.csv_bi", NONE, 1300.0)
    with pytest.raises(AnnotationError, match="differs from the reference"):
        score_folders(ref, hyp)


def test_hypothesis_without_duration_beyond_reference(folders: tuple[Path, Path]) -> None:
    ref, hyp = folders
    (hyp / "b.csv_bi").write_text(
        "channel,start_time,stop_time,label,confidence\nTERM,1190,1250,seiz,1\n"
    )
    with pytest.raises(AnnotationError, match="after the reference duration"):
        score_folders(ref, hyp)


def test_empty_or_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderMismatchError, match=r"no .* reference files"):
        score_folders(tmp_path / "empty", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        score_folders(tmp_path / "nope", tmp_path / "empty")
