"""Training-time augmentation of a batch of windows, on the batch's device.

Each transform models a way two recordings of the same seizure differ in a clinic, so the
detector cannot lean on it:

- ``gain``: the whole window scaled by a log-uniform factor (amplifier calibration, skull,
  and the per-recording robust scaling of the cache, which a long seizure inflates);
- ``channel_gain``: each electrode scaled by its own log-uniform factor (contact impedance);
- ``sign_flip``: the polarity of the whole window inverted (the sign of a discharge depends on
  the dipole's orientation, not on whether it is a seizure);
- ``mirror``: left and right electrodes exchanged (a focus on either side is equally likely);
- ``channel_dropout``: electrodes set to zero, the centre of a normalised channel (what the
  cache writes when it cannot use an electrode is an interpolation, a different but related
  loss of information).

The labels never change. Draws come from the caller's ``torch.Generator`` (on CPU), so a run
and its resume see the same augmentation.
"""

from __future__ import annotations

import math

import torch

from bgb.config.schema import AugmentConfig
from bgb_data import ELECTRODES as _ELECTRODES

__all__ = ["MIRROR", "augment_batch"]

_PAIRS = {"Fp1": "Fp2", "F7": "F8", "F3": "F4", "T3": "T4", "C3": "C4", "T5": "T6",
          "P3": "P4", "O1": "O2"}  # fmt: skip


def _mirror() -> tuple[int, ...]:
    swap = {**_PAIRS, **{b: a for a, b in _PAIRS.items()}}
    return tuple(_ELECTRODES.index(swap.get(e, e)) for e in _ELECTRODES)


MIRROR = _mirror()
"""Channel order that exchanges left and right electrodes (midline ones stay)."""


def _log_uniform(
    shape: tuple[int, ...], low: float, high: float, generator: torch.Generator
) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))


def augment_batch(
    x: torch.Tensor, config: AugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """A new tensor: ``x`` (batch, 19, time) with each window transformed independently.

    Every draw is made on the CPU from ``generator`` whatever the transforms enabled, so the
    sequence of draws does not depend on ``x``'s device.
    """
    batch, channels, _ = x.shape
    if channels != len(_ELECTRODES):
        raise ValueError(f"augment_batch expects {len(_ELECTRODES)} electrodes, got {channels}")
    gain = _log_uniform((batch, 1), *config.gain, generator)
    channel_gain = _log_uniform((batch, channels), *config.channel_gain, generator)
    flip = torch.rand((batch, 1), generator=generator) < config.sign_flip
    mirror = torch.rand((batch,), generator=generator) < config.mirror
    keep = torch.rand((batch, channels), generator=generator) >= config.channel_dropout
    scale = gain * channel_gain * torch.where(flip, -1.0, 1.0) * keep
    out = x * scale.to(x.device, x.dtype).unsqueeze(-1)
    if bool(mirror.any()):
        index = torch.tensor(MIRROR, device=x.device)
        rows = mirror.to(x.device)
        out = torch.where(rows[:, None, None], out.index_select(1, index), out)
    return out
