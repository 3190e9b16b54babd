"""bgb: train, evaluate and run the seizure detector from Python.

The command line (``bgb train``, ``bgb evaluate``, ``bgb detect``) and the Modal launcher
call these same functions::

    import bgb

    config = bgb.load_config("configs/demo.yaml", ["data.root=/data/tusz"])
    run = bgb.train(config)                                  # cache, train, evaluate
    report = bgb.evaluate(run.run_dir / "best.pt", config, split="eval")
    found = bgb.detect("recording.edf", run.run_dir / "best.pt")   # or an mne.io.Raw
    found.events                                             # start_s, stop_s, confidence
"""

from bgb.config import ConfigError, RunConfig, load_config, parse_config
from bgb.corpus import ensure_cache
from bgb.detection import Detection, DetectionFiles, OperatingPointChoice, detect
from bgb.evaluation import evaluate
from bgb.inference import resolve_device
from bgb.trained import TrainedDetector, compile_trained, load_trained
from bgb.training import NonFiniteLossError, ResumeError, TrainedRun, TrainResult, train

__all__ = [
    "ConfigError",
    "Detection",
    "DetectionFiles",
    "NonFiniteLossError",
    "OperatingPointChoice",
    "ResumeError",
    "RunConfig",
    "TrainResult",
    "TrainedDetector",
    "TrainedRun",
    "compile_trained",
    "detect",
    "ensure_cache",
    "evaluate",
    "load_config",
    "load_trained",
    "parse_config",
    "resolve_device",
    "train",
]
