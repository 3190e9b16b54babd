"""``bgb cache build``: prepare a TUSZ tree into a memory-mapped cache with a manifest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["cache"]


@click.group()
def cache() -> None:
    """The preprocessed-recording cache."""


@cache.command("build")
@click.option("--data-root", required=True, type=click.Path(path_type=Path, file_okay=False,
              exists=True), help="TUSZ root (holding edf/train, edf/dev, edf/eval).")  # fmt: skip
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Cache folder (manifest.json and recordings/).")  # fmt: skip
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "dev", "eval"]),
              help="Only this split (repeatable; default all).")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")  # fmt: skip
@click.option("--limit-files", type=click.IntRange(min=1), default=None,
              help="At most N files per split (smoke runs).")  # fmt: skip
@click.option("--force", is_flag=True, help="Rebuild recordings already in the cache.")
def build(
    data_root: Path,
    out: Path,
    splits: tuple[str, ...],
    workers: int,
    limit_files: int | None,
    force: bool,
) -> None:
    """Preprocess every EDF under DATA_ROOT once into OUT and write OUT/manifest.json.

    Bad recordings are skipped with a documented reason and the build goes on. Exit code
    0 when every recording is ok or skipped for such a reason; 1 when any recording failed
    for an unexpected reason (after building all the others; each failure is listed on
    stderr and logged with its traceback, and the next build retries it).
    """
    from bgb_data import build_cache

    bar = _ProgressBar()
    try:
        summary = build_cache(
            data_root,
            out,
            splits=splits or None,
            workers=workers,
            limit_files=limit_files,
            force=force,
            progress=bar.update,
        )
    except (ValueError, RuntimeError) as err:
        raise click.ClickException(str(err)) from None
    finally:
        bar.close()
    failed = f", {summary.n_failed} failed" if summary.failed else ""
    click.echo(
        f"{summary.n_ok} ok, {summary.n_skipped} skipped{failed} ({summary.n_reused} reused) "
        f"in {summary.elapsed_s:.1f} s; manifest: {summary.manifest_path}"
    )
    for path, reason, message in summary.skipped:
        click.echo(f"skipped {path}: {reason}: {message}")
    for path, reason, message in summary.failed:
        click.echo(f"failed {path}: {reason}: {message}", err=True)
    if summary.failed:
        click.echo(
            f"{summary.n_failed} recordings failed for unexpected reasons (tracebacks are "
            "logged above); fix the cause and build again: finished recordings are reused",
            err=True,
        )
        raise click.exceptions.Exit(1)


class _ProgressBar:
    """A tqdm bar (on stderr, only on a terminal) fed by build_cache's progress callback."""

    def __init__(self) -> None:
        self._bar: Any = None

    def update(self, done: int, total: int, entry: Any) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done - 1, unit="rec",
                             disable=not sys.stderr.isatty())  # fmt: skip
        self._bar.set_postfix_str(entry.status, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
