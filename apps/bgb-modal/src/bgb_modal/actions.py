"""What each cloud function does, as plain functions that run anywhere.

The Modal functions in :mod:`bgb_modal.app` only add volumes, GPUs and time limits around
these; tests run them locally on a synthetic corpus. Each calls the library functions the
local CLI uses (``bgb_data``'s cache steps, :func:`bgb.train`, :func:`bgb.evaluate`,
:func:`bgb.detect`).
"""

from __future__ import annotations

import csv
import logging
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import bgb
import bgb_modal.settings as settings
from bgb.checkpoint import load_checkpoint
from bgb.config import RunConfig
from bgb.training.trainer import config_differences
from bgb_data import (
    CachePlan,
    Manifest,
    RecordingEntry,
    RecordingError,
    build_recording,
    failed_recording,
    plan_cache_build,
    write_manifest,
)

__all__ = [
    "CacheOutcome",
    "ConfigSource",
    "TrainOutcome",
    "build_one",
    "check_volume_paths",
    "detect_files",
    "evaluate_split",
    "finish_cache",
    "plan_cache",
    "train_run",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfigSource:
    """A run config as it travels to a container: the YAML text, its file name, ``--set``s.

    Containers do not see the caller's files, so the text goes along; environment variables
    of the container are not applied (the config and its overrides are the whole truth).
    """

    name: str
    """File name of the YAML (shown in error messages)."""
    text: str
    """The YAML document."""
    overrides: tuple[str, ...] = ()
    """``KEY.PATH=VALUE`` assignments applied after the file, in order."""

    @classmethod
    def read(cls, path: str | Path, overrides: Sequence[str] = ()) -> ConfigSource:
        """Read a config file from this machine."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as err:
            raise FileNotFoundError(f"cannot read config {path}: {err.strerror}") from err
        return cls(name=path.name, text=text, overrides=tuple(overrides))

    def load(self) -> RunConfig:
        """The validated run config.

        Raises:
            bgb.ConfigError: invalid YAML, an unknown key or a bad value.
        """
        return bgb.parse_config(self.text, self.name, self.overrides)

    def write(self, folder: Path) -> Path:
        """Write the YAML under its file name into ``folder``; return the path."""
        path = folder / self.name
        path.write_text(self.text)
        return path


def check_volume_paths(config: RunConfig) -> None:
    """Raise ConfigError unless the run's data, cache and run folders lie on the volumes.

    A container's own disk disappears with it: a cache or checkpoint written there is lost.
    """
    mounts = (PurePosixPath(settings.DATA_MOUNT), PurePosixPath(settings.RESULTS_MOUNT))
    fields = {
        "data.root": config.data.root,
        "data.cache_dir": config.data.cache_dir,
        "output.run_dir": config.output.run_dir,
    }
    for key, value in fields.items():
        path = PurePosixPath(str(value)) if value is not None else None
        if path is None or not any(path.is_relative_to(m) for m in mounts):
            raise bgb.ConfigError(
                f"{key}={value}: on Modal it must lie under {settings.DATA_MOUNT} (TUSZ volume) "
                f"or {settings.RESULTS_MOUNT} (results volume), e.g. configs/modal/train.yaml"
            )


# ---------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class CacheOutcome:
    """What a fanned-out cache build did."""

    manifest_path: str
    n_selected: int
    n_built: int
    n_reused: int
    n_ok: int
    """Recordings of the selection ready in the cache."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of each recording of the selection that was skipped."""


def plan_cache(source: ConfigSource) -> CachePlan:
    """Step 1: the ``bgb_data.CachePlan`` of the config's data section.

    Raises:
        ConfigError: ``data.root`` is not set.
        ValueError: the root is not a TUSZ tree, or a patient is in two splits.
    """
    config = source.load()
    if config.data.root is None:
        raise bgb.ConfigError(f"{source.name}: data.root is not set (the TUSZ folder holding edf/)")
    return plan_cache_build(
        config.data.root,
        config.data.cache_dir,
        limit_files=config.data.limit_files,
        force=config.data.force_rebuild,
    )


def build_one(rel_path: str, source: ConfigSource) -> dict[str, Any]:
    """Step 2, one recording: prepare it into the cache; return its manifest entry."""
    config = source.load()
    if config.data.root is None:
        raise bgb.ConfigError(f"{source.name}: data.root is not set")
    entry = build_recording(config.data.root, config.data.cache_dir, rel_path)
    return entry.to_dict()


def finish_cache(
    source: ConfigSource,
    plan: CachePlan,
    entries: Sequence[dict[str, Any]],
    died: Sequence[tuple[str, str]] = (),
) -> CacheOutcome:
    """Step 3: write the manifest from the stored entries and those step 2 returned.

    Entries that step 2 did not store (unexpected errors, retried by the next build) must be
    among ``entries`` to be listed; all others are read back from the cache. ``died`` holds
    (path, what happened) for each step 2 that returned nothing (its container died or ran out
    of time): listed as unexpected errors too, so one such recording does not stop the build.
    """
    config = source.load()
    if config.data.root is None:
        raise bgb.ConfigError(f"{source.name}: data.root is not set")
    built = [RecordingEntry.from_dict(e) for e in entries]
    built += [
        failed_recording(config.data.root, config.data.cache_dir, path, message)
        for path, message in died
    ]
    path = write_manifest(config.data.root, config.data.cache_dir, built)
    listed = {e.path: e for e in Manifest.load(config.data.cache_dir).recordings}
    missing = [p for p in plan.selected if p not in listed]
    if missing:
        raise RuntimeError(
            f"{len(missing)} selected recordings have no entry after the build, e.g. "
            f"{missing[0]}; were all build steps finished and their writes committed?"
        )
    chosen = [listed[p] for p in plan.selected]
    return CacheOutcome(
        manifest_path=str(path),
        n_selected=len(plan.selected),
        n_built=len(plan.pending),
        n_reused=plan.n_reused,
        n_ok=sum(e.status == "ok" for e in chosen),
        skipped=[(e.path, e.reason or "") for e in chosen if e.status != "ok"],
    )


# ---------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainOutcome:
    """How a training attempt ended."""

    status: str
    """``finished`` or ``failed`` (a failure the run reported itself: not worth a retry)."""
    run_dir: str
    resumed: bool
    """Whether this attempt continued from ``last.pt``."""
    message: str = ""
    last_epoch: dict[str, str] = field(default_factory=dict)
    """The last row of ``metrics.csv`` (empty when no epoch finished)."""


def train_run(source: ConfigSource, n_processes: int = 1) -> TrainOutcome:
    """Train as ``bgb train`` does, continuing from ``RUN_DIR/last.pt`` when it exists.

    With ``n_processes > 1`` the same run starts under ``torchrun`` (one process per GPU,
    DistributedDataParallel). Errors the run reports itself (a config that cannot run, a
    non-finite loss) give a ``failed`` outcome; anything else (a crash, a killed process)
    raises, so that the caller's retry policy starts a new attempt.

    Raises:
        ValueError: ``last.pt`` belongs to another configuration.
        RuntimeError: the torchrun processes failed without the run reporting why.
    """
    config = source.load()
    last = config.output.run_dir / "last.pt"
    resumed = last.is_file()
    if resumed:
        _check_same_config(last, config)
    run_dir = str(config.output.run_dir)
    if n_processes <= 1:
        try:
            bgb.train(config, resume=resumed)
        except (bgb.ConfigError, bgb.NonFiniteLossError) as err:
            return TrainOutcome("failed", run_dir, resumed, str(err))
    else:
        with tempfile.TemporaryDirectory(prefix="bgb-train-") as folder:
            args = [str(source.write(Path(folder)))]
            args += [f"--set={o}" for o in source.overrides] + (["--resume"] if resumed else [])
            failure = _torchrun(args, n_processes, config.output.run_dir)
        if failure:
            return TrainOutcome("failed", run_dir, resumed, failure)
    return TrainOutcome("finished", run_dir, resumed, last_epoch=_last_row(config))


def _torchrun(args: list[str], n_processes: int, run_dir: Path) -> str:
    """Run ``bgb-train ARGS`` under torchrun; return a failure the run reported, or ``""``."""
    # the trainer writes nonfinite_batch.pt (rank 0) or nonfinite_batch_rankN.pt when a loss
    # or a model stage is not finite
    before = _dumps(run_dir)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={n_processes}", "-m", "bgb_modal.train_entry", *args]  # fmt: skip
    log.info("running %s", " ".join(command))
    returncode = subprocess.run(command, check=False).returncode
    if returncode == 0:
        return ""
    new = sorted(str(p) for p, ns in _dumps(run_dir).items() if before.get(p) != ns)
    if new:
        return f"non-finite values; the batch is saved in {', '.join(new)} (see the log above)"
    raise RuntimeError(f"torchrun exited with code {returncode}; see the log above")


def _dumps(run_dir: Path) -> dict[Path, int]:
    """The trainer's non-finite batch dumps in ``run_dir`` and their modification times."""
    return {p: p.stat().st_mtime_ns for p in run_dir.glob("nonfinite_batch*.pt")}


def _check_same_config(last: Path, config: RunConfig) -> None:
    changed = config_differences(load_checkpoint(last)["config"], config)
    if changed:
        raise ValueError(
            f"{last} was written by another configuration (changed: {', '.join(changed[:8])}); "
            "set a new output.run_dir for a new run, or delete the folder to start over"
        )


def _last_row(config: RunConfig) -> dict[str, str]:
    path = config.output.run_dir / "metrics.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[-1] if rows else {}


# ---------------------------------------------------------------------------- evaluation, detection


def evaluate_split(
    source: ConfigSource, split: str, checkpoint: str | None, out_dir: str | None
) -> dict[str, Any]:
    """``bgb evaluate``: thresholds chosen on dev, applied to ``split``; returns the report.

    ``checkpoint`` defaults to ``RUN_DIR/best.pt``, ``out_dir`` to ``RUN_DIR/eval-<split>``.
    """
    config = source.load()
    run_dir = config.output.run_dir
    chosen = Path(checkpoint) if checkpoint else run_dir / "best.pt"
    out = Path(out_dir) if out_dir else run_dir / f"eval-{split}"
    report = bgb.evaluate(chosen, config, split, out)
    report["out_dir"] = str(out)
    return report


def detect_files(checkpoint: str, edfs: Sequence[str], out_dir: str) -> dict[str, Any]:
    """``bgb detect``: events of each EDF (an ``.edf`` file, or a folder searched for them).

    Returns ``{"outputs": [...], "rejected": [(path, reason), ...]}``; a file that is not a
    usable recording is rejected with its reason and the others go on, as in the CLI.
    """
    device = bgb.resolve_device("auto")
    detector = bgb.load_trained(Path(checkpoint), device)
    outputs: list[dict[str, Any]] = []
    rejected: list[tuple[str, str]] = []
    for edf in _expand(edfs):
        try:
            found = bgb.detect(edf, detector, out_dir=out_dir, device=device)
        except (RecordingError, FileNotFoundError, IsADirectoryError) as err:
            rejected.append((str(edf), str(err)))
            continue
        assert found.files is not None  # out_dir was given
        outputs.append(
            {
                "edf": str(edf),
                "n_events": len(found.events),
                "duration_s": found.duration_s,
                "csv_bi": str(found.files.csv_bi),
                "events_tsv": str(found.files.events_tsv),
                "png": None if found.files.png is None else str(found.files.png),
            }
        )
    return {"outputs": outputs, "rejected": rejected}


def _expand(paths: Sequence[str]) -> list[Path]:
    """Files as given; folders replaced by the ``*.edf`` files below them, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".edf"))
        else:
            found.append(path)
    return found
