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
    "--operating-point",
    "operating_point",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="FA",
    help="Use the checkpoint's operating point for FA false alarms per 24 h (chosen on dev "
    "during training or by `bgb evaluate --split dev`; usually 10, 5, 2.5 or 1). "
    "Default: 10.",
)
@click.option(
    "--tau-on",
    type=click.FloatRange(0, 1),
    default=None,
    help="Hysteresis onset threshold, overriding the operating point's.",
)
@click.option(
    "--tau-off",
    type=click.FloatRange(0, 1),
    default=None,
    help="Hysteresis offset threshold, overriding the operating point's.",
)
@click.option(
    "--stride",
    "stride_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between window starts (default: the checkpoint's "
    "inference stride: evaluation.inference_stride_s, else the window length). Up to the "
    "window length; a shorter stride means more overlap and proportionally more compute.",
)
@click.option(
    "--compile",
    "compile_layers",
    is_flag=True,
    help="On CPU, compile the Mamba2 layers with torch.compile (needs a C++ compiler; "
    "without one, a notice and the uncompiled model; ignored on CUDA). Same outputs; pays "
    "off on long recordings (compiling takes tens of seconds once per process; README, "
    "'bgb detect on a CPU').",
)
@click.option(
    "--no-plot",
    "no_plot",
    is_flag=True,
    help="Do not write <stem>.png: on a CPU the plot takes about half the time of a short "
    "recording (an hour-long one is mostly inference).",
)
def detect(
    edfs: tuple[Path, ...],
    checkpoint: Path,
    out_dir: Path,
    device: str,
    operating_point: float | None,
    tau_on: float | None,
    tau_off: float | None,
    stride_s: float | None,
    compile_layers: bool,
    no_plot: bool,
) -> None:
    """Detect seizures in EDF recordings with a trained checkpoint.

    \b
    Input: scalp EEG in EDF/EDF+ (continuous) with referential channels for the 19 electrodes
    of the 10-20 system (labels such as FP1, EEG FP1-REF, Fp1-LE; T3/T4/T5/T6 or T7/T8/P7/P8),
    any sampling rate (resampled to 256 Hz), at least one model window long (60 s for the
    shipped configs). Bipolar-only and discontinuous (EDF+D) files are rejected.
    \b
    Output, per file, in --out: <stem>.csv_bi (TUSZ events, header comments naming the
    thresholds), <stem>_events.tsv (BIDS/SzCORE), <stem>.png (probability trace; not with
    --no-plot) and <stem>_detect.json (checkpoint, stride, operating point, post-processing).
    \b
    Thresholds: the checkpoint's operating point for 10 FA/24h, chosen on dev when it was
    trained or evaluated (--operating-point picks another); --tau-on/--tau-off override them.
    A checkpoint without calibration uses its run config's thresholds, and says so.
    \b
    Exit code: 0 every file processed, 2 some file rejected (one line each naming file and
    reason; the others are processed), 1 error (bad checkpoint or options).
    """
    import bgb
    from bgb.detection import choose_operating_point, unique_stems
    from bgb_data import RecordingError

    try:
        torch_device = bgb.resolve_device(device)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    try:
        detector = bgb.load_trained(checkpoint, torch_device)
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None
    try:
        choice = choose_operating_point(detector, operating_point, tau_on, tau_off)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"thresholds: {choice.describe()}", err=True)
    if choice.dev_sensitivity == 0.0:
        click.echo(
            "note: at these thresholds the model found none of dev's seizures, so expect few or "
            "no detections; another point: --operating-point FA, or --tau-on/--tau-off",
            err=True,
        )
    if compile_layers and torch_device.type != "cpu":
        click.echo(f"note: --compile is for CPU inference; ignored on {torch_device}", err=True)
    elif compile_layers:
        try:
            n_compiled = bgb.compile_trained(detector)
        except RuntimeError as err:
            click.echo(f"note: not compiling: {err}", err=True)
        else:
            click.echo(f"compiling {n_compiled} Mamba2 layers on first use", err=True)
    if (
        stride_s is not None
        and choice.calibration_stride_s is not None
        and stride_s != choice.calibration_stride_s
    ):
        click.echo(
            f"note: the thresholds were chosen at a {choice.calibration_stride_s:g} s stride; "
            f"--stride {stride_s:g} averages other windows, so dev's figures may not hold",
            err=True,
        )
    window_s = detector.config.data.window_s
    if stride_s is not None and stride_s > window_s:
        raise click.BadParameter(
            f"{stride_s} s is longer than the model's {window_s} s window: samples between "
            "windows would get no prediction",
            param_hint="--stride",
        )
    rejected = 0
    for edf, stem in zip(edfs, unique_stems(edfs), strict=True):
        try:
            with _WindowProgress(edf.name) as progress:
                found = bgb.detect(
                    edf,
                    detector,
                    out_dir=out_dir,
                    device=torch_device,
                    operating_point=operating_point,
                    tau_on=tau_on,
                    tau_off=tau_off,
                    stride_s=stride_s,
                    stem=stem,
                    on_batch=progress.update,
                    plot=not no_plot,
                )
        except (RecordingError, OSError, ValueError, FloatingPointError) as err:
            # one input's failure is that input's rejection; the rest are still processed
            rejected += 1
            click.echo(f"rejected {edf}: {err}", err=True)
            continue
        assert found.files is not None  # out_dir was given
        written = ", ".join(
            p.name
            for p in (
                found.files.csv_bi,
                found.files.events_tsv,
                found.files.png,
                found.files.sidecar,
            )
            if p is not None
        )
        repaired = ", ".join(f"{e} ({why})" for e, why in found.interpolated.items())
        click.echo(
            f"{edf}: {len(found.events)} events in {found.duration_s / 60:.1f} min -> {written}"
            + (f"; interpolated: {repaired}" if repaired else "")
        )
    if rejected:
        click.echo(f"{rejected} of {len(edfs)} files rejected", err=True)
        sys.exit(2)


class _WindowProgress:
    """A tqdm bar of windows done (stderr, on a terminal, unless BGB_DISABLE_TQDM is set)."""

    def __init__(self, name: str) -> None:
        from tqdm.auto import tqdm

        from bgb.config import ConfigError
        from bgb_cli.env import progress_disabled

        try:
            disabled = progress_disabled()
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
