"""The synthetic corpus: TUSZ layout, determinism, readable EDFs, visible seizures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mne
import numpy as np

from bgb_data import (
    ELECTRODES,
    Manifest,
    WindowDataset,
    generate_corpus,
    match_electrodes,
    read_edf_header,
)
from bgb_data._labels import read_seizures


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files(tmp_path: Path) -> None:
    kwargs = {"hours": 0.08, "recording_minutes": (1.5, 1.7)}
    a = generate_corpus(tmp_path / "a", seed=11, **kwargs)  # type: ignore[arg-type]
    generate_corpus(tmp_path / "b", seed=11, **kwargs)  # type: ignore[arg-type]
    generate_corpus(tmp_path / "c", seed=12, **kwargs)  # type: ignore[arg-type]
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a.n_recordings == 3 and a.n_patients == 3


def test_layout_names_and_labels(tiny_corpus: Path) -> None:
    edfs = sorted((tiny_corpus / "edf").rglob("*.edf"))
    assert edfs
    split_of: dict[str, str] = {}
    for edf in edfs:
        split, patient, session, montage, name = edf.relative_to(tiny_corpus / "edf").parts
        assert split_of.setdefault(patient, split) == split
        assert name.startswith(f"{patient}_{session.split('_')[0]}_t")
        header = read_edf_header(edf)
        match = match_electrodes(header.labels)
        assert not match.missing
        assert match.reference == {"01_tcp_ar": "AR", "02_tcp_le": "LE"}[montage]
        suffix = "REF" if montage == "01_tcp_ar" else "LE"
        assert f"EEG FP1-{suffix}" in header.labels
        assert {f"EEG A1-{suffix}", f"EEG EKG1-{suffix}", "PHOTIC-REF"} <= set(header.labels)
        term = read_seizures(edf.with_suffix(".csv_bi"), header.duration_s)
        channel = read_seizures(edf.with_suffix(".csv"), header.duration_s)
        assert np.allclose(term, channel) and len(term) == len(channel)
        for start, stop in term:
            assert 10.0 <= stop - start <= 120.0
    assert set(split_of.values()) == {"train", "dev", "eval"}


def test_mne_reads_the_synthetic_edf(tiny_corpus: Path) -> None:
    edf = sorted((tiny_corpus / "edf").rglob("*.edf"))[0]
    raw = mne.io.read_raw_edf(edf, preload=True, infer_types=False, verbose="error")
    header = read_edf_header(edf)
    assert raw.info["sfreq"] == header.sfreq_hz(header.labels[0])
    eeg = raw.get_data(picks=[header.labels[0]])[0] * 1e6
    assert 5.0 < eeg.std() < 200.0  # microvolt-scale EEG


def test_seizures_stand_out_after_preprocessing(tiny_cache: Path) -> None:
    """Rhythmic 2.5-7 Hz power is clearly higher in seizure windows than elsewhere."""
    manifest = Manifest.load(tiny_cache)
    power = {True: [], False: []}
    for split in ("train", "dev", "eval"):
        ds = WindowDataset(tiny_cache, split, manifest=manifest)
        for i in range(len(ds)):
            frac = float(ds.seizure_fraction[i])
            if 0 < frac < 0.3:
                continue
            x, _ = ds[i]
            spectrum = np.abs(np.fft.rfft(x, axis=1)) ** 2
            freqs = np.fft.rfftfreq(x.shape[1], 1 / 256)
            band = spectrum[:, (freqs > 2.5) & (freqs < 7.5)].sum(axis=1)
            power[frac >= 0.3].append(float(band.max() / spectrum.sum(axis=1).mean()))
    assert power[True] and power[False]
    assert np.median(power[True]) > 2 * np.median(power[False])
    assert len(ELECTRODES) == 19
