"""Typed run configuration of the bgb app."""

from bgb.config.loading import Assignment, load_config, parse_config, parse_set
from bgb.config.schema import (
    ConfigError,
    DataConfig,
    EvaluationConfig,
    ModelSection,
    OutputConfig,
    RunConfig,
    SyntheticConfig,
    TrainingConfig,
)

__all__ = [
    "Assignment",
    "ConfigError",
    "DataConfig",
    "EvaluationConfig",
    "ModelSection",
    "OutputConfig",
    "RunConfig",
    "SyntheticConfig",
    "TrainingConfig",
    "load_config",
    "parse_config",
    "parse_set",
]
