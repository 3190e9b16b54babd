"""A damaged cache is rebuilt per recording; annotations past the end are bad; writes sync."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from bgb_data import ELECTRODES, Manifest, build_cache, write_edf
from bgb_data._task import cache_paths
from bgb_events import make_events, write_csv_bi

SECONDS = 70


def add_recording(root: Path, patient: str, *, seed: int = 0) -> Path:
    """ROOT/edf/train/<patient>/s001_2010/01_tcp_ar/<patient>_s001_t000.edf + a .csv_bi."""
    path = root / "edf" / "train" / patient / "s001_2010" / "01_tcp_ar" / f"{patient}_s001_t000.edf"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = [f"EEG {e.upper()}-REF" for e in ELECTRODES]
    signals = np.random.default_rng(seed).normal(0, 30, (19, 256 * SECONDS))
    write_edf(path, signals, labels, 256)
    write_csv_bi(path.with_suffix(".csv_bi"), make_events([20.0], [30.0]), float(SECONDS))
    return path


def rel(root: Path, edf: Path) -> str:
    return edf.relative_to(root).as_posix()


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, list[Path]]:
    """A data root of three recordings built into a cache: (root, cache, edfs)."""
    root, cache = tmp_path / "root", tmp_path / "cache"
    edfs = [add_recording(root, f"zzrep00{i}", seed=i) for i in range(3)]
    assert build_cache(root, cache).n_ok == 3
    return root, cache, edfs


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[1, 2]", b'{"path": "x"}', b"\xff\xfe"])
def test_unreadable_entry_is_rebuilt_and_logged(
    built: tuple[Path, Path, list[Path]], caplog: pytest.LogCaptureFixture, damage: bytes
) -> None:
    root, cache, edfs = built
    signal_path, _, entry_path = cache_paths(cache, rel(root, edfs[1]))
    before = np.load(signal_path)
    entry_path.write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger="bgb_data"):
        summary = build_cache(root, cache)
    assert (summary.n_ok, summary.n_reused, summary.failed) == (3, 2, [])
    assert any(str(entry_path) in r.getMessage() and "rebuilding" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert np.array_equal(np.load(signal_path), before)
    assert build_cache(root, cache).n_reused == 3


@pytest.mark.parametrize("which", ["signal", "labels"])
def test_array_of_the_wrong_size_is_rebuilt(
    built: tuple[Path, Path, list[Path]], caplog: pytest.LogCaptureFixture, which: str
) -> None:
    root, cache, edfs = built
    signal_path, labels_path, _ = cache_paths(cache, rel(root, edfs[0]))
    damaged = signal_path if which == "signal" else labels_path
    before = damaged.read_bytes()
    damaged.write_bytes(before[:-64])  # header intact, data cut short
    with caplog.at_level(logging.WARNING, logger="bgb_data"):
        summary = build_cache(root, cache)
    assert (summary.n_ok, summary.n_reused) == (3, 2)
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"rebuilding {rel(root, edfs[0])}" in m and "bytes" in m for m in messages)
    assert damaged.read_bytes() == before


def test_seizure_past_the_end_without_duration_line_is_bad_annotation(tmp_path: Path) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    edf = add_recording(root, "zzann001")
    data = edf.read_bytes()  # five records past the stated 70: never read
    edf.write_bytes(data + data[-5 * (19 * 256 + 8) * 2 :])
    edf.with_suffix(".csv_bi").write_text(
        "# version = csv_v1.0.0\n# bname = zzann001_s001_t000\n#\n"
        "channel,start_time,stop_time,label,confidence\n"
        "TERM,0.0000,71.0000,bckg,1.0000\nTERM,71.0000,74.0000,seiz,1.0000\n"
    )
    summary = build_cache(root, cache)
    assert summary.failed == [] and summary.n_skipped == 1
    ((path, reason, message),) = summary.skipped
    assert path == rel(root, edf)
    assert reason == "bad_annotation"
    assert "seizure 71-74 s reaches past the end of the recording (70 s)" in message
    signal_path, labels_path, entry_path = cache_paths(cache, rel(root, edf))
    assert entry_path.is_file() and not signal_path.exists() and not labels_path.exists()
    assert [p.name for p in cache.rglob("*.npy")] == []


def test_unexpected_error_leaves_no_arrays_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    edfs = [add_recording(root, f"zzunx00{i}", seed=i) for i in range(2)]
    import bgb_data._task as task_module

    def broken(*args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(task_module, "label_mask", broken)
    with caplog.at_level(logging.ERROR, logger="bgb_data"):
        summary = build_cache(root, cache)
    assert (summary.n_ok, summary.n_skipped, summary.n_failed) == (0, 0, 2)
    assert [(p, r) for p, r, _ in summary.failed] == [(rel(root, e), "unexpected_error")
                                                      for e in edfs]  # fmt: skip
    assert all("RuntimeError: disk on fire" in m for _, _, m in summary.failed)
    assert any("unexpected error on" in r.getMessage() and r.exc_info for r in caplog.records)
    assert list(cache.rglob("*.npy")) == [] and list(cache.rglob("*.entry.json")) == []
    monkeypatch.undo()
    again = build_cache(root, cache)
    assert (again.n_ok, again.n_reused, again.failed) == (2, 0, [])


def test_every_published_file_is_synced_before_and_after_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    add_recording(root, "zzsync01")
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", f"{src} -> {dst}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    build_cache(root, tmp_path / "cache")
    renames = [
        (i, text.split(" -> ")) for i, (kind, text) in enumerate(events) if kind == "replace"
    ]
    published = sorted(Path(dst).name for _, (_, dst) in renames)
    stem = "zzsync01_s001_t000"
    suffixes = ("entry.json", "labels.npy", "signal.npy")
    assert published == ["manifest.json", *(f"{stem}.{suffix}" for suffix in suffixes)]
    for i, (src, dst) in renames:
        assert events[i - 1] == ("fsync", src), events[i - 1]
        assert events[i + 1] == ("fsync", str(Path(dst).parent)), events[i + 1]
    assert Manifest.load(tmp_path / "cache").recordings[0].status == "ok"
