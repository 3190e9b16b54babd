"""Building the cache: every recording of a TUSZ tree prepared once, plus the manifest.

Layout of a cache folder::

    CACHE/manifest.json
    CACHE/recordings/<path under ROOT without .edf>.signal.npy   (19, n) float16, 256 Hz
    CACHE/recordings/<...>.labels.npy                             (n,) uint8 0/1
    CACHE/recordings/<...>.entry.json                             the manifest entry

Builds are parallel (process pool), resumable (a recording whose entry names the same
recipe and whose source file is unchanged is reused), and atomic (see ``_task``). One
build at a time per cache folder (a lock file enforces it). A recording that fails never
stops the build: a bad input is skipped with a documented reason
(:data:`bgb_data.SKIP_REASONS`), anything else is logged with its traceback and reported
as failed (reason ``unexpected_error``). That includes a recording whose worker process
dies (killed by the OS for memory, a crash in native code): the pool is restarted, the few
recordings that were in flight are prepared one at a time to find the one that kills its
process, and the build goes on with the rest.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import shutil
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bgb_data._errors import SKIP_REASONS
from bgb_data._layout import select_sources
from bgb_data._manifest import Manifest, RecordingEntry
from bgb_data._recipe import Recipe
from bgb_data._task import Task, process, process_guarded, trusted_entry, unexpected_entry
from bgb_data._windows import STRIDE_N, WINDOW_N

__all__ = [
    "BuildSummary",
    "ProgressCallback",
    "build_cache",
    "manifest_for",
    "open_labels",
    "open_signal",
    "remove_scratch",
]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, RecordingEntry], None]
"""Called after each recording with (done, total, entry)."""

IN_FLIGHT_PER_WORKER = 2
"""Recordings handed to the pool per worker at a time: enough to keep every worker busy,
few enough that a pool broken by a dying worker leaves only a handful of suspects."""


class WorkerDiedError(RuntimeError):
    """The process preparing a recording died instead of returning or raising."""


@dataclass
class BuildSummary:
    """What a cache build did."""

    manifest_path: Path
    n_ok: int
    """Recordings ready in the cache (built now or reused)."""
    n_skipped: int
    """Recordings rejected as bad inputs (documented reasons, listed in ``skipped``)."""
    n_reused: int
    """Of the ok and skipped ones, recordings taken from an earlier build."""
    elapsed_s: float
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    """(path, reason, message) of each recording skipped for a key of ``SKIP_REASONS``."""
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    """(path, reason, message) of each recording that failed for an unexpected reason (in
    the manifest as ``skipped`` with reason ``unexpected_error``; retried next build)."""

    @property
    def n_failed(self) -> int:
        """Recordings that failed for an unexpected reason."""
        return len(self.failed)


def build_cache(
    data_root: str | Path,
    cache_dir: str | Path,
    *,
    splits: tuple[str, ...] | list[str] | None = None,
    workers: int = 1,
    limit_files: int | None = None,
    force: bool = False,
    recipe: Recipe | None = None,
    progress: ProgressCallback | None = None,
) -> BuildSummary:
    """Prepare the recordings of a TUSZ tree into ``cache_dir`` and write its manifest.

    ``splits`` picks split folders (default all); ``limit_files`` keeps the first N files
    of each split (sorted by path; for smoke runs); ``force`` rebuilds reused recordings.
    The manifest lists every recording of the tree with a valid entry for this recipe,
    including ones built by earlier runs for other splits.

    Raises:
        ValueError: bad arguments, a root that is not a TUSZ tree, or a patient in more
            than one split.
    """
    start = time.perf_counter()
    recipe = recipe if recipe is not None else Recipe()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    sources = select_sources(data_root, splits, limit_files)
    root = sources.data_root
    cache = Path(cache_dir).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    tasks = [Task(f, root, cache, recipe, WINDOW_N, STRIDE_N) for f in sources.everything]
    with _build_lock(cache):
        remove_scratch(cache / "recordings")
        todo = {f.rel_path for f in sources.selected}
        entries: dict[str, RecordingEntry] = {}
        reused = 0
        pending = []
        for task in tasks:
            entry = None if force and task.source.rel_path in todo else trusted_entry(task)
            if entry is not None:
                entries[task.source.rel_path] = entry
                reused += task.source.rel_path in todo
            elif task.source.rel_path in todo:
                pending.append(task)
        done_before = len(todo) - len(pending)
        for n, entry in enumerate(_run(pending, workers), start=done_before + 1):
            entries[entry.path] = entry
            if progress is not None:
                progress(n, len(todo), entry)
        manifest = manifest_for(recipe, root, entries.values())
        manifest_path = manifest.save(cache)
    this_run = [entries[p] for p in sorted(todo) if p in entries]
    not_ok = [(e.path, e.reason or "", e.message or "") for e in this_run if e.status != "ok"]
    skipped = [item for item in not_ok if item[1] in SKIP_REASONS]
    return BuildSummary(
        manifest_path=manifest_path,
        n_ok=sum(e.status == "ok" for e in this_run),
        n_skipped=len(skipped),
        n_reused=reused,
        elapsed_s=time.perf_counter() - start,
        skipped=skipped,
        failed=[item for item in not_ok if item[1] not in SKIP_REASONS],
    )


def _run(tasks: list[Task], workers: int) -> Iterator[RecordingEntry]:
    """Entries of the tasks, as they finish (in order when ``workers == 1``)."""
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield process_guarded(task)
        return
    queue = deque(tasks)
    while queue:
        suspects = yield from _pool_pass(queue, workers)
        if suspects:
            logger.error(
                "a cache worker process died with %d recordings in flight; preparing each of "
                "them alone to find the one that kills it, then the %d left",
                len(suspects),
                len(queue),
            )
            for task in suspects:
                yield _alone(task)


def _pool_pass(queue: deque[Task], workers: int) -> Generator[RecordingEntry, None, list[Task]]:
    """Entries of tasks taken from ``queue`` by one process pool, at most
    :data:`IN_FLIGHT_PER_WORKER` per worker at a time. Returns the tasks in flight when a
    worker died and broke the pool (none when the queue ran out)."""
    context = multiprocessing.get_context("spawn")  # no fork of a parent holding threads
    limit = workers * IN_FLIGHT_PER_WORKER
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running: dict[Future[RecordingEntry], Task] = {}
        while queue or running:
            while queue and len(running) < limit:
                try:
                    future = pool.submit(process, queue[0])
                except BrokenProcessPool:
                    return list(running.values())
                running[future] = queue.popleft()
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in sorted(done, key=lambda f: running[f].source.rel_path):
                try:
                    entry = _result(future, running[future])
                except BrokenProcessPool:
                    broken = True  # outcome unknown: the task stays in running, a suspect
                    continue
                del running[future]
                yield entry
            if broken:
                return list(running.values())
    return []


def _alone(task: Task) -> RecordingEntry:
    """The entry of one task prepared in a process of its own; a process that dies makes it
    a failed entry (retried next build) instead of stopping the build."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return _result(pool.submit(process, task), task)
        except BrokenProcessPool:
            died = WorkerDiedError(
                "the process preparing it died (killed by the operating system, for example "
                "for lack of memory, or a crash in native code)"
            )
            return unexpected_entry(task, died)


def _result(future: Future[RecordingEntry], task: Task) -> RecordingEntry:
    """The future's entry; an exception raised by the task becomes its failed entry, a
    broken pool (:class:`BrokenProcessPool`) is raised for the caller to handle."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as err:  # recorded as skipped and logged with its traceback
        return unexpected_entry(task, err)


@contextmanager
def _build_lock(cache: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``cache/.lock`` (released by the OS if the process dies)."""
    with (cache / ".lock").open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{cache}: another cache build is running on it") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def remove_scratch(folder: Path) -> None:
    """Delete temp files and scratch folders left by a killed build (nothing trusts them)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob(".*")):
        if not path.exists():  # inside a scratch folder removed a moment ago
            continue
        if path.is_dir() and path.name.startswith(".prep-"):
            shutil.rmtree(path)
        elif path.is_file() and ".tmp-" in path.name:
            path.unlink()


def open_signal(cache_dir: str | Path, entry: RecordingEntry) -> np.memmap:
    """Read-only memory map of a recording's prepared signal, (19, n_samples)."""
    if entry.signal_file is None:
        raise ValueError(f"{entry.path}: no signal file (status {entry.status}: {entry.reason})")
    return _open(Path(cache_dir) / entry.signal_file)


def open_labels(cache_dir: str | Path, entry: RecordingEntry) -> np.memmap:
    """Read-only memory map of a recording's 0/1 seizure labels, (n_samples,) uint8."""
    if entry.label_file is None:
        raise ValueError(f"{entry.path}: no label file (status {entry.status}: {entry.reason})")
    return _open(Path(cache_dir) / entry.label_file)


def _open(path: Path) -> np.memmap:
    array = np.load(path, mmap_mode="r")
    if not isinstance(array, np.memmap):
        raise ValueError(f"{path}: not a memory-mappable .npy file")
    return array


def manifest_for(recipe: Recipe, root: Path, entries: Iterable[RecordingEntry]) -> Manifest:
    """The manifest of ``entries`` (sorted by path) built with ``recipe`` from ``root``."""
    return Manifest(
        recipe=recipe.to_dict(),
        recipe_hash=recipe.hash(),
        data_root=str(root),
        sfreq_hz=recipe.sfreq_hz,
        window_n=WINDOW_N,
        stride_n=STRIDE_N,
        recordings=sorted(entries, key=lambda entry: entry.path),
    )
