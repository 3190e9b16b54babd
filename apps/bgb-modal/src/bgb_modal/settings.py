"""Names, mount points, machine sizes and time limits of the Modal app, in one place.

Change them here (or copy the app); nothing reads environment variables. Paths in a run
config that the cloud functions use must lie under :data:`DATA_MOUNT` or
:data:`RESULTS_MOUNT`, the two volumes every function mounts.
"""

from __future__ import annotations

__all__ = [
    "APP_NAME",
    "CACHE_CPU",
    "CACHE_MAX_CONTAINERS",
    "CACHE_MEMORY_MIB",
    "CACHE_RECORDING_TIMEOUT_S",
    "CACHE_STEP_TIMEOUT_S",
    "CUDA_ARCH_LIST",
    "CUDA_BASE_IMAGE",
    "DATA_MOUNT",
    "DATA_VOLUME",
    "DETECT_TIMEOUT_S",
    "EVALUATE_TIMEOUT_S",
    "GPU",
    "PYTHON_VERSION",
    "RESULTS_MOUNT",
    "RESULTS_VOLUME",
    "TEST_MAMBA_TIMEOUT_S",
    "TRAIN_RETRIES",
    "TRAIN_TIMEOUT_S",
    "UV_VERSION",
]

APP_NAME = "bgb"
"""Name of the Modal app (``modal app list`` shows it)."""

DATA_VOLUME = "bgb-tusz"
"""Modal Volume holding the TUSZ tree, uploaded once (see the README)."""
DATA_MOUNT = "/data"
"""Where :data:`DATA_VOLUME` appears in every container; TUSZ is expected at ``/data/tusz``."""
RESULTS_VOLUME = "bgb-results"
"""Modal Volume holding the cache, runs (checkpoints, TensorBoard, CSV) and reports."""
RESULTS_MOUNT = "/results"
"""Where :data:`RESULTS_VOLUME` appears; the cache is at ``/results/cache/tusz``."""

GPU = "A100-80GB"
"""GPU type of ``train``, ``evaluate``, ``detect`` and ``mamba-check``; ``--gpus N`` asks for
N of them in one container (``A100-80GB:N``)."""

PYTHON_VERSION = "3.11"
"""Python of the image (the workspace's ``requires-python``)."""
CUDA_BASE_IMAGE = "nvidia/cuda:13.2.0-devel-ubuntu24.04"
"""Base image: CUDA 13.2 with nvcc, the CUDA of the locked torch wheel (torch 2.15.0 cu13),
needed to compile mamba-ssm's extension against that torch."""
CUDA_ARCH_LIST = "8.0;9.0"
"""Compute capabilities mamba-ssm is compiled for: A100 (8.0) and H100 (9.0)."""
UV_VERSION = "0.13.9"
"""uv used in the image build (the version that wrote ``uv.lock``)."""

CACHE_CPU = 2.0
"""CPU cores per cache-building container (one recording at a time each)."""
CACHE_MEMORY_MIB = 8192
"""Memory per cache-building container; the longest TUSZ recordings need a few GiB."""
CACHE_MAX_CONTAINERS = 300
"""Most cache-building containers at once (about 7,400 TUSZ recordings in all)."""
CACHE_RECORDING_TIMEOUT_S = 30 * 60
"""Time limit of one recording's preprocessing."""
CACHE_STEP_TIMEOUT_S = 60 * 60
"""Time limit of the planning and manifest steps (they list and stat the whole tree)."""

TRAIN_TIMEOUT_S = 24 * 60 * 60
"""One training attempt; Modal's maximum. A longer run continues in the next attempt."""
TRAIN_RETRIES = 6
"""Attempts after the first. Each starts from ``last.pt``, so 7 attempts of 24 h cover the
original design's ~100 h run; failures the run reports itself (bad config, non-finite loss) are not
retried."""
EVALUATE_TIMEOUT_S = 6 * 60 * 60
"""Whole-recording inference over dev (and eval) with the threshold sweep."""
DETECT_TIMEOUT_S = 2 * 60 * 60
"""Detection over a batch of EDF files."""
TEST_MAMBA_TIMEOUT_S = 15 * 60
"""The kernel check (Triton compiles its kernels on first use)."""
