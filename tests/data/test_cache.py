"""build_cache: manifest, bad recordings with reasons, resume, force, split rules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import bgb_data._cache
from bgb_data import (
    ELECTRODES,
    Manifest,
    Recipe,
    build_cache,
    label_mask,
    open_labels,
    open_signal,
    write_edf,
)
from bgb_data._task import Task
from bgb_events import make_events, write_csv_bi


def add_recording(
    root: Path, rel: str, *, labels: list[str] | None = None, seconds: int = 70,
    annotate: bool = True,
) -> Path:  # fmt: skip
    """A plain recording at ROOT/edf/<rel>.edf with a bckg-only .csv_bi."""
    path = root / "edf" / f"{rel}.edf"
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = labels if labels is not None else [f"EEG {e.upper()}-REF" for e in ELECTRODES]
    rng = np.random.default_rng(len(rel))
    write_edf(path, rng.normal(0, 30, (len(labels), 256 * seconds)), labels, 256)
    if annotate:
        write_csv_bi(path.with_suffix(".csv_bi"), make_events([], []), float(seconds))
    return path


@pytest.fixture
def corpus(tiny_corpus: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(tiny_corpus, root)
    return root


def test_manifest_of_a_clean_build(tiny_corpus: Path, tiny_cache: Path) -> None:
    manifest = Manifest.load(tiny_cache)
    assert manifest.recipe_hash == Recipe().hash()
    assert manifest.recipe == Recipe().to_dict()
    assert (manifest.window_n, manifest.stride_n, manifest.sfreq_hz) == (15360, 2560, 256.0)
    assert {r.split for r in manifest.recordings} == {"train", "dev", "eval"}
    assert sum(len(r.seizures) for r in manifest.recordings) > 0
    for entry in manifest.recordings:
        assert entry.status == "ok" and entry.reason is None
        assert (tiny_corpus / entry.path).is_file()
        assert entry.path.split("/")[1:4] == [entry.split, entry.patient, entry.session]
        assert entry.montage in ("01_tcp_ar", "02_tcp_le")
        assert entry.sfreq_in_hz in (250, 256, 400, 512)
        signal = open_signal(tiny_cache, entry)
        labels = open_labels(tiny_cache, entry)
        assert signal.shape == (19, entry.n_samples) and signal.dtype == np.float16
        assert labels.shape == (entry.n_samples,) and labels.dtype == np.uint8
        assert np.array_equal(labels, label_mask(entry.seizures, entry.n_samples))
        assert entry.duration_s is not None
        assert entry.n_samples == int(np.ceil(entry.duration_s * 256))
        n_windows = len(entry.window_seizure_fraction)
        assert n_windows == int(np.ceil((entry.n_samples - 15360) / 2560)) + 1


def test_bad_recordings_are_skipped_with_reasons(corpus: Path, tmp_path: Path) -> None:
    text = add_recording(corpus, "train/zzbad001/s001_2010/01_tcp_ar/zzbad001_s001_t000")
    text.write_text("not an EDF at all\n" * 30)
    cut = add_recording(corpus, "train/zzbad001/s001_2010/01_tcp_ar/zzbad001_s001_t001")
    cut.write_bytes(cut.read_bytes()[:-3000])
    add_recording(corpus, "train/zzbad002/s001_2010/01_tcp_ar/zzbad002_s001_t000", seconds=30)
    few = [f"EEG {e.upper()}-REF" for e in ELECTRODES[:12]]
    add_recording(corpus, "dev/zzbad003/s001_2010/01_tcp_ar/zzbad003_s001_t000", labels=few)
    add_recording(corpus, "eval/zzbad004/s001_2010/01_tcp_ar/zzbad004_s001_t000",
                  annotate=False)  # fmt: skip
    bad_csv = add_recording(corpus, "eval/zzbad004/s001_2010/01_tcp_ar/zzbad004_s001_t001")
    bad_csv.with_suffix(".csv_bi").write_text("channel,start_time,stop_time,label\n")
    add_recording(corpus, "eval/zzbad004/s001_2010/extra/zzbad004_s001_t002/deeper")
    seen = []
    summary = build_cache(corpus, tmp_path / "cache", progress=lambda d, t, e: seen.append(d))
    reasons = {Path(p).stem: r for p, r, _ in summary.skipped}
    assert reasons == {
        "zzbad001_s001_t000": "not_edf",
        "zzbad001_s001_t001": "truncated",
        "zzbad002_s001_t000": "too_short",
        "zzbad003_s001_t000": "missing_electrodes",
        "zzbad004_s001_t000": "no_annotation",
        "zzbad004_s001_t001": "bad_annotation",
        "deeper": "bad_layout",
    }
    assert summary.n_skipped == 7
    assert summary.n_ok == len(list((corpus / "edf").rglob("*.edf"))) - 7
    assert seen == list(range(1, summary.n_ok + 8))
    manifest = Manifest.load(tmp_path / "cache")
    skipped = [r for r in manifest.recordings if r.status == "skipped"]
    assert len(skipped) == 7
    assert all((r.message and r.path in r.message) or "edf" in (r.message or "") for r in skipped)
    assert all(r.signal_file is None for r in skipped)


class DyingTask(Task):
    """A task whose worker process exits as it receives it: it unpickles as ``os._exit(3)``,
    as a process killed by the OS for memory would vanish."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (os._exit, (3,))


@pytest.mark.slow
def test_a_recording_that_kills_its_worker_fails_alone(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(8):  # more recordings than the pool holds in flight, so some wait
        add_recording(corpus, f"train/zzmany{i:02d}/s001_2010/01_tcp_ar/zzmany{i:02d}_s001_t000")
    victim = "edf/train/zzmany03/s001_2010/01_tcp_ar/zzmany03_s001_t000.edf"
    n_edf = len(list((corpus / "edf").rglob("*.edf")))

    def task(source: object, *rest: object) -> Task:
        kind = DyingTask if getattr(source, "rel_path", None) == victim else Task
        return kind(source, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(bgb_data._cache, "Task", task)
    seen: list[int] = []
    summary = build_cache(
        corpus, tmp_path / "cache", workers=2, progress=lambda d, t, e: seen.append(d)
    )
    assert [path for path, _, _ in summary.failed] == [victim]
    assert "the process preparing it died" in summary.failed[0][2]
    assert summary.n_ok == n_edf - 1 and summary.n_skipped == 0
    assert seen == list(range(1, n_edf + 1))  # every recording reported once
    pool_deaths = [r for r in caplog.records if "worker process died" in r.getMessage()]
    assert len(pool_deaths) == 1
    # Not stored as an entry, so the next build (here one whose worker survives) retries it.
    monkeypatch.undo()
    again = build_cache(corpus, tmp_path / "cache", workers=2)
    assert (again.n_ok, again.n_failed, again.n_reused) == (n_edf, 0, n_edf - 1)


def test_rerun_reuses_force_rebuilds_and_changed_files_redo(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_cache(corpus, cache)
    assert first.n_reused == 0 and first.n_skipped == 0
    again = build_cache(corpus, cache)
    assert again.n_reused == again.n_ok == first.n_ok
    edf = sorted((corpus / "edf").rglob("*.edf"))[0]
    os.utime(edf, ns=(1, 1))
    changed = build_cache(corpus, cache)
    assert changed.n_reused == first.n_ok - 1
    forced = build_cache(corpus, cache, force=True)
    assert forced.n_reused == 0 and forced.n_ok == first.n_ok
    other = build_cache(corpus, cache, recipe=Recipe(clip=10.0))
    assert other.n_reused == 0
    assert Manifest.load(cache).recipe_hash == Recipe(clip=10.0).hash()


def test_split_and_limit_select_files_and_manifest_accumulates(
    corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    summary = build_cache(corpus, cache, splits=["dev"], limit_files=1)
    assert summary.n_ok == 1
    assert [r.split for r in Manifest.load(cache).recordings] == ["dev"]
    build_cache(corpus, cache, splits=["eval"], limit_files=1)
    assert sorted(r.split for r in Manifest.load(cache).recordings) == ["dev", "eval"]
    with pytest.raises(ValueError, match="unknown splits"):
        build_cache(corpus, cache, splits=["test"])


def test_patient_in_two_splits_is_an_error(corpus: Path, tmp_path: Path) -> None:
    train_patient = next((corpus / "edf" / "train").iterdir()).name
    add_recording(corpus, f"dev/{train_patient}/s009_2010/01_tcp_ar/{train_patient}_s009_t000")
    with pytest.raises(ValueError, match=f"{train_patient} in dev, train"):
        build_cache(corpus, tmp_path / "cache")


def test_not_a_tusz_tree(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a TUSZ tree"):
        build_cache(tmp_path, tmp_path / "cache")
