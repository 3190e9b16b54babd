"""Training of the detector: data, loss, optimiser, checkpoints, the loop, a whole run."""

from bgb.training.run import ResumeError, TrainedRun, train
from bgb.training.trainer import NonFiniteLossError, Trainer, TrainResult

__all__ = [
    "NonFiniteLossError",
    "ResumeError",
    "TrainResult",
    "TrainedRun",
    "Trainer",
    "train",
]
