"""Atomic checkpoints that restore a run exactly, loadable with ``weights_only=True``."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import torch

__all__ = ["capture_rng", "load_checkpoint", "restore_rng", "save_checkpoint"]


def capture_rng() -> dict[str, Any]:
    """The state of Python's and torch's generators (the run draws no global numpy numbers)."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put the generators back as :func:`capture_rng` found them."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` so that a reader sees the old file or the new, never half.

    The file is written beside its destination, flushed to disk, then renamed over it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


_REQUIRED = {
    "detector": ("config", "model", "detector_config"),
    "feature_baseline": ("config", "booster", "features"),
}
"""Entries every checkpoint of a kind holds (``kind`` absent: a trained detector)."""


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code runs on load).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a bgb checkpoint (the message says why).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        # not torch's message: it suggests weights_only=False, i.e. running the file's code
        raise ValueError(
            f"{path} is not a bgb checkpoint: torch.load refused it ({type(err).__name__})"
        ) from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not a bgb checkpoint: it holds a {type(payload).__name__}")
    required = _REQUIRED.get(payload.get("kind", "detector"))
    if required is None:
        raise ValueError(f"{path} is not a bgb checkpoint: unknown kind {payload['kind']!r}")
    for key in required:
        if key not in payload:
            raise ValueError(f"{path} is not a bgb checkpoint: it has no {key!r} entry")
    return payload
