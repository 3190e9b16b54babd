"""Readers and writers of TUSZ .csv_bi/.csv and BIDS events.tsv annotation files."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from bgb_events import (
    EVENT_DTYPE,
    AnnotationError,
    make_events,
    read_annotation,
    read_csv_bi,
    read_events_tsv,
    read_tusz_csv,
    write_csv_bi,
    write_events_tsv,
)

HEADER = """# version = csv_v1.0.0
# bname = rec_s001_t000
# duration = 720.00 secs
# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt
#
channel,start_time,stop_time,label,confidence
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_bi_reads_seizures_and_duration(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "a.csv_bi",
        HEADER + "TERM,224.0071,258.9804,seiz,1.0000\nTERM,408.9508,430.9425,seiz,0.5000\n",
    )
    ann = read_csv_bi(path)
    assert ann.duration_s == 720.0
    assert ann.path == path
    assert ann.events.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(ann.events["start_s"], [224.0071, 408.9508])
    np.testing.assert_array_equal(ann.events["stop_s"], [258.9804, 430.9425])
    np.testing.assert_array_equal(ann.events["confidence"], [1.0, 0.5])


def test_csv_bi_background_only_has_no_seizures(tmp_path: Path) -> None:
    path = _write(tmp_path, "b.csv_bi", HEADER + "TERM,0.0000,720.0000,bckg,1.0000\n")
    ann = read_annotation(path)
    assert ann.events.size == 0
    assert ann.duration_s == 720.0


def test_csv_bi_without_duration_line(tmp_path: Path) -> None:
    text = "channel,start_time,stop_time,label,confidence\nTERM,1,2,seiz,1\n"
    ann = read_csv_bi(_write(tmp_path, "c.csv_bi", text))
    assert ann.duration_s is None
    assert ann.events.size == 1


def test_csv_bi_overlapping_rows_are_merged_unsorted_rows_sorted(tmp_path: Path) -> None:
    rows = "TERM,50,60,seiz,0.2\nTERM,10,20,seiz,1\nTERM,15,30,seiz,0.7\nTERM,30,40,seiz,0.1\n"
    ann = read_csv_bi(_write(tmp_path, "d.csv_bi", HEADER + rows))
    np.testing.assert_array_equal(ann.events["start_s"], [10, 50])
    np.testing.assert_array_equal(ann.events["stop_s"], [40, 60])
    np.testing.assert_array_equal(ann.events["confidence"], [1.0, 0.2])


def test_csv_bi_touching_rows_merge_unless_kept_apart(tmp_path: Path) -> None:
    rows = "TERM,300,600,seiz,0.9\nTERM,0,300,seiz,0.4\nTERM,590,620,seiz,0.1\n"
    path = _write(tmp_path, "t.csv_bi", HEADER + rows)
    assert read_csv_bi(path).events.tolist() == [(0.0, 620.0, 0.9)]
    # Kept apart, the touching pair stays two events; the overlapping row still merges.
    apart = read_csv_bi(path, merge_touching=False).events
    assert apart.tolist() == [(0.0, 300.0, 0.4), (300.0, 620.0, 0.9)]


def test_channel_level_csv_is_union_over_channels(tmp_path: Path) -> None:
    rows = (
        "FP1-F7,10.0,20.0,fnsz,1.0\n"
        "F7-T3,15.0,25.0,fnsz,1.0\n"
        "T3-T5,0.0,720.0,bckg,1.0\n"
        "C3-P3,100.0,110.0,nesz,1.0\n"
        "O1-O2,300.0,320.0,gnsz,1.0\n"
    )
    ann = read_tusz_csv(_write(tmp_path, "e.csv", HEADER + rows))
    assert ann.events[["start_s", "stop_s"]].tolist() == [(10.0, 25.0), (300.0, 320.0)]
    assert read_annotation(tmp_path / "e.csv").events.size == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("TERM,10,20,seiz\n", "5 comma-separated fields"),
        ("TERM,ten,20,seiz,1\n", "start_time 'ten' is not a number"),
        ("TERM,10,nan,seiz,1\n", "not finite"),
        ("TERM,30,20,seiz,1\n", "is not before stop"),
        ("TERM,20,20,seiz,1\n", "is not before stop"),
        ("TERM,-1,20,seiz,1\n", "negative"),
        ("TERM,10,20,artf,1\n", "unknown label 'artf'"),
        ("FP1-F7,10,20,seiz,1\n", "channel 'FP1-F7'"),
        ("TERM,720,730,seiz,1\n", "at or after the end"),
        ("TERM,700,721.5,seiz,1\n", "more than 1.0 s after"),
    ],
)
def test_csv_bi_bad_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = _write(tmp_path, "bad.csv_bi", HEADER + "TERM,1,2,seiz,1\n" + row)
    with pytest.raises(AnnotationError, match=message) as info:
        read_csv_bi(path)
    assert f"{path}:8" in str(info.value)


def test_csv_bi_bad_header_and_duration(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="expected the header"):
        read_csv_bi(_write(tmp_path, "h.csv_bi", "start,stop\n1,2\n"))
    with pytest.raises(AnnotationError, match="no header line"):
        read_csv_bi(_write(tmp_path, "e.csv_bi", "# version = csv_v1.0.0\n"))
    with pytest.raises(AnnotationError, match="duration"):
        read_csv_bi(_write(tmp_path, "d.csv_bi", "# duration = many secs\n" + HEADER))
    with pytest.raises(AnnotationError, match="cannot read"):
        read_csv_bi(tmp_path / "missing.csv_bi")
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        read_annotation(tmp_path / "x.txt")


def test_stop_slightly_past_duration_is_clipped_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, "s.csv_bi", HEADER + "TERM,700,720.4,seiz,1\n")
    with caplog.at_level(logging.WARNING, logger="bgb_events"):
        ann = read_csv_bi(path)
    assert ann.events["stop_s"].tolist() == [720.0]
    assert "clipped" in caplog.text
    assert f"{path}:7" in caplog.text


def test_csv_bi_round_trip(tmp_path: Path) -> None:
    events = make_events([1.5, 100.25], [20.0, 200.125], [0.9, 0.75])
    path = tmp_path / "rt.csv_bi"
    write_csv_bi(path, events, 1000.0)
    text = path.read_text()
    assert text.startswith("# version = csv_v1.0.0\n# bname = rt\n# duration = 1000.00 secs\n")
    assert "TERM,1.5000,20.0000,seiz,0.9000" in text
    ann = read_csv_bi(path)
    assert ann.duration_s == 1000.0
    np.testing.assert_array_equal(ann.events, events)


def test_csv_bi_writer_empty_is_background_row(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv_bi"
    write_csv_bi(path, np.empty(0, dtype=EVENT_DTYPE), 61.123)
    assert "# duration = 61.1230 secs" in path.read_text()
    assert path.read_text().splitlines()[-1] == "TERM,0.0000,61.1230,bckg,1.0000"
    ann = read_csv_bi(path)
    assert ann.events.size == 0
    assert ann.duration_s == 61.123


def test_writers_reject_bad_events(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="after the recording"):
        write_csv_bi(tmp_path / "x.csv_bi", make_events([1], [30]), 20.0)
    with pytest.raises(ValueError, match="sorted and disjoint"):
        write_events_tsv(tmp_path / "x.tsv", make_events([1, 5], [10, 8]), 20.0)
    with pytest.raises(ValueError, match="duration_s"):
        write_csv_bi(tmp_path / "x.csv_bi", make_events([1], [2]), 0.0)


def test_events_tsv_round_trip(tmp_path: Path) -> None:
    events = make_events([10.0, 400.5], [70.0, 410.0], [0.8, float("nan")])
    path = tmp_path / "sub-01_task-szMonitoring_events.tsv"
    write_events_tsv(path, events, 3600.0, date_time=datetime(2020, 1, 2, 3, 4, 5))
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == [
        "onset",
        "duration",
        "eventType",
        "confidence",
        "channels",
        "dateTime",
        "recordingDuration",
    ]
    assert lines[1].split("\t")[:3] == ["10.0000", "60.0000", "sz"]
    assert lines[2].split("\t")[3] == "n/a"
    assert lines[1].split("\t")[5] == "2020-01-02 03:04:05"
    ann = read_events_tsv(path)
    assert ann.duration_s == 3600.0
    np.testing.assert_array_equal(ann.events["start_s"], events["start_s"])
    np.testing.assert_array_equal(ann.events["stop_s"], events["stop_s"])
    assert ann.events["confidence"][0] == 0.8
    assert np.isnan(ann.events["confidence"][1])


def test_events_tsv_background_and_seizure_types(tmp_path: Path) -> None:
    text = (
        "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
        "0\t100\tbckg\tn/a\tn/a\tn/a\t100\n"
        "5\t10\tsz_foc_a\t1\tn/a\tn/a\t100\n"
    )
    ann = read_annotation(_write(tmp_path, "x_events.tsv", text))
    assert ann.events[["start_s", "stop_s"]].tolist() == [(5.0, 15.0)]
    assert ann.duration_s == 100.0
    empty = tmp_path / "e_events.tsv"
    write_events_tsv(empty, np.empty(0, dtype=EVENT_DTYPE), 50.0)
    assert read_events_tsv(empty).events.size == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("5\t10\tspike\t1\tn/a\tn/a\t100\n", "unknown eventType 'spike'"),
        ("5\t10\tsz\t1\tn/a\tn/a\n", "7 tab-separated fields"),
        ("5\t-10\tsz\t1\tn/a\tn/a\t100\n", "is not before stop"),
        ("5\t10\tsz\t1\tn/a\tn/a\t100\n6\t1\tsz\t1\tn/a\tn/a\t200\n", "differs"),
        ("95\t10\tsz\t1\tn/a\tn/a\t100\n", "more than 1.0 s after"),
    ],
)
def test_events_tsv_bad_rows(tmp_path: Path, body: str, message: str) -> None:
    header = "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
    path = _write(tmp_path, "bad_events.tsv", header + body)
    with pytest.raises(AnnotationError, match=message) as info:
        read_events_tsv(path)
    assert str(path) in str(info.value)


def test_events_tsv_missing_column(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="missing column 'eventType'"):
        read_events_tsv(_write(tmp_path, "m_events.tsv", "onset\tduration\n1\t2\n"))
