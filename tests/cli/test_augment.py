"""Training-time augmentation: each transform does what its name says, labels untouched."""

from __future__ import annotations

import pytest
import torch

from bgb.config.schema import AugmentConfig
from bgb.training.augment import MIRROR, augment_batch
from bgb_data import ELECTRODES


def _batch(n: int = 6, t: int = 32) -> torch.Tensor:
    return torch.randn(n, 19, t, generator=torch.Generator().manual_seed(0))


def test_defaults_change_nothing() -> None:
    config = AugmentConfig()
    assert not config.enabled
    x = _batch()
    assert torch.equal(augment_batch(x, config, torch.Generator().manual_seed(1)), x)


def test_mirror_exchanges_left_and_right() -> None:
    assert sorted(MIRROR) == list(range(19))
    for i, j in enumerate(MIRROR):
        a, b = ELECTRODES[i], ELECTRODES[j]
        if a.endswith("z"):
            assert a == b
        else:  # odd numbers on the left, even on the right, same row
            assert a[:-1] == b[:-1] and int(a[-1]) % 2 != int(b[-1]) % 2
    x = _batch()
    out = augment_batch(x, AugmentConfig(mirror=1.0), torch.Generator().manual_seed(1))
    assert torch.equal(out, x[:, list(MIRROR), :])


def test_sign_flip_and_gain_are_per_window_factors() -> None:
    x = _batch(n=64)
    config = AugmentConfig(gain=(0.5, 2.0), sign_flip=0.5)
    out = augment_batch(x, config, torch.Generator().manual_seed(2))
    ratio = out / x  # one factor per window, the same on every channel and sample
    per_window = ratio[:, :1, :1]
    torch.testing.assert_close(ratio, per_window.expand_as(ratio), rtol=1e-5, atol=0)
    factors = per_window.flatten()
    assert bool((factors.abs() >= 0.5 - 1e-6).all() and (factors.abs() <= 2.0 + 1e-6).all())
    assert 10 < int((factors < 0).sum()) < 54  # about half flipped


def test_channel_dropout_zeroes_whole_channels() -> None:
    x = _batch(n=32)
    out = augment_batch(x, AugmentConfig(channel_dropout=0.3), torch.Generator().manual_seed(3))
    zero = (out == 0).all(dim=-1)
    kept = ~zero
    assert 0.15 < float(zero.float().mean()) < 0.45
    assert torch.equal(out[kept], x[kept])


def test_same_generator_seed_same_output() -> None:
    config = AugmentConfig(gain=(0.5, 2), channel_gain=(0.8, 1.25), sign_flip=0.5, mirror=0.5,
                           channel_dropout=0.1)  # fmt: skip
    x = _batch()
    a = augment_batch(x, config, torch.Generator().manual_seed(7))
    b = augment_batch(x, config, torch.Generator().manual_seed(7))
    c = augment_batch(x, config, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_range_rejected() -> None:
    with pytest.raises(ValueError, match="gain"):
        AugmentConfig(gain=(2.0, 1.0))
