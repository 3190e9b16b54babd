"""The optimiser's weight-decay groups on the real Detector, not on a toy model."""

from __future__ import annotations

from torch import nn

from bgb.training.optim import build_optimizer
from bgb_model import Detector, DetectorConfig, Mamba2
from bgb_model._norm import RMSNormGated

NORMS = (nn.BatchNorm1d, nn.LayerNorm, nn.RMSNorm, RMSNormGated)
"""Every normalisation layer the Detector uses; their scales and shifts are not decayed."""


def should_decay(owner: nn.Module, leaf: str) -> bool:
    """Whether a parameter should decay, by its role rather than by its number of dimensions.

    Decayed: the weights of linear maps, convolutions and the electrode embedding. Not decayed:
    biases, norm scales, and Mamba2's per-head A_log, D and dt_bias.
    """
    if isinstance(owner, Mamba2) and leaf in ("A_log", "D", "dt_bias"):
        return False
    if isinstance(owner, NORMS) or leaf == "bias":
        return False
    if isinstance(owner, (nn.Linear, nn.Conv1d)) and leaf == "weight":
        return True
    if leaf == "electrode_embedding":
        return True
    raise AssertionError(f"no rule for {type(owner).__name__}.{leaf}: say whether it decays")


def test_decay_groups_partition_the_detector_by_role() -> None:
    model = Detector(DetectorConfig.small(), backend="torch")
    optimizer = build_optimizer(model, learning_rate=1e-3, weight_decay=0.1)
    decayed, plain = optimizer.param_groups
    assert (decayed["weight_decay"], plain["weight_decay"]) == (0.1, 0.0)

    modules = dict(model.named_modules())
    name_of = {id(p): name for name, p in model.named_parameters()}
    decayed_names = [name_of[id(p)] for p in decayed["params"]]
    plain_names = [name_of[id(p)] for p in plain["params"]]
    # a partition: every parameter once, in exactly one group
    assert sorted(decayed_names + plain_names) == sorted(name_of.values())

    for name, parameter in model.named_parameters():
        owner_name, _, leaf = name.rpartition(".")
        wanted = should_decay(modules[owner_name], leaf)
        assert (name in decayed_names) == wanted, name
        # the optimiser's own rule, which the roles above must agree with
        assert (parameter.ndim >= 2) == wanted, name
    # the roles the rule exists for are really there
    assert any(name.endswith(".A_log") for name in plain_names)
    assert any(name.endswith(".dt_bias") for name in plain_names)
    assert any(name.endswith("norm.weight") for name in plain_names)
    assert "encoder.electrode_embedding" in decayed_names
