"""Label masks from annotation files, and window positions with tail coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bgb_data import (
    RecordingError,
    find_annotation,
    label_mask,
    window_seizure_fractions,
    window_starts,
)
from bgb_data._labels import read_seizures
from bgb_events import make_events

HEADER = "# version = csv_v1.0.0\n# duration = 120.00 secs\n#\n"
COLUMNS = "channel,start_time,stop_time,label,confidence\n"


def test_label_mask_half_open_at_256_hz() -> None:
    mask = label_mask(make_events([1.0], [2.0]), 1000)
    assert mask.dtype == np.uint8
    assert np.flatnonzero(mask).tolist() == list(range(256, 512))
    pairs = label_mask([(0.5, 1.0), (3.0, 10.0)], 1000)  # second event cut at the end
    assert pairs.sum() == 128 + (1000 - 768)
    assert label_mask(np.empty((0, 2)), 10).sum() == 0


def test_label_mask_rejects_event_after_end() -> None:
    with pytest.raises(ValueError, match="starts outside the recording"):
        label_mask([(5.0, 6.0)], 256)


def test_bckg_only_file_gives_no_seizures(tmp_path: Path) -> None:
    path = tmp_path / "r.csv_bi"
    path.write_text(HEADER + COLUMNS + "TERM,0.0000,120.0000,bckg,1.0000\n")
    assert read_seizures(path, 120.0) == []


def test_channel_csv_union_and_nesz(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        HEADER + COLUMNS
        + "FP1-F7,0.0,10.0,bckg,1.0\nFP1-F7,10.0,30.0,fnsz,1.0\nFP1-F7,30.0,120.0,bckg,1.0\n"
        + "F7-T3,0.0,12.0,bckg,1.0\nF7-T3,12.0,35.0,cpsz,1.0\nF7-T3,35.0,120.0,bckg,1.0\n"
        + "T3-T5,0.0,50.0,bckg,1.0\nT3-T5,50.0,60.0,nesz,1.0\nT3-T5,60.0,120.0,bckg,1.0\n"
    )  # fmt: skip
    assert read_seizures(path, 120.0) == [(10.0, 35.0)]


def test_short_row_is_a_bad_annotation(tmp_path: Path) -> None:
    path = tmp_path / "r.csv_bi"
    path.write_text(HEADER + COLUMNS + "TERM,10.0,20.0,seiz\n")
    with pytest.raises(RecordingError, match=r"r.csv_bi:5") as err:
        read_seizures(path, 120.0)
    assert err.value.reason == "bad_annotation"


def test_duration_mismatch_is_a_bad_annotation(tmp_path: Path) -> None:
    path = tmp_path / "r.csv_bi"
    path.write_text(HEADER + COLUMNS + "TERM,0.0,120.0,bckg,1.0\n")
    with pytest.raises(RecordingError, match="duration of 120 s"):
        read_seizures(path, 300.0)


def test_find_annotation_prefers_csv_bi(tmp_path: Path) -> None:
    edf = tmp_path / "a.edf"
    assert find_annotation(edf) is None
    (tmp_path / "a.csv").write_text("")
    assert find_annotation(edf) == tmp_path / "a.csv"
    (tmp_path / "a.csv_bi").write_text("")
    assert find_annotation(edf) == tmp_path / "a.csv_bi"


@pytest.mark.parametrize("n_samples", [15360, 15361, 17919, 17920, 17921, 100_000, 921_600])
def test_windows_cover_every_sample(n_samples: int) -> None:
    starts = window_starts(n_samples)
    assert starts[0] == 0
    assert starts[-1] + 15360 == n_samples  # the tail is covered, nothing reads past it
    assert np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= 2560)
    covered = np.zeros(n_samples, dtype=bool)
    for s in starts:
        covered[s : s + 15360] = True
    assert covered.all()


def test_windows_regular_stride_without_tail() -> None:
    assert window_starts(15360 + 2 * 2560).tolist() == [0, 2560, 5120]
    assert window_starts(100, window_n=40, stride_n=30).tolist() == [0, 30, 60]
    with pytest.raises(ValueError, match="shorter than one window"):
        window_starts(15359)


def test_window_fractions() -> None:
    labels = np.zeros(100, dtype=np.uint8)
    labels[30:50] = 1
    starts = window_starts(100, window_n=40, stride_n=30)
    assert window_seizure_fractions(labels, starts, 40).tolist() == pytest.approx(
        [10 / 40, 20 / 40, 0.0]
    )
