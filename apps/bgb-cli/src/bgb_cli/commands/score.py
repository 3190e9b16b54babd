"""``bgb score REF HYP [--json OUT] [--missing-as-empty]``: score event files against references."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["score"]


def _number(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


@click.command()
@click.argument("ref_dir", metavar="REF", type=click.Path(path_type=Path, file_okay=False))
@click.argument("hyp_dir", metavar="HYP", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the scores as JSON to this file.",
)
@click.option(
    "--missing-as-empty",
    is_flag=True,
    help="Score a reference without a hypothesis file as no detections (default: error).",
)
def score(ref_dir: Path, hyp_dir: Path, json_out: Path | None, missing_as_empty: bool) -> None:
    """Score the .csv_bi files of HYP against those of REF (matched by relative path).

    Prints OVLP, TAES and SzCORE counts, sensitivity and false alarms per 24 h, pooled
    over all recordings; durations come from the references' '# duration' lines. Each
    hypothesis row is one event, even where it touches the next (overlapping rows merge).
    """
    from bgb_eval import score_folders
    from bgb_events import AnnotationError

    try:
        result = score_folders(ref_dir, hyp_dir, missing_as_empty=missing_as_empty)
    except (AnnotationError, ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    hours = result.total_duration_s / 3600.0
    click.echo(f"{result.n_recordings} recordings, {hours:.2f} h")
    click.echo(f"{'method':<8}{'tp':>10}{'fn':>10}{'fp':>10}{'sens %':>9}{'FA/24h':>9}")
    for name in ("ovlp", "taes", "szcore"):
        counts = result.method(name)
        sensitivity = None if counts.sensitivity is None else 100.0 * counts.sensitivity
        click.echo(
            f"{name:<8}{counts.tp:>10.2f}{counts.fn:>10.2f}{counts.fp:>10.2f}"
            f"{_number(sensitivity, '{:.2f}'):>9}{_number(counts.fa_per_24h, '{:.2f}'):>9}"
        )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
