"""The manifest says which electrodes were interpolated and why; older manifests still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bgb_data import ELECTRODES, Manifest, RecordingEntry, build_cache, write_edf
from bgb_events import make_events, write_csv_bi

REL = "train/zzrsn001/s001_2010/01_tcp_ar/zzrsn001_s001_t000"
REASONS = {"C3": "flat", "T4": "amplitude", "O2": "missing"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of one recording: O2 absent, C3 flat, T4 carrying 2 mV noise."""
    root = tmp_path_factory.mktemp("root")
    rng = np.random.default_rng(21)
    present = [e for e in ELECTRODES if e != "O2"]
    signals = rng.normal(0.0, 30.0, size=(len(present), 256 * 70))
    signals[present.index("C3")] = 0.05 * rng.standard_normal(256 * 70)
    signals[present.index("T4")] = rng.normal(0.0, 2000.0, size=256 * 70)
    path = root / "edf" / f"{REL}.edf"
    path.parent.mkdir(parents=True)
    write_edf(path, signals, [f"EEG {e.upper()}-REF" for e in present], 256)
    write_csv_bi(path.with_suffix(".csv_bi"), make_events([], []), 70.0)
    out = tmp_path_factory.mktemp("cache")
    summary = build_cache(root, out)
    assert (summary.n_ok, summary.n_failed) == (1, 0)
    return out


def test_manifest_names_each_interpolated_electrode_and_why(cache: Path) -> None:
    (entry,) = Manifest.load(cache).recordings
    assert entry.interpolation_reasons == REASONS
    assert list(entry.interpolation_reasons) == entry.interpolated == ["C3", "T4", "O2"]
    assert entry.bad_channels == {"C3": "flat", "T4": "amplitude"}
    stored = json.loads((cache / "manifest.json").read_text())["recordings"][0]
    assert stored["interpolation_reasons"] == REASONS
    entry_file = cache / "recordings" / "edf" / f"{REL}.entry.json"
    assert json.loads(entry_file.read_text())["interpolation_reasons"] == REASONS


def test_manifest_without_reasons_still_loads(cache: Path, tmp_path: Path) -> None:
    """An entry written before the field existed gets it from interpolated + bad_channels."""
    data = json.loads((cache / "manifest.json").read_text())
    for record in data["recordings"]:
        del record["interpolation_reasons"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    (entry,) = Manifest.load(tmp_path).recordings
    assert entry.interpolation_reasons == REASONS


def test_entry_whose_reasons_disagree_is_refused(cache: Path) -> None:
    (entry,) = Manifest.load(cache).recordings
    data = entry.to_dict()
    assert RecordingEntry.from_dict(data) == entry
    with pytest.raises(ValueError, match="interpolated electrodes are"):
        RecordingEntry.from_dict({**data, "interpolation_reasons": {"C3": "flat"}})
    with pytest.raises(ValueError, match=r"unknown interpolation reasons \['noisy'\]"):
        RecordingEntry.from_dict({**data, "interpolation_reasons": {**REASONS, "C3": "noisy"}})
