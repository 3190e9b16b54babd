"""A cache build split into steps that can run on different machines.

:func:`build_cache` runs a whole build in one process pool. A cluster (for example Modal
containers sharing a volume) runs the same build in three steps instead:

1. :func:`plan_cache_build` once: which recordings of the selection still need building.
2. :func:`build_recording` per pending recording, anywhere that sees the same data root and
   cache folder; each writes its files atomically, exactly as :func:`build_cache` does. A step
   that never returns (its machine died, or it ran out of time) gets its entry from
   :func:`failed_recording`, as a dying worker of :func:`build_cache` does.
3. :func:`write_manifest` once, after every step 2 finished, from the entries they returned
   and the entries already in the cache.

The steps share one recipe and the cache's window geometry. Only one build may run on a
cache folder at a time; across machines the caller keeps to that (the lock file of
:func:`build_cache` works within one machine only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bgb_data._cache import WorkerDiedError, manifest_for, remove_scratch
from bgb_data._layout import SPLITS, SourceFile, describe_source, discover, edf_root, select_sources
from bgb_data._manifest import RecordingEntry
from bgb_data._recipe import Recipe
from bgb_data._task import Task, process_guarded, trusted_entry, unexpected_entry
from bgb_data._windows import STRIDE_N, WINDOW_N

__all__ = [
    "CachePlan",
    "build_recording",
    "failed_recording",
    "plan_cache_build",
    "write_manifest",
]


@dataclass(frozen=True)
class CachePlan:
    """What a build of a selection of recordings still has to do."""

    data_root: Path
    """Resolved data root."""
    cache_dir: Path
    """Resolved cache folder (created by the plan)."""
    selected: tuple[str, ...]
    """Paths (relative to the data root, as in the manifest) of the selected recordings."""
    pending: tuple[str, ...]
    """Those of them to build (the others have a valid entry in the cache)."""

    @property
    def n_reused(self) -> int:
        """Selected recordings whose cached entry is still valid."""
        return len(self.selected) - len(self.pending)


def plan_cache_build(
    data_root: str | Path,
    cache_dir: str | Path,
    *,
    splits: tuple[str, ...] | list[str] | None = None,
    limit_files: int | None = None,
    force: bool = False,
    recipe: Recipe | None = None,
) -> CachePlan:
    """Choose the recordings to build, with the selection rules of :func:`build_cache`.

    Also removes the scratch files a killed build left in ``cache_dir``; call it once per
    build, before any :func:`build_recording` of that build starts.

    Raises:
        ValueError: unknown splits, ``limit_files`` < 1, a root that is not a TUSZ tree, or a
            patient in more than one split.
    """
    recipe = recipe if recipe is not None else Recipe()
    sources = select_sources(data_root, splits, limit_files)
    root, cache = sources.data_root, Path(cache_dir).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    remove_scratch(cache / "recordings")
    pending = tuple(
        f.rel_path
        for f in sources.selected
        if force or trusted_entry(_task(f, root, cache, recipe)) is None
    )
    return CachePlan(
        data_root=root,
        cache_dir=cache,
        selected=tuple(f.rel_path for f in sources.selected),
        pending=pending,
    )


def build_recording(
    data_root: str | Path, cache_dir: str | Path, rel_path: str, *, recipe: Recipe | None = None
) -> RecordingEntry:
    """Build one recording of the data root into the cache and return its entry.

    A bad recording gives a ``skipped`` entry with its reason, as in :func:`build_cache`; an
    unexpected error is logged and gives a ``skipped`` entry (reason ``unexpected_error``)
    that is not stored, so the next build tries that recording again.

    Raises:
        ValueError: ``rel_path`` is not an EDF under the split folders of ``data_root``.
    """
    recipe = recipe if recipe is not None else Recipe()
    root, cache = Path(data_root).resolve(), Path(cache_dir).resolve()
    source = _find(root, rel_path)
    return process_guarded(_task(source, root, cache, recipe))


def failed_recording(
    data_root: str | Path,
    cache_dir: str | Path,
    rel_path: str,
    message: str,
    *,
    recipe: Recipe | None = None,
) -> RecordingEntry:
    """The entry of a recording whose :func:`build_recording` step never returned.

    ``skipped`` with reason ``unexpected_error`` and ``message`` (what the caller saw: the
    machine died, the step ran out of time), logged and not stored, so the next build retries
    the recording. Hand it to :func:`write_manifest` with the returned entries.

    Raises:
        ValueError: ``rel_path`` is not an EDF under the split folders of the data root.
    """
    recipe = recipe if recipe is not None else Recipe()
    root, cache = Path(data_root).resolve(), Path(cache_dir).resolve()
    task = _task(_find(root, rel_path), root, cache, recipe)
    return unexpected_entry(task, WorkerDiedError(message))


def write_manifest(
    data_root: str | Path,
    cache_dir: str | Path,
    entries: Iterable[RecordingEntry] = (),
    *,
    recipe: Recipe | None = None,
) -> Path:
    """Write ``cache_dir/manifest.json`` listing every recording of the tree with an entry.

    ``entries`` (those :func:`build_recording` returned) take precedence; every other
    recording of the tree is listed when its stored entry is valid for this recipe, as
    :func:`build_cache` does. Returns the manifest's path.

    Raises:
        ValueError: an entry of another recipe, or of a path that is not in the tree.
    """
    recipe = recipe if recipe is not None else Recipe()
    root, cache = Path(data_root).resolve(), Path(cache_dir).resolve()
    everything = discover(root)
    given = {entry.path: entry for entry in entries}
    known = {f.rel_path for f in everything}
    if unknown := sorted(set(given) - known):
        raise ValueError(f"entries for paths not under {root}: {unknown[:5]}")
    for built in given.values():
        if built.recipe_hash != recipe.hash():
            raise ValueError(
                f"{built.path}: entry of recipe {built.recipe_hash}, but the manifest is "
                f"written for recipe {recipe.hash()}"
            )
    listed: list[RecordingEntry] = []
    for source in everything:
        entry = given.get(source.rel_path)
        if entry is None:
            entry = trusted_entry(_task(source, root, cache, recipe))
        if entry is not None:
            listed.append(entry)
    manifest = manifest_for(recipe, root, listed)
    return manifest.save(cache)


def _task(source: SourceFile, root: Path, cache: Path, recipe: Recipe) -> Task:
    return Task(source, root, cache, recipe, WINDOW_N, STRIDE_N)


def _find(root: Path, rel_path: str) -> SourceFile:
    """The source file at ``rel_path`` without listing the whole tree (one stat, no walk)."""
    base = edf_root(root)
    path = (root / rel_path).resolve()
    if (
        path.is_relative_to(base)
        and path.relative_to(base).parts[0] in SPLITS
        and path.suffix.lower() == ".edf"
        and path.is_file()
    ):
        source = describe_source(path, root, base)
        if source.rel_path == rel_path:
            return source
    raise ValueError(f"{rel_path}: no such EDF under the split folders of {base}")
