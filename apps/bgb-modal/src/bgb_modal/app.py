"""The Modal app: ``modal run apps/bgb-modal/src/bgb_modal/app.py --action ACTION [options]``.

Actions: ``mamba-check``, ``build-cache``, ``train``, ``evaluate``, ``detect`` (see the
package README). Every function mounts the TUSZ volume at ``/data`` and the results volume
at ``/results``; the bodies are the plain functions of :mod:`bgb_modal.actions`.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import modal

from bgb_modal import actions, settings
from bgb_modal._image import workspace_image
from bgb_modal.launcher import CloudFunctions, launch, split_list

__all__ = [
    "app",
    "build_recording",
    "data_volume",
    "detect",
    "evaluate",
    "finish_cache",
    "image",
    "main",
    "mamba_check",
    "plan_cache",
    "results_volume",
    "train",
]

app = modal.App(settings.APP_NAME)
image = workspace_image()
data_volume = modal.Volume.from_name(settings.DATA_VOLUME, create_if_missing=True)
results_volume = modal.Volume.from_name(settings.RESULTS_VOLUME, create_if_missing=True)
VOLUMES: dict[str | PurePosixPath, modal.Volume | modal.CloudBucketMount] = {
    settings.DATA_MOUNT: data_volume,
    settings.RESULTS_MOUNT: results_volume,
}


def _persist() -> None:
    """Commit this container's writes to the results volume so other containers see them.

    Outside a container (``.local()`` in tests) no volume is mounted and there is nothing to
    commit.
    """
    if not modal.is_local():
        results_volume.commit()


def _refresh() -> None:
    """See the writes other containers committed to the results volume since this one started."""
    if not modal.is_local():
        results_volume.reload()


@app.function(image=image, gpu=settings.GPU, timeout=settings.TEST_MAMBA_TIMEOUT_S)
def mamba_check() -> dict[str, Any]:
    """mamba-ssm kernels vs the pure-PyTorch Mamba2 on the GPU (raises on a mismatch)."""
    from bgb_modal.mamba_check import run_mamba_check

    return run_mamba_check()


_CACHE_MACHINE: dict[str, Any] = {
    "image": image,
    "volumes": VOLUMES,
    "cpu": settings.CACHE_CPU,
    "memory": settings.CACHE_MEMORY_MIB,
}


@app.function(**_CACHE_MACHINE, timeout=settings.CACHE_STEP_TIMEOUT_S)
def plan_cache(source: actions.ConfigSource) -> Any:
    """Cache step 1: which recordings to build (also clears a killed build's scratch files)."""
    plan = actions.plan_cache(source)
    _persist()
    return plan


@app.function(
    **_CACHE_MACHINE,
    timeout=settings.CACHE_RECORDING_TIMEOUT_S,
    max_containers=settings.CACHE_MAX_CONTAINERS,
)
def build_recording(rel_path: str, source: actions.ConfigSource) -> dict[str, Any]:
    """Cache step 2, one recording per input, written atomically and committed."""
    entry = actions.build_one(rel_path, source)
    _persist()
    return entry


@app.function(**_CACHE_MACHINE, timeout=settings.CACHE_STEP_TIMEOUT_S)
def finish_cache(
    source: actions.ConfigSource,
    plan: Any,
    entries: list[dict[str, Any]],
    died: list[tuple[str, str]],
) -> actions.CacheOutcome:
    """Cache step 3: the manifest, once every recording is built or its step has failed."""
    _refresh()
    outcome = actions.finish_cache(source, plan, entries, died)
    _persist()
    return outcome


@app.function(
    image=image,
    volumes=VOLUMES,
    gpu=settings.GPU,
    timeout=settings.TRAIN_TIMEOUT_S,
    retries=modal.Retries(
        max_retries=settings.TRAIN_RETRIES, backoff_coefficient=1.0, initial_delay=30.0
    ),
)
def train(source: actions.ConfigSource, gpus: int = 1) -> actions.TrainOutcome:
    """Train (or continue from ``last.pt``) on ``gpus`` GPUs of this container."""
    import torch

    if not modal.is_local() and torch.cuda.device_count() < gpus:
        raise RuntimeError(f"asked for {gpus} GPUs, the container has {torch.cuda.device_count()}")
    try:
        return actions.train_run(source, n_processes=gpus)
    finally:
        _persist()


@app.function(image=image, volumes=VOLUMES, gpu=settings.GPU, timeout=settings.EVALUATE_TIMEOUT_S)
def evaluate(
    source: actions.ConfigSource, split: str, checkpoint: str | None, out_dir: str | None
) -> dict[str, Any]:
    """Evaluate a checkpoint on dev or eval; the report goes to the results volume."""
    try:
        return actions.evaluate_split(source, split, checkpoint, out_dir)
    finally:
        _persist()


@app.function(image=image, volumes=VOLUMES, gpu=settings.GPU, timeout=settings.DETECT_TIMEOUT_S)
def detect(checkpoint: str, edfs: list[str], out_dir: str) -> dict[str, Any]:
    """Detect seizures in EDF files (or folders of them) on the volumes."""
    try:
        return actions.detect_files(checkpoint, edfs, out_dir)
    finally:
        _persist()


FUNCTIONS = CloudFunctions(
    mamba_check=mamba_check,
    plan_cache=plan_cache,
    build_recording=build_recording,
    finish_cache=finish_cache,
    train=train,
    evaluate=evaluate,
    detect=detect,
)


@app.local_entrypoint()
def main(
    action: str,
    config: str = "",
    overrides: str = "",
    split: str = "eval",
    checkpoint: str = "",
    out: str = "",
    edfs: str = "",
    gpus: int = 1,
) -> None:
    """Run one action. ``--overrides`` takes ``KEY=VALUE`` items separated by ``;``,
    ``--edfs`` paths (files or folders on the volumes) separated by ``,``."""
    launch(
        action,
        FUNCTIONS,
        config=config,
        overrides=split_list(overrides, ";"),
        split=split,
        checkpoint=checkpoint,
        out=out,
        edfs=split_list(edfs, ","),
        gpus=gpus,
    )
