"""The EDF writer against MNE's reader, and the header checks for bad files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import mne
import numpy as np
import pytest

from bgb_data import RecordingError, read_edf_header, write_edf
from bgb_data._edf import parse_start_time


@pytest.mark.parametrize("edf_plus", [True, False])
def test_mne_reads_written_edf_within_quantisation(tmp_path: Path, edf_plus: bool) -> None:
    rng = np.random.default_rng(1)
    signals = rng.normal(0.0, 40.0, size=(3, 250 * 4))
    signals[2] *= 10
    path = tmp_path / "x.edf"
    write_edf(path, signals, ["EEG FP1-REF", "EEG CZ-LE", "EKG"], 250, edf_plus=edf_plus)
    raw = mne.io.read_raw_edf(path, preload=True, infer_types=False, verbose="error")
    assert raw.ch_names == ["EEG FP1-REF", "EEG CZ-LE", "EKG"]
    assert raw.info["sfreq"] == 250
    back_uv = raw.get_data() * 1e6
    step = 2 * np.ceil(np.abs(signals).max(axis=1)) / 65535  # one digital step, uV
    assert np.all(np.abs(back_uv - signals) <= step[:, None] * 0.5 + 1e-9)
    header = read_edf_header(path)
    assert header.edf_plus is edf_plus
    assert header.n_records == 4
    assert header.labels[:3] == ("EEG FP1-REF", "EEG CZ-LE", "EKG")
    assert header.sfreq_hz("EKG") == 250


def test_out_of_range_values_saturate(tmp_path: Path) -> None:
    signals = np.array([np.linspace(-500, 500, 256)])
    write_edf(tmp_path / "s.edf", signals, ["Cz"], 256, physical_max_uv=100.0)
    raw = mne.io.read_raw_edf(tmp_path / "s.edf", preload=True, verbose="error")
    back = raw.get_data()[0] * 1e6
    assert back.max() == pytest.approx(100.0, abs=0.01)
    assert back.min() == pytest.approx(-100.0, abs=0.01)


def test_writer_rejects_partial_records(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whole number of data records"):
        write_edf(tmp_path / "p.edf", np.zeros((1, 300)), ["Cz"], 256)


def test_not_an_edf(tmp_path: Path) -> None:
    path = tmp_path / "notes.edf"
    path.write_text("this is not an EDF file\n" * 40)
    with pytest.raises(RecordingError, match="not an EDF") as info:
        read_edf_header(path)
    assert info.value.reason == "not_edf"


def test_truncated_edf(tmp_path: Path) -> None:
    path = tmp_path / "t.edf"
    write_edf(path, np.zeros((2, 256 * 10)), ["Fp1", "Cz"], 256)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(RecordingError, match="header states 10 data records") as info:
        read_edf_header(path)
    assert info.value.reason == "truncated"


@pytest.mark.parametrize(
    ("date", "time", "expected"),
    [
        (b"31.12.99", b"23.59.58", datetime(1999, 12, 31, 23, 59, 58)),
        (b"01.02.03", b"04.05.06", datetime(2003, 2, 1, 4, 5, 6)),
        (b"xx.yy.zz", b"04.05.06", None),  # anonymised: no start, the file still reads
        (b"31.02.10", b"00.00.00", None),
    ],
)
def test_start_time_follows_the_edf_year_rule(
    date: bytes, time: bytes, expected: datetime | None
) -> None:
    assert parse_start_time(date, time) == expected
