"""Training of the detector: data, loss, optimiser, checkpoints, the loop."""

from bgb_cli.inference import resolve_device
from bgb_cli.training.data import TUSZ_HINT, ensure_cache
from bgb_cli.training.trainer import NonFiniteLossError, Trainer, TrainResult

__all__ = [
    "TUSZ_HINT",
    "NonFiniteLossError",
    "TrainResult",
    "Trainer",
    "ensure_cache",
    "resolve_device",
]
