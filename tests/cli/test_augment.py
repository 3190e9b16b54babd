"""Training-time augmentation: each transform does what its name says, labels untouched."""

from __future__ import annotations

import pytest
import torch

from bgb.config.schema import AugmentConfig
from bgb.training.augment import MIRROR, augment_batch, symmetric_rhythm
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


def test_rhythm_is_symmetric_narrow_band_and_common_average() -> None:
    config = AugmentConfig(
        rhythm_hz=(8.0, 8.0), rhythm_width_hz=(0.5, 0.5), rhythm_amplitude=(1.0, 1.0)
    )
    length = 30 * 256  # 30 s at the cache's rate
    raw = symmetric_rhythm(64, length, config, torch.Generator().manual_seed(4))
    assert raw.shape == (64, 19, length) and raw.dtype == torch.float32
    r = raw.double()
    # re-referenced: the electrodes sum to zero at every sample (float32 rounding of values <= 5)
    torch.testing.assert_close(r.sum(dim=1), torch.zeros_like(r[:, 0]), rtol=0, atol=1e-5)
    # mirroring leaves it unchanged (the field is a function of |x|; float32 rounding)
    torch.testing.assert_close(r[:, list(MIRROR), :], r, rtol=0, atol=1e-6)
    # its power within 0.5 Hz of the centre, plus a Hann window's main lobe (2 bins of 1/30 Hz)
    hann = torch.hann_window(length, periodic=False, dtype=torch.float64)
    power = torch.fft.rfft(r * hann, dim=-1).abs().pow(2).sum(dim=(0, 1))
    hz = torch.fft.rfftfreq(length, 1 / 256)
    near = (hz - 8.0).abs() <= 0.5 + 3 / 30
    assert float(power[near].sum() / power.sum()) > 0.999
    # amplitude is a factor: the same draws at twice the amplitude give twice the rhythm
    double = config.model_copy(update={"rhythm_amplitude": (2.0, 2.0)})
    r2 = symmetric_rhythm(64, length, double, torch.Generator().manual_seed(4)).double()
    torch.testing.assert_close(r2, 2 * r, rtol=0, atol=2e-6)


def test_rhythm_added_to_the_chosen_windows_only() -> None:
    x = _batch(n=64, t=512)
    out = augment_batch(x, AugmentConfig(rhythm=0.5), torch.Generator().manual_seed(5))
    changed = (out != x).any(dim=-1).any(dim=-1)
    assert 16 < int(changed.sum()) < 48
    delta = out - x
    # what was added to a changed window is symmetric and sums to zero over electrodes
    torch.testing.assert_close(delta[changed][:, list(MIRROR)], delta[changed], rtol=0, atol=1e-5)
    torch.testing.assert_close(delta.sum(dim=1), torch.zeros(64, 512), rtol=0, atol=1e-4)


def test_rhythm_leaves_the_other_transforms_draws_as_they_were() -> None:
    base = AugmentConfig(gain=(0.5, 2), sign_flip=0.5, mirror=0.5, channel_dropout=0.1)
    # a rhythm in every window, too small to matter: only the draws could change the output
    faint = base.model_copy(update={"rhythm": 1.0, "rhythm_amplitude": (1e-7, 1e-7)})
    x = _batch()
    a = augment_batch(x, base, torch.Generator().manual_seed(9))
    b = augment_batch(x, faint, torch.Generator().manual_seed(9))
    assert not torch.equal(a, b)  # the rhythm was added
    torch.testing.assert_close(b, a, rtol=0, atol=1e-5)  # gains, flips, mirror, dropout the same


def test_rhythm_range_checked() -> None:
    with pytest.raises(ValueError, match="rhythm_hz"):
        AugmentConfig(rhythm_hz=(4.0, 127.0))
    with pytest.raises(ValueError, match="rhythm_hz"):
        AugmentConfig(rhythm_hz=(1.0, 13.0), rhythm_width_hz=(0.5, 1.5))
    with pytest.raises(ValueError, match="rhythm_amplitude"):
        AugmentConfig(rhythm_amplitude=(0.0, 1.0))
