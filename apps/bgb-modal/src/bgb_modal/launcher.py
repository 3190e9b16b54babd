"""The ``--action`` dispatcher behind ``modal run .../app.py``: runs on the caller's machine.

It validates the config locally (a bad key fails before any container starts), then calls
the cloud functions. The functions are passed in, so the same code drives Modal's functions
in the cloud and local stand-ins in tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import click

import bgb_modal.settings as settings
from bgb_modal.actions import ConfigSource, check_volume_paths

__all__ = ["ACTIONS", "CloudFunctions", "RemoteFunction", "launch", "split_list"]

ACTIONS: tuple[str, ...] = ("mamba-check", "build-cache", "train", "evaluate", "detect")


class RemoteFunction(Protocol):
    """The part of ``modal.Function`` the launcher uses."""

    def remote(self, *args: Any, **kwargs: Any) -> Any: ...

    def map(
        self,
        *inputs: Iterable[Any],
        kwargs: dict[str, Any] = ...,
        order_outputs: bool = ...,
        return_exceptions: bool = ...,
    ) -> Iterable[Any]: ...

    def with_options(self, *, gpu: str | None = ...) -> Any: ...


@dataclass(frozen=True)
class CloudFunctions:
    """The app's functions, by role."""

    mamba_check: RemoteFunction
    plan_cache: RemoteFunction
    build_recording: RemoteFunction
    finish_cache: RemoteFunction
    train: RemoteFunction
    evaluate: RemoteFunction
    detect: RemoteFunction


def split_list(text: str, separator: str) -> list[str]:
    """``"a;b;"`` -> ``["a", "b"]`` (blank items dropped)."""
    return [item.strip() for item in text.split(separator) if item.strip()]


def launch(
    action: str,
    functions: CloudFunctions,
    *,
    config: str = "",
    overrides: Sequence[str] = (),
    split: str = "eval",
    checkpoint: str = "",
    out: str = "",
    edfs: Sequence[str] = (),
    gpus: int = 1,
    require_volumes: bool = True,
    echo: Callable[[str], None] = click.echo,
) -> Any:
    """Run one action; return what its function returned.

    Raises:
        click.ClickException: a bad action or argument, an invalid config, or a run that
            reported its own failure (the message says which).
    """
    if action not in ACTIONS:
        raise click.ClickException(f"--action {action!r}: choose one of {', '.join(ACTIONS)}")
    if action == "mamba-check":
        report = functions.mamba_check.remote()
        echo(json.dumps(report, indent=2))
        return report
    if action == "detect":
        return _detect(functions, checkpoint, edfs, out, echo)
    source = _source(config, overrides, require_volumes)
    if action == "evaluate":
        if split not in ("dev", "eval"):
            raise click.ClickException(f"--split {split!r}: choose dev or eval")
        return _evaluate(functions, source, split, checkpoint, out, echo)
    outcome = _build_cache(functions, source, echo)
    if action == "build-cache":
        return outcome
    return _train(functions, source, gpus, echo)


def _source(config: str, overrides: Sequence[str], require_volumes: bool) -> ConfigSource:
    from bgb.config import ConfigError

    if not config:
        raise click.ClickException("--config is required for this action")
    try:
        source = ConfigSource.read(config, overrides)
        loaded = source.load()
        if require_volumes:
            check_volume_paths(loaded)
    except (ConfigError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    return source


def _build_cache(
    functions: CloudFunctions, source: ConfigSource, echo: Callable[[str], None]
) -> Any:
    plan = functions.plan_cache.remote(source)
    echo(f"cache: {len(plan.selected)} recordings selected, {len(plan.pending)} to build")
    entries: list[dict[str, Any]] = []
    died: list[tuple[str, str]] = []
    if plan.pending:
        # A Python error inside a step comes back as its entry; a step whose container died or
        # ran out of time comes back as an exception, matched to its recording by the order.
        results = functions.build_recording.map(
            plan.pending, kwargs={"source": source}, order_outputs=True, return_exceptions=True
        )
        for n, (rel_path, entry) in enumerate(zip(plan.pending, results, strict=True), start=1):
            if isinstance(entry, BaseException):
                what = f"the build step failed: {type(entry).__name__}: {entry}"
                died.append((rel_path, what))
                echo(f"cache: {rel_path}: {what}; listed as skipped, retried by the next build")
            else:
                entries.append(entry)
            if n % 100 == 0 or n == len(plan.pending):
                echo(f"cache: {n}/{len(plan.pending)} built")
    # entries of unexpected errors are not stored by their worker: hand them to the manifest
    unstored = [e for e in entries if e["reason"] == "unexpected_error"]
    outcome = functions.finish_cache.remote(source, plan, unstored, died)
    echo(
        f"cache: {outcome.n_ok} ok, {len(outcome.skipped)} skipped ({outcome.n_reused} reused); "
        f"manifest: {outcome.manifest_path}"
    )
    for path, reason in outcome.skipped:
        echo(f"skipped {path}: {reason}")
    return outcome


def _train(
    functions: CloudFunctions, source: ConfigSource, gpus: int, echo: Callable[[str], None]
) -> Any:
    if gpus < 1:
        raise click.ClickException(f"--gpus {gpus}: must be at least 1")
    train = functions.train
    if gpus > 1:
        train = train.with_options(gpu=f"{settings.GPU}:{gpus}")
    outcome = train.remote(source, gpus)
    if outcome.status != "finished":
        raise click.ClickException(f"training failed: {outcome.message}")
    echo(f"training finished in {outcome.run_dir} (resumed: {outcome.resumed})")
    if outcome.last_epoch:
        echo("last epoch: " + ", ".join(f"{k}={v}" for k, v in outcome.last_epoch.items() if v))
    return outcome


def _evaluate(
    functions: CloudFunctions,
    source: ConfigSource,
    split: str,
    checkpoint: str,
    out: str,
    echo: Callable[[str], None],
) -> Any:
    from bgb.reporting import format_metrics_table

    report = functions.evaluate.remote(source, split, checkpoint or None, out or None)
    echo(format_metrics_table(report))
    echo(f"report: {report['out_dir']}/metrics.json (on the results volume)")
    return report


def _detect(
    functions: CloudFunctions,
    checkpoint: str,
    edfs: Sequence[str],
    out: str,
    echo: Callable[[str], None],
) -> Any:
    if not checkpoint or not edfs:
        raise click.ClickException("detect needs --checkpoint and --edfs (paths on the volumes)")
    result = functions.detect.remote(
        checkpoint, list(edfs), out or f"{settings.RESULTS_MOUNT}/detect"
    )
    for output in result["outputs"]:
        echo(f"{output['edf']}: {output['n_events']} events -> {output['csv_bi']}")
    for path, reason in result["rejected"]:
        echo(f"rejected {path}: {reason}")
    if result["rejected"]:
        raise click.ClickException(f"{len(result['rejected'])} files rejected")
    return result
