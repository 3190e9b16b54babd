"""``bgb detect EDF... --checkpoint CKPT --out DIR [--device cpu|cuda]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["detect"]


@click.command()
@click.argument(
    "edfs",
    metavar="EDF...",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
)
@click.option(
    "--checkpoint", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option(
    "--tau-on",
    type=click.FloatRange(0, 1),
    default=None,
    help="Hysteresis onset threshold (default: the checkpoint's).",
)
@click.option(
    "--tau-off",
    type=click.FloatRange(0, 1),
    default=None,
    help="Hysteresis offset threshold (default: the checkpoint's).",
)
@click.option(
    "--stride",
    "stride_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between window starts (default: the checkpoint's "
    "evaluation.inference_stride_s). Up to the window length; a longer stride means less "
    "overlap and proportionally less compute.",
)
def detect(
    edfs: tuple[Path, ...],
    checkpoint: Path,
    out_dir: Path,
    device: str,
    tau_on: float | None,
    tau_off: float | None,
    stride_s: float | None,
) -> None:
    """Detect seizures in EDF recordings; write .csv_bi, _events.tsv and .png per file.

    Files that cannot be read are reported one line each and skipped; the exit code is then 2.
    """
    import dataclasses

    from bgb_cli.detection import detect_file
    from bgb_cli.trained import load_trained
    from bgb_cli.training import resolve_device
    from bgb_data import RecordingError

    try:
        torch_device = resolve_device(device)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    try:
        detector = load_trained(checkpoint, torch_device)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    post = detector.config.postprocess_config()
    changes = {k: v for k, v in (("tau_on", tau_on), ("tau_off", tau_off)) if v is not None}
    try:
        post = dataclasses.replace(post, **changes)
    except ValueError as err:
        raise click.ClickException(f"--tau-on/--tau-off: {err}") from None
    window_s = detector.config.data.window_s
    if stride_s is not None and stride_s > window_s:
        raise click.BadParameter(
            f"{stride_s} s is longer than the model's {window_s} s window: samples between "
            "windows would get no prediction",
            param_hint="--stride",
        )
    rejected = 0
    for edf in edfs:
        try:
            with _WindowProgress(edf.name) as progress:
                output = detect_file(
                    edf,
                    detector,
                    out_dir,
                    torch_device,
                    post_config=post,
                    stride_s=stride_s,
                    on_batch=progress.update,
                )
        except (RecordingError, FileNotFoundError, IsADirectoryError) as err:
            rejected += 1
            click.echo(f"rejected {edf}: {err}", err=True)
            continue
        click.echo(
            f"{edf}: {len(output.events)} events in {output.duration_s / 60:.1f} min "
            f"-> {output.csv_bi.name}, {output.events_tsv.name}, {output.png.name}"
        )
    if rejected:
        click.echo(f"{rejected} of {len(edfs)} files rejected", err=True)
        sys.exit(2)


class _WindowProgress:
    """A tqdm bar of windows done (stderr, on a terminal, unless BGB_DISABLE_TQDM is set)."""

    def __init__(self, name: str) -> None:
        import os

        from tqdm.auto import tqdm

        from bgb_cli.config.loading import ConfigError, env_flag

        try:
            disabled = env_flag("BGB_DISABLE_TQDM", os.environ.get("BGB_DISABLE_TQDM", ""))
        except ConfigError as err:
            raise click.ClickException(str(err)) from None
        quiet = disabled or not sys.stderr.isatty()
        self._bar = tqdm(desc=name, unit="win", disable=quiet, leave=False)

    def update(self, n_windows: int) -> None:
        self._bar.update(n_windows)

    def __enter__(self) -> _WindowProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
