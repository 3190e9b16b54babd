"""Typed run configuration of the bgb app."""

from bgb_cli.config.loading import ENV_VARIABLES, ConfigError, env_overrides, load_config, parse_set
from bgb_cli.config.schema import (
    DataConfig,
    EvaluationConfig,
    ModelSection,
    OutputConfig,
    RunConfig,
    SyntheticConfig,
    TrainingConfig,
)

__all__ = [
    "ENV_VARIABLES",
    "ConfigError",
    "DataConfig",
    "EvaluationConfig",
    "ModelSection",
    "OutputConfig",
    "RunConfig",
    "SyntheticConfig",
    "TrainingConfig",
    "env_overrides",
    "load_config",
    "parse_set",
]
