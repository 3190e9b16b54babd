"""bgb_modal: run bgb on Modal (cache fan-out on CPU containers, GPU training, evaluation,
detection, and a check of the mamba-ssm kernels).

The app itself is :mod:`bgb_modal.app` (``modal run apps/bgb-modal/src/bgb_modal/app.py``);
this package's top level holds the plain functions its cloud functions run, usable and
testable without Modal.
"""

from bgb_modal.actions import (
    CacheOutcome,
    ConfigSource,
    TrainOutcome,
    build_one,
    check_volume_paths,
    detect_files,
    evaluate_split,
    finish_cache,
    plan_cache,
    train_run,
)
from bgb_modal.launcher import ACTIONS, CloudFunctions, launch
from bgb_modal.mamba_check import KernelMismatchError, run_mamba_check

__all__ = [
    "ACTIONS",
    "CacheOutcome",
    "CloudFunctions",
    "ConfigSource",
    "KernelMismatchError",
    "TrainOutcome",
    "build_one",
    "check_volume_paths",
    "detect_files",
    "evaluate_split",
    "finish_cache",
    "launch",
    "plan_cache",
    "run_mamba_check",
    "train_run",
]
