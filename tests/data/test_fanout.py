"""The cache build in steps (plan, one recording at a time, manifest) matches build_cache."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bgb_data import (
    Manifest,
    Recipe,
    build_recording,
    failed_recording,
    plan_cache_build,
    write_manifest,
)


def _fan_out(root: Path, cache: Path, **selection: object) -> Path:
    plan = plan_cache_build(root, cache, **selection)  # type: ignore[arg-type]
    entries = [build_recording(root, cache, rel) for rel in plan.pending]
    return write_manifest(root, cache, entries)


def test_steps_give_the_manifest_of_build_cache(
    tiny_corpus: Path, tiny_cache: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    _fan_out(tiny_corpus, cache)
    assert Manifest.load(cache).to_dict() == Manifest.load(tiny_cache).to_dict()
    for entry in Manifest.load(cache).recordings:
        assert entry.signal_file is not None and (cache / entry.signal_file).is_file()


def test_plan_reuses_what_is_built_and_selects_like_build_cache(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = plan_cache_build(tiny_corpus, cache, splits=["train"], limit_files=1)
    assert first.selected == first.pending and len(first.pending) == 1 and first.n_reused == 0
    assert first.pending[0].startswith("edf/train/")
    _fan_out(tiny_corpus, cache, splits=["train"], limit_files=1)
    assert [e.path for e in Manifest.load(cache).recordings] == list(first.pending)

    again = plan_cache_build(tiny_corpus, cache)
    assert first.pending[0] not in again.pending
    assert again.n_reused == 1 and len(again.pending) == len(again.selected) - 1
    forced = plan_cache_build(tiny_corpus, cache, force=True)
    assert forced.pending == forced.selected


def test_an_interrupted_fan_out_lists_only_finished_recordings(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    plan = plan_cache_build(tiny_corpus, cache)
    half = plan.pending[: len(plan.pending) // 2]
    for rel in half:
        build_recording(tiny_corpus, cache, rel)
    # a scratch file of a worker killed mid-write: the next plan removes it
    scratch = cache / "recordings" / "edf" / ".x.signal.npy.tmp-99"
    scratch.write_bytes(b"half")
    write_manifest(tiny_corpus, cache)
    assert [e.path for e in Manifest.load(cache).recordings] == sorted(half)
    rest = plan_cache_build(tiny_corpus, cache)
    assert set(rest.pending) == set(plan.pending) - set(half)
    assert not scratch.exists()


def test_a_bad_recording_gives_a_skipped_entry(tiny_corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(tiny_corpus, root)
    edf = sorted((root / "edf" / "dev").rglob("*.edf"))[0]
    for annotation in edf.parent.glob(edf.stem + ".csv*"):
        annotation.unlink()
    rel = edf.relative_to(root).as_posix()
    entry = build_recording(root, tmp_path / "cache", rel)
    assert entry.status == "skipped" and entry.reason == "no_annotation"
    write_manifest(root, tmp_path / "cache", [entry])
    (listed,) = Manifest.load(tmp_path / "cache").select(status=None)
    assert listed.path == rel and listed.status == "skipped"


def test_a_step_that_never_returned_is_listed_and_retried(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    plan = plan_cache_build(tiny_corpus, cache)
    lost, *rest = plan.pending
    entries = [build_recording(tiny_corpus, cache, rel) for rel in rest]
    failed = failed_recording(tiny_corpus, cache, lost, "container exited with code 137")
    assert (failed.path, failed.status, failed.reason) == (lost, "skipped", "unexpected_error")
    assert "container exited with code 137" in (failed.message or "")
    write_manifest(tiny_corpus, cache, [*entries, failed])
    listed = {e.path: e for e in Manifest.load(cache).select(status=None)}
    assert set(listed) == set(plan.pending) and listed[lost].reason == "unexpected_error"
    # nothing of it was stored, so the next plan builds it again
    assert plan_cache_build(tiny_corpus, cache).pending == (lost,)


@pytest.mark.parametrize(
    "rel_path",
    ["edf/train/nobody/s001/01_tcp_ar/missing.edf", "../outside.edf", "edf/notes.txt"],
)
def test_build_recording_rejects_paths_outside_the_tree(
    tiny_corpus: Path, tmp_path: Path, rel_path: str
) -> None:
    with pytest.raises(ValueError, match="no such EDF"):
        build_recording(tiny_corpus, tmp_path / "cache", rel_path)
    with pytest.raises(ValueError, match="no such EDF"):
        failed_recording(tiny_corpus, tmp_path / "cache", rel_path, "died")


def test_write_manifest_rejects_foreign_entries(tiny_corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    rel = plan_cache_build(tiny_corpus, cache, splits=["eval"], limit_files=1).pending[0]
    entry = build_recording(tiny_corpus, cache, rel)
    with pytest.raises(ValueError, match="recipe"):
        write_manifest(tiny_corpus, cache, [entry], recipe=Recipe(notch_hz=(50.0,)))
    moved = dataclasses.replace(entry, path="edf/eval/x/s001/01_tcp_ar/x.edf")
    with pytest.raises(ValueError, match="not under"):
        write_manifest(tiny_corpus, cache, [moved])
