"""A trained detector read back from a checkpoint, with the run configuration it came from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from bgb.calibration import Calibration, read_calibration
from bgb.checkpoint import load_checkpoint, save_checkpoint
from bgb.config import RunConfig
from bgb_model import Detector, DetectorConfig, compile_mamba_layers
from bgb_model.mamba2 import Mamba2Backend

__all__ = ["TrainedDetector", "compile_trained", "load_trained", "store_calibration"]


@dataclass
class TrainedDetector:
    """The model (in eval mode, on its device), the run configuration it was trained with,
    and the operating points chosen on dev (None when never calibrated)."""

    model: torch.nn.Module
    config: RunConfig
    path: Path
    epoch: int
    calibration: Calibration | None


def load_trained(
    path: str | Path, device: torch.device, backend: Mamba2Backend = "auto"
) -> TrainedDetector:
    """Rebuild the detector of a checkpoint and load its weights.

    The architecture comes from the checkpoint itself, so a checkpoint trained on GPU with the
    mamba-ssm kernels runs here on the pure-PyTorch path with the same parameters; ``backend``
    is this process's choice, not the training run's. A ``feature_baseline`` checkpoint
    (``bgb baseline``) becomes a :class:`~bgb.baseline.FeatureBaseline` instead.

    Raises:
        ValueError: the checkpoint predates the spectral-signature PE (its graph section has no
            ``pe`` key), so its graph layer was trained on another encoding; or a baseline's
            features are of another version than this bgb computes.
    """
    path = Path(path)
    state = load_checkpoint(path, map_location=device)
    config = RunConfig.model_validate(state["config"])
    if state.get("kind") == "feature_baseline":
        from bgb.baseline import FeatureBaseline, FeatureSpec  # lightgbm only when needed

        baseline = FeatureBaseline(state["booster"], FeatureSpec.from_dict(state["features"]))
        return TrainedDetector(
            model=baseline.eval(),
            config=config,
            path=Path(path),
            epoch=int(state["epoch"]),
            calibration=read_calibration(state),
        )
    graph = state["detector_config"].get("graph", {})
    if isinstance(graph, dict) and "pe" not in graph:
        raise ValueError(
            f"{path}: this checkpoint was trained with the earlier eigenvector PE, which "
            "bgb no longer computes (it was unstable); retrain it with this version"
        )
    detector_config = DetectorConfig.from_dict(state["detector_config"])
    model = Detector(detector_config, backend=backend).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    return TrainedDetector(
        model=model,
        config=config,
        path=Path(path),
        epoch=int(state["epoch"]),
        calibration=read_calibration(state),
    )


def compile_trained(detector: TrainedDetector) -> int:
    """Compile the Mamba2 layers of ``detector``'s model in place for faster inference (same
    outputs; ``bgb_model.compile_mamba_layers``); the number compiled (0 for a baseline).

    Raises:
        RuntimeError: no C++ compiler for inductor's CPU backend; the model is unchanged.
    """
    return compile_mamba_layers(detector.model)


def store_calibration(checkpoint: Path, calibration: Calibration) -> None:
    """Write ``calibration`` into ``checkpoint`` atomically (temp file, fsync, rename)."""
    state = load_checkpoint(checkpoint)
    state["calibration"] = calibration.to_dict()
    save_checkpoint(checkpoint, state)
