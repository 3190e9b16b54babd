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
  loss of information);
- ``rhythm``: a bilaterally symmetric band-limited rhythm added to the window, 4-13 Hz by
  default, waxing and waning, strongest over the back, the centre or the front of the head
  (a posterior dominant rhythm, slowed in some patients, drowsy central theta, a mu rhythm,
  frontal midline theta). These are the normal rhythms most often mistaken for a seizure's
  rhythmic discharge; a discharge is focal or evolves, they do neither. The added potential is
  re-referenced to the common average as the cache's signals are.

The labels never change. Draws come from the caller's ``torch.Generator`` (on CPU), so a run
and its resume see the same augmentation.
"""

from __future__ import annotations

import math

import torch

from bgb.config.schema import AugmentConfig
from bgb_data import ELECTRODES as _ELECTRODES
from bgb_data import SFREQ_HZ

__all__ = ["MIRROR", "augment_batch", "symmetric_rhythm"]

_PAIRS = {"Fp1": "Fp2", "F7": "F8", "F3": "F4", "T3": "T4", "C3": "C4", "T5": "T6",
          "P3": "P4", "O1": "O2"}  # fmt: skip


def _mirror() -> tuple[int, ...]:
    swap = {**_PAIRS, **{b: a for a, b in _PAIRS.items()}}
    return tuple(_ELECTRODES.index(swap.get(e, e)) for e in _ELECTRODES)


MIRROR = _mirror()
"""Channel order that exchanges left and right electrodes (midline ones stay)."""

# Approximate 10-20 positions on a unit disc seen from above: x left (-) to right (+),
# y back (-) to front (+). Only the front-back coordinate and |x| shape a rhythm's field.
_XY = {"Fp1": (-0.3, 0.95), "Fp2": (0.3, 0.95), "F7": (-0.8, 0.6), "F3": (-0.4, 0.5),
       "Fz": (0.0, 0.5), "F4": (0.4, 0.5), "F8": (0.8, 0.6), "T3": (-1.0, 0.0),
       "C3": (-0.5, 0.0), "Cz": (0.0, 0.0), "C4": (0.5, 0.0), "T4": (1.0, 0.0),
       "T5": (-0.8, -0.6), "P3": (-0.4, -0.5), "Pz": (0.0, -0.5), "P4": (0.4, -0.5),
       "T6": (0.8, -0.6), "O1": (-0.3, -0.95), "O2": (0.3, -0.95)}  # fmt: skip
_RHYTHM_PARTS = 5
"""Sinusoids summed into one rhythm; their beating makes it wax and wane."""


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
    batch, channels, length = x.shape
    if channels != len(_ELECTRODES):
        raise ValueError(f"augment_batch expects {len(_ELECTRODES)} electrodes, got {channels}")
    gain = _log_uniform((batch, 1), *config.gain, generator)
    channel_gain = _log_uniform((batch, channels), *config.channel_gain, generator)
    flip = torch.rand((batch, 1), generator=generator) < config.sign_flip
    mirror = torch.rand((batch,), generator=generator) < config.mirror
    keep = torch.rand((batch, channels), generator=generator) >= config.channel_dropout
    scale = gain * channel_gain * torch.where(flip, -1.0, 1.0) * keep
    # drawn after the transforms above, so adding it left their draws as they were
    added = torch.rand((batch,), generator=generator) < config.rhythm
    if bool(added.any()):
        rhythm = symmetric_rhythm(batch, length, config, generator) * added[:, None, None]
        x = x + rhythm.to(x.device, x.dtype)
    out = x * scale.to(x.device, x.dtype).unsqueeze(-1)
    if bool(mirror.any()):
        index = torch.tensor(MIRROR, device=x.device)
        rows = mirror.to(x.device)
        out = torch.where(rows[:, None, None], out.index_select(1, index), out)
    return out


def symmetric_rhythm(
    batch: int, length: int, config: AugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """(batch, 19, length) float32 on the CPU: one rhythm per window, as ``rhythm`` adds it.

    A sum of five sinusoids at frequencies uniform within a half-width drawn from
    ``config.rhythm_width_hz`` of a centre frequency drawn from ``config.rhythm_hz`` (at the
    cache's rate), times a field that is a Gaussian over the scalp centred on the midline
    (front-back position uniform from the occiput to between Fz and Fp, width 0.4-0.8 of the
    head's radius), so mirroring leaves it unchanged. At its
    largest site its RMS amplitude (over a window much longer than the beats) is the one drawn
    from ``config.rhythm_amplitude``; the common average is then subtracted.
    """
    xy = torch.tensor([_XY[e] for e in _ELECTRODES], dtype=torch.float64)  # (19, 2)
    centre_hz = config.rhythm_hz[0] + torch.rand(
        (batch, 1), generator=generator, dtype=torch.float64
    ) * (config.rhythm_hz[1] - config.rhythm_hz[0])
    low, high = config.rhythm_width_hz
    half_width = low + (high - low) * torch.rand(
        (batch, 1), generator=generator, dtype=torch.float64
    )
    offsets = 2 * torch.rand((batch, _RHYTHM_PARTS), generator=generator, dtype=torch.float64) - 1
    hz = centre_hz + half_width * offsets  # (batch, parts)
    phase = (
        2 * math.pi * torch.rand((batch, _RHYTHM_PARTS), generator=generator, dtype=torch.float64)
    )
    amplitude = _log_uniform((batch, 1), *config.rhythm_amplitude, generator)
    front_back = -1.0 + 1.7 * torch.rand((batch, 1), generator=generator, dtype=torch.float64)
    width = 0.4 + 0.4 * torch.rand((batch, 1), generator=generator, dtype=torch.float64)
    squared = xy[None, :, 0] ** 2 + (xy[None, :, 1] - front_back) ** 2  # (batch, 19)
    field = torch.exp(-squared / (2 * width**2))
    field = field / field.amax(dim=1, keepdim=True)
    t = torch.arange(length, dtype=torch.float64) / SFREQ_HZ
    waves = torch.sin(2 * math.pi * hz[:, :, None] * t + phase[:, :, None])  # (batch, parts, T)
    wave = waves.sum(dim=1) / math.sqrt(_RHYTHM_PARTS / 2)  # unit RMS on average
    potential = (amplitude * field)[:, :, None] * wave[:, None, :]
    return (potential - potential.mean(dim=1, keepdim=True)).to(torch.float32)
