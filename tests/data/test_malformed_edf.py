"""Hospital-export quirks: record counts that disagree with the file, padded labels, EDF+D.

Each test bends one field of a valid file written by ``write_edf``; a file that can be read
must give exactly the output of its well-formed twin.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from bgb_data import RecordingError, prepare_recording, read_edf_header

N_RECORDS_FIELD = (236, 8)
"""(offset, width) of the number of data records in the main header."""
RESERVED_FIELD = (192, 44)


def patch(path: Path, offset: int, raw: bytes) -> None:
    """Overwrite bytes of a file in place."""
    data = bytearray(path.read_bytes())
    data[offset : offset + len(raw)] = raw
    path.write_bytes(bytes(data))


def patch_field(path: Path, field: tuple[int, int], text: bytes) -> None:
    """Overwrite a header field with ``text`` padded by spaces."""
    offset, width = field
    patch(path, offset, text.ljust(width, b" "))


def copy_of(path: Path, name: str, data: bytes | None = None) -> Path:
    out = path.with_name(name)
    out.write_bytes(path.read_bytes() if data is None else data)
    return out


def prepared(edf: Path, out: Path) -> np.ndarray:
    prepare_recording(edf, out)
    return np.load(out)


def test_records_beyond_the_header_count_are_ignored_with_a_warning(
    make_edf, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edf = make_edf(duration_s=62)
    header = read_edf_header(edf)
    data = edf.read_bytes()
    longer = copy_of(edf, "longer.edf", data + data[-3 * header.record_bytes :])
    got = read_edf_header(longer)
    assert got.n_records == 62 and got.duration_s == 62.0
    assert got.trailing_bytes == 3 * header.record_bytes
    with caplog.at_level(logging.WARNING, logger="bgb_data"):
        info = prepare_recording(longer, tmp_path / "longer.npy")
    assert info.duration_s == 62.0 and info.n_samples == 62 * 256
    assert np.array_equal(np.load(tmp_path / "longer.npy"), prepared(edf, tmp_path / "a.npy"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(longer) in m and "(3 whole data records)" in m for m in warnings), warnings


def test_unknown_record_count_comes_from_the_file_size(make_edf, tmp_path: Path) -> None:
    edf = make_edf(duration_s=61)
    unknown = copy_of(edf, "unknown.edf")
    patch_field(unknown, N_RECORDS_FIELD, b"-1")
    assert read_edf_header(unknown).n_records == 61
    assert read_edf_header(unknown).trailing_bytes == 0
    assert np.array_equal(prepared(unknown, tmp_path / "u.npy"), prepared(edf, tmp_path / "a.npy"))
    cut = copy_of(unknown, "unknown_cut.edf", unknown.read_bytes()[:-100])
    with pytest.raises(RecordingError, match="last data record is cut short") as err:
        read_edf_header(cut)
    assert err.value.reason == "truncated" and str(cut) in str(err.value)


def test_fewer_records_than_the_header_states_is_truncated(make_edf) -> None:
    edf = make_edf(duration_s=61)
    patch_field(edf, N_RECORDS_FIELD, b"80")
    with pytest.raises(RecordingError) as err:
        read_edf_header(edf)
    assert str(err.value).endswith("header states 80 data records but the file holds 61")
    assert err.value.reason == "truncated"
    patch_field(edf, N_RECORDS_FIELD, b"-7")
    with pytest.raises(RecordingError, match="number of data records -7") as err:
        read_edf_header(edf)
    assert err.value.reason == "not_edf"


@pytest.mark.parametrize(
    "padded", [b"EEG FP1-REF\xa0", b"\xa0EEG FP1-REF", b"EEG FP1-REF\t", b"EEG FP1-REF\x00\x00"]
)
def test_padded_label_reads_like_the_plain_one(make_edf, tmp_path: Path, padded: bytes) -> None:
    edf = make_edf(duration_s=61)
    assert read_edf_header(edf).labels[0] == "EEG FP1-REF"
    odd = copy_of(edf, "odd.edf")
    patch(odd, 256, padded.ljust(16, b" "))  # label of signal 0
    header = read_edf_header(odd)
    assert header.labels[0] == "EEG FP1-REF"
    assert header.raw_labels[0] == padded.strip().decode("latin-1")
    info = prepare_recording(odd, tmp_path / "odd.npy")
    assert info.channel_of["Fp1"] == "EEG FP1-REF" and not info.missing
    assert np.array_equal(np.load(tmp_path / "odd.npy"), prepared(edf, tmp_path / "a.npy"))


def test_discontinuous_edf_plus_is_rejected(make_edf, tmp_path: Path) -> None:
    edf = make_edf(duration_s=61)
    patch_field(edf, RESERVED_FIELD, b"EDF+D")
    with pytest.raises(RecordingError, match="EDF\\+D \\(discontinuous\\)") as err:
        prepare_recording(edf, tmp_path / "out.npy")
    assert err.value.reason == "discontinuous"
    assert str(edf) in str(err.value)
    assert not (tmp_path / "out.npy").exists()
    patch_field(edf, RESERVED_FIELD, b"EDF+C")
    assert read_edf_header(edf).edf_plus
