"""A build killed with SIGKILL in the middle of a recording resumes to the same cache."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bgb_data import Manifest, build_cache

SCRIPT = """
import sys
from bgb_data import build_cache
build_cache(sys.argv[1], sys.argv[2], workers=1)
"""


def wait_for(predicate, process: subprocess.Popen[bytes], what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 120
    while not predicate():
        if process.poll() is not None:
            pytest.fail(f"build finished before {what}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.mark.slow
def test_sigkill_mid_build_then_resume(tiny_corpus: Path, tiny_cache: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(tiny_corpus, root)
    cache = tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(root), str(cache)])
    recordings = cache / "recordings"

    def entries() -> list[Path]:
        return list(recordings.rglob("*.entry.json")) if recordings.exists() else []

    def second_in_progress() -> bool:
        try:
            return len(entries()) >= 1 and any(recordings.rglob(".prep-*"))
        except FileNotFoundError:  # a scratch folder removed while the walk was inside it
            return False

    wait_for(second_in_progress, process, "the second recording started")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (cache / "manifest.json").exists()
    assert any(recordings.rglob(".prep-*"))  # scratch left behind by the kill

    summary = build_cache(root, cache)
    assert summary.n_skipped == 0
    assert 1 <= summary.n_reused < summary.n_ok
    assert not any(recordings.rglob(".*"))  # scratch and temp files cleaned
    fresh = Manifest.load(tiny_cache)
    resumed = Manifest.load(cache)
    assert [r.path for r in resumed.recordings] == [r.path for r in fresh.recordings]
    for a, b in zip(resumed.recordings, fresh.recordings, strict=True):
        assert a.window_seizure_fraction == b.window_seizure_fraction
        assert a.signal_file is not None and b.signal_file is not None
        assert np.array_equal(np.load(cache / a.signal_file), np.load(tiny_cache / b.signal_file))


@pytest.mark.slow
def test_two_workers_build_the_same_cache(
    tiny_corpus: Path, tiny_cache: Path, tmp_path: Path
) -> None:
    summary = build_cache(tiny_corpus, tmp_path / "cache", workers=2)
    assert summary.n_ok == len(Manifest.load(tiny_cache).recordings)
    for entry in Manifest.load(tmp_path / "cache").recordings:
        assert entry.signal_file is not None
        assert np.array_equal(np.load(tmp_path / "cache" / entry.signal_file),
                              np.load(tiny_cache / entry.signal_file))  # fmt: skip
