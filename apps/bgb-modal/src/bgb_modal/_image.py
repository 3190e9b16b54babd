"""The container image: this workspace's ``uv.lock`` installed on CUDA, sources mounted.

Build steps, in order (each a cached image layer):

1. ``CUDA_BASE_IMAGE`` (CUDA 13.2 with nvcc) plus Python 3.11 and uv (the lock's version).
2. The workspace's ``pyproject.toml`` files and ``uv.lock`` copied in, then
   ``uv sync --frozen --no-install-workspace --all-packages --extra cuda --no-dev`` without
   mamba-ssm: every third-party package at exactly the locked version, torch 2.15.0 (its CUDA 13
   wheel from PyPI) and torch-geometric included.
3. The same sync with mamba-ssm: its locked sdist compiled against the locked torch
   (``--no-build-isolation-package mamba-ssm``, ``MAMBA_FORCE_BUILD=TRUE``: no prebuilt wheel
   is downloaded), for A100 and H100.
4. The workspace's own packages (``bgb_*``) mounted as source at container start, so a code
   change needs no rebuild.
"""

from __future__ import annotations

from pathlib import Path

import modal

from bgb_modal import settings

__all__ = ["WORKSPACE_MEMBERS", "WORKSPACE_PACKAGES", "workspace_image", "workspace_root"]

WORKSPACE_MEMBERS: tuple[str, ...] = (
    "packages/bgb-data",
    "packages/bgb-model",
    "packages/bgb-post",
    "packages/bgb-eval",
    "packages/bgb-events",
    "packages/bgb",
    "apps/bgb-cli",
    "apps/bgb-modal",
)
"""Members of the uv workspace (their ``pyproject.toml`` files enter the image)."""
WORKSPACE_PACKAGES: tuple[str, ...] = (
    "bgb_data",
    "bgb_model",
    "bgb_post",
    "bgb_eval",
    "bgb_events",
    "bgb",
    "bgb_cli",
    "bgb_modal",
)
"""Import names mounted as source into every container."""

_PROJECT = "/workspace"
_VENV = "/opt/bgb-venv"
_WHEEL_VERSION = "0.45.1"  # mamba-ssm's setup.py imports wheel.bdist_wheel
_SYNC = (
    f"cd {_PROJECT} && uv sync --frozen --no-install-workspace --all-packages --extra cuda --no-dev"
)


def workspace_root() -> Path:
    """The workspace folder holding ``uv.lock`` (four levels above this file's package)."""
    return Path(__file__).resolve().parents[4]


def workspace_image(root: Path | None = None) -> modal.Image:
    """The image every function of the app runs in (see the module docstring)."""
    root = workspace_root() if root is None else root
    image = (
        modal.Image.from_registry(settings.CUDA_BASE_IMAGE, add_python=settings.PYTHON_VERSION)
        .apt_install("build-essential", "git")
        .dockerfile_commands(
            [f"COPY --from=ghcr.io/astral-sh/uv:{settings.UV_VERSION} /uv /usr/local/bin/uv"]
        )
        .env(
            {
                "UV_PROJECT_ENVIRONMENT": _VENV,
                "UV_PYTHON": "python" + settings.PYTHON_VERSION,
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_LINK_MODE": "copy",
                "MAMBA_FORCE_BUILD": "TRUE",
                "TORCH_CUDA_ARCH_LIST": settings.CUDA_ARCH_LIST,
                "MAX_JOBS": "8",
                "PYTHONUNBUFFERED": "1",
            }
        )
    )
    for name in ("pyproject.toml", "uv.lock"):
        image = image.add_local_file(root / name, f"{_PROJECT}/{name}", copy=True)
    for member in WORKSPACE_MEMBERS:
        image = image.add_local_file(
            root / member / "pyproject.toml", f"{_PROJECT}/{member}/pyproject.toml", copy=True
        )
    return (
        image.run_commands(
            f"{_SYNC} --no-install-package mamba-ssm",
            f"uv pip install --python {_VENV}/bin/python wheel=={_WHEEL_VERSION}",
            f"{_SYNC} --no-build-isolation-package mamba-ssm",
        )
        # the Modal runtime starts the container's `python`: make it the synced environment's
        .dockerfile_commands([f"ENV PATH={_VENV}/bin:$PATH"])
        .add_local_python_source(*WORKSPACE_PACKAGES)
    )
