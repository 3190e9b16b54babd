"""score_folders: matching files by relative path, durations, and the error cases."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_eval import FolderMismatchError, score_folders, score_recordings
from bgb_events import EVENT_DTYPE, AnnotationError, make_events, merge_overlapping, write_csv_bi
from bgb_post import PostprocessConfig, postprocess

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


def test_touching_hypothesis_pieces_are_scored_as_separate_events(tmp_path: Path) -> None:
    """A detection split into touching pieces: the piece away from the seizure is a false
    alarm, as when the pieces are scored in memory (the training report)."""
    ref_dir, hyp_dir = tmp_path / "ref", tmp_path / "hyp"
    ref_dir.mkdir()
    hyp_dir.mkdir()
    seizure = make_events([100.0], [200.0])
    pieces = make_events([0.0, 600.0, 900.0], [600.0, 900.0, 1200.0])
    write_csv_bi(ref_dir / "a.csv_bi", seizure, 1800.0)
    write_csv_bi(hyp_dir / "a.csv_bi", pieces, 1800.0)
    result = score_folders(ref_dir, hyp_dir)
    assert result == score_recordings([(seizure, pieces, 1800.0)])
    assert (result.ovlp.tp, result.ovlp.fn, result.ovlp.fp) == (1.0, 0.0, 2.0)


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.tuples(st.integers(1, 120), st.floats(0.0, 1.0)), min_size=1, max_size=30),
    seizures=st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 200)), max_size=6),
    policy=st.sampled_from(["split", "cap"]),
)
def test_postprocessed_events_score_the_same_from_files(
    levels: list[tuple[int, float]], seizures: list[tuple[int, int]], policy: str
) -> None:
    """What ``bgb detect`` writes and ``bgb score`` reads is what evaluation scores in
    memory, split pieces included. Times sit on a 1/16 s grid, so the file's four
    decimals are exact."""
    sfreq = 16.0
    trace = np.concatenate([np.full(round(n * sfreq), p) for n, p in levels])
    duration_s = trace.size / sfreq
    config = PostprocessConfig(
        tau_on=0.6, tau_off=0.4, min_duration_s=3.0, max_duration_s=40.0,
        long_event_policy=policy,  # type: ignore[arg-type]
    )  # fmt: skip
    hyp = postprocess(trace, sfreq, config)
    hyp["confidence"] = 1.0  # scores ignore it; the file rounds it
    inside = [(s, min(s + n, duration_s)) for s, n in seizures if s < duration_s]
    ref = merge_overlapping(make_events(*zip(*inside, strict=True))) if inside else NONE
    with tempfile.TemporaryDirectory() as tmp:
        ref_dir, hyp_dir = Path(tmp, "ref"), Path(tmp, "hyp")
        ref_dir.mkdir()
        hyp_dir.mkdir()
        write_csv_bi(ref_dir / "r.csv_bi", ref, duration_s)
        write_csv_bi(hyp_dir / "r.csv_bi", hyp, duration_s)
        assert score_folders(ref_dir, hyp_dir) == score_recordings([(ref, hyp, duration_s)])


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
