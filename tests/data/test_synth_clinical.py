"""The clinical synthetic profile: its montages, channels, seizures and mimics, and that the
cache reads every recording of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bgb_data import SEIZURE_TABLE, build_cache, generate_corpus, read_edf_header
from bgb_data._labels import read_seizures
from bgb_data._synth_clinical import SEIZURE_KINDS, ClinicalSeizure, PhoticSession
from bgb_data._synth_signal import SITES

from .test_synth import digest


@pytest.fixture(scope="module")
def clinical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clinical")
    generate_corpus(root, hours=1.5, seed=5, recording_minutes=(5.0, 8.0), profile="clinical")
    return root


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown synthetic profile 'hard'"):
        generate_corpus(tmp_path, hours=0.1, profile="hard")


def test_same_seed_same_files(tmp_path: Path) -> None:
    kwargs = {"hours": 0.08, "recording_minutes": (1.5, 1.7), "profile": "clinical"}
    generate_corpus(tmp_path / "a", seed=3, **kwargs)  # type: ignore[arg-type]
    generate_corpus(tmp_path / "b", seed=3, **kwargs)  # type: ignore[arg-type]
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_montages_and_channels(clinical: Path) -> None:
    montages: dict[str, list[str]] = {}
    for edf in sorted((clinical / "edf").rglob("*.edf")):
        montages.setdefault(edf.parent.name, read_edf_header(edf).labels)
    assert set(montages) <= {"01_tcp_ar", "02_tcp_le", "03_tcp_ar_a"}
    for montage, labels in montages.items():
        ears = {"EEG A1-REF", "EEG A2-REF", "EEG A1-LE", "EEG A2-LE"} & set(labels)
        assert (not ears) == (montage == "03_tcp_ar_a")
        assert "PHOTIC-REF" in labels


def test_seizure_lengths_and_labels(clinical: Path) -> None:
    lengths = []
    for edf in (clinical / "edf").rglob("*.edf"):
        seizures = read_seizures(edf.with_suffix(".csv_bi"), read_edf_header(edf).duration_s)
        lengths += [stop - start for start, stop in seizures]
    assert lengths and min(lengths) >= 10.0 - 0.01 and max(lengths) <= 300.0 + 0.01


def test_seizure_table_is_the_labels_with_kinds(clinical: Path) -> None:
    """seizures.tsv lists every labelled seizure once, with its split, kind and strength."""
    table = (clinical / SEIZURE_TABLE).read_text(encoding="utf-8").splitlines()
    assert table[0].split("\t") == ["recording", "split", "start_s", "stop_s", "kind",
                                     "amplitude", "focus", "extent"]  # fmt: skip
    listed: dict[str, list[tuple[float, float]]] = {}
    for line in table[1:]:
        recording, split, start, stop, kind, amplitude, focus, extent = line.split("\t")
        assert recording.split("/")[1] == split
        assert kind in SEIZURE_KINDS and focus in SITES and extent in ("focal", "both")
        low, high = {"focal": (1.5, 4.0), "spike_wave": (4.0, 8.0), "low_amplitude": (1.0, 1.8)}[
            kind
        ]
        assert low <= float(amplitude) <= high
        assert extent == "both" or kind != "spike_wave"
        listed.setdefault(recording, []).append((float(start), float(stop)))
    for edf in (clinical / "edf").rglob("*.edf"):
        labels = read_seizures(edf.with_suffix(".csv_bi"), read_edf_header(edf).duration_s)
        rows = listed.pop(edf.relative_to(clinical).as_posix(), [])
        assert np.allclose(np.asarray(rows).reshape(-1, 2), np.asarray(labels).reshape(-1, 2))
    assert not listed  # no row names a recording that does not exist


def test_every_recording_is_cached(clinical: Path, tmp_path: Path) -> None:
    summary = build_cache(clinical, tmp_path / "cache", workers=2)
    assert summary.n_ok == len(list((clinical / "edf").rglob("*.edf")))


def test_spike_wave_is_generalised_and_frontal() -> None:
    plan = ClinicalSeizure(0.0, 20.0, "O1", True, kind="spike_wave")
    gains = plan.gains()
    assert gains.min() >= 0.5 and np.all(plan.delays_s() == 0)
    assert gains[SITES.index("Fz")] > gains[SITES.index("Pz")]


def test_photic_channel_marks_every_flash() -> None:
    session = PhoticSession(start_s=5.0)
    fs = 256.0
    flashes = session.flash_channel(round((session.start_s + session.duration_s) * fs), fs)
    onsets = np.flatnonzero(np.diff(np.r_[0.0, flashes]) > 0)
    expected = sum(len(np.arange(a, b, 1.0 / r)) for a, b, r in session.trains())
    assert len(onsets) == expected
