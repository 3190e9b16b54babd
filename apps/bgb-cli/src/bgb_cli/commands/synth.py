"""``bgb synth OUT --hours H --seed S --profile P``: write a synthetic TUSZ-layout corpus."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["synth"]


@click.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Total recorded hours to write.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed writes identical files.")  # fmt: skip
@click.option("--profile", type=click.Choice(["basic", "clinical"]), default="basic",
              show_default=True,
              help="basic: the demo's corpus; clinical: varied patients, loud artifacts, "
              "spike-wave and low-amplitude seizures (see bgb-data's README).")  # fmt: skip
def synth(out: Path, hours: float, seed: int, profile: str) -> None:
    """Write synthetic EEG (EDF + .csv_bi + .csv) in TUSZ layout under OUT/edf/."""
    from bgb_data import generate_corpus

    try:
        summary = generate_corpus(out, hours=hours, seed=seed, profile=profile)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"wrote {summary.n_recordings} recordings of {summary.n_patients} patients "
        f"({summary.total_duration_s / 3600:.2f} h, {summary.n_seizures} seizures, "
        f"{summary.seizure_duration_s:.0f} s of seizure) to {out}"
    )
