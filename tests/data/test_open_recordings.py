"""Open files stay bounded: WindowDataset's set of mapped recordings, the descriptors it
releases, DataLoader workers under a 256-descriptor limit, and rejected recordings."""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bgb_data import RecordingError, WindowDataset, prepare_recording

FD_DIR = Path("/proc/self/fd")
needs_proc = pytest.mark.skipif(not FD_DIR.is_dir(), reason="no /proc/self/fd to count")


def open_descriptors() -> int:
    """Descriptors this process has open now (the listing's own one included, every time)."""
    return len(os.listdir(FD_DIR))


def shuffled(n: int, seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).permutation(n).tolist()


@needs_proc
def test_open_recordings_stay_bounded_and_release_their_descriptors(
    window_cache: Callable[..., Path],
) -> None:
    ds = WindowDataset(window_cache(40), "train", window_s=4.0, stride_s=4.0,
                       max_open_recordings=4)  # fmt: skip
    before = open_descriptors()
    touched = set()
    for i in shuffled(len(ds)):
        ds[i]
        touched.add(int(ds.index[i, 0]))
        assert ds.n_open_recordings <= 4
        assert open_descriptors() - before == 2 * ds.n_open_recordings
    assert len(touched) == 40 and ds.n_open_recordings == 4
    ds.close()
    assert ds.n_open_recordings == 0 and open_descriptors() == before


def test_bounded_reads_equal_unbounded_reads_and_the_files(
    window_cache: Callable[..., Path],
) -> None:
    cache = window_cache(12)
    bounded = WindowDataset(cache, "train", window_s=4.0, stride_s=4.0, max_open_recordings=2)
    unbounded = WindowDataset(cache, "train", window_s=4.0, stride_s=4.0,
                              max_open_recordings=len(bounded.recordings))  # fmt: skip
    order = shuffled(len(bounded)) * 2  # second pass: reopened after eviction
    for i in order:
        rec, start = bounded.index[i]
        entry = bounded.recordings[rec]
        # reference: the whole file read into memory, no map, converted by astype
        signal = np.load(cache / str(entry.signal_file))[:, start : start + 1024]
        labels = np.load(cache / str(entry.label_file))[start : start + 1024]
        x, y = bounded[i]
        x_all, y_all = unbounded[i]
        assert np.array_equal(x, signal.astype(np.float32)) and np.array_equal(x, x_all)
        assert np.array_equal(y, labels.astype(np.float32)) and np.array_equal(y, y_all)
        assert x.dtype == y.dtype == np.float32
    assert bounded.n_open_recordings == 2 and unbounded.n_open_recordings == 12


def test_reads_come_from_a_read_only_map(window_cache: Callable[..., Path]) -> None:
    ds = WindowDataset(window_cache(3), "train", window_s=4.0, stride_s=4.0)
    ds[0]
    signal, labels = ds._maps[0]
    for array in (signal, labels):
        assert isinstance(array.base, mmap.mmap)  # a view of the mapped file, not a copy
        assert not array.flags.writeable
    x, _ = ds[0]
    assert x.base is None or not isinstance(x.base, mmap.mmap)  # callers get their own copy


def test_max_open_recordings_must_be_positive(window_cache: Callable[..., Path]) -> None:
    with pytest.raises(ValueError, match="max_open_recordings 0 must be >= 1"):
        WindowDataset(window_cache(1), "train", window_s=4.0, stride_s=4.0,
                      max_open_recordings=0)  # fmt: skip


def test_damaged_arrays_say_rebuild(window_cache: Callable[..., Path]) -> None:
    cache = window_cache(2)
    ds = WindowDataset(cache, "train", window_s=4.0, stride_s=4.0)
    short = cache / str(ds.recordings[0].signal_file)
    short.write_bytes(short.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"signal\.npy: \d+ bytes, but its header .*rebuild"):
        ds[0]
    wrong = cache / str(ds.recordings[1].label_file)
    np.save(wrong, np.zeros(10, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"labels\.npy: holds uint8 \(10,\).*rebuild the cache"):
        ds[len(ds) - 1]


def test_pickled_dataset_reopens_without_parsing_headers_again(
    window_cache: Callable[..., Path],
) -> None:
    import pickle

    ds = WindowDataset(window_cache(3), "train", window_s=4.0, stride_s=4.0,
                       max_open_recordings=1)  # fmt: skip
    expected = [ds[i] for i in range(len(ds))]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.n_open_recordings == 0 and clone._layouts == ds._layouts
    for i, (x, y) in enumerate(expected):
        assert np.array_equal(clone[i][0], x) and np.array_equal(clone[i][1], y)


@needs_proc
def test_rejected_recordings_leak_no_descriptor(
    make_edf: Callable[..., Path],
    eeg_signals: Callable[..., np.ndarray],
    tmp_path: Path,
) -> None:
    # Five flat electrodes pass the header checks and are rejected after filtering, while
    # the scratch row files are open: each rejection used to leave one descriptor behind.
    signals = eeg_signals(np.random.default_rng(1), 23, 256 * 70, 256.0)
    signals[:5] = 0.0
    flat = make_edf("flat.edf", signals=signals)
    good = make_edf("good.edf")
    prepare_recording(good, tmp_path / "warm.npy")  # imports and first-use caches
    before = open_descriptors()
    for k in range(5):
        with pytest.raises(RecordingError, match="missing electrodes"):
            prepare_recording(flat, tmp_path / f"flat{k}.npy")
        prepare_recording(good, tmp_path / f"good{k}.npy")
    assert open_descriptors() == before


LIMITED_READER = """
import json, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
import numpy as np
from torch.utils.data import DataLoader
from bgb_data import WindowDataset

class Counted:
    "Each window with the number of descriptors open in the process that read it."
    def __init__(self, windows):
        self.windows = windows
    def __len__(self):
        return len(self.windows)
    def __getitem__(self, i):
        x, y = self.windows[i]
        return x, y, len(os.listdir("/proc/self/fd"))

cache, max_open, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ds = WindowDataset(cache, "train", window_s=4.0, stride_s=4.0, max_open_recordings=max_open)
order = np.random.default_rng(0).permutation(len(ds)).tolist()
loader = DataLoader(Counted(ds), batch_size=32, sampler=order, num_workers=workers,
                    persistent_workers=workers > 0, prefetch_factor=4 if workers else None)
n, most = 0, 0
for x, y, fds in loader:
    n, most = n + len(x), max(most, int(fds.max()))
print(json.dumps({"windows": n, "expected": len(ds), "recordings": len(ds.recordings),
                  "most_descriptors": most}))
"""


def read_under_limit(cache: Path, max_open: int, workers: int) -> subprocess.CompletedProcess[str]:
    """Read every window of ``cache`` in random order in a process limited to 256 files."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # no spinning threads on a shared machine
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LIMITED_READER), str(cache), str(max_open),
         str(workers)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.stress
@needs_proc
def test_a_thousand_recordings_read_under_256_descriptors(
    window_cache: Callable[..., Path],
) -> None:
    cache = window_cache(1_100)
    done = read_under_limit(cache, 64, workers=2)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["recordings"] == 1_100 and result["windows"] == result["expected"] == 2_200
    # each worker: its interpreter and torch's pipes, plus at most 2 x 64 mapped arrays
    assert result["most_descriptors"] <= 200, result
    # the limit is real: keeping every recording open, as before the bound, runs out
    unbounded = read_under_limit(cache, 100_000, workers=0)
    assert unbounded.returncode != 0
    assert "Too many open files" in unbounded.stderr, unbounded.stderr[-3000:]
