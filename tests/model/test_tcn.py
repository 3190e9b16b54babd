"""Per-electrode encoder: shapes, electrode identity, both TCN variants."""

from __future__ import annotations

import pytest
import torch

from bgb_model import ElectrodeEncoder, TCNConfig
from bgb_model.tcn import TCN

SMALL = TCNConfig(channels=(4, 4, 8, 8, 8, 8, 16, 16), separable=True)


@pytest.mark.parametrize(
    "config",
    [
        SMALL,
        TCNConfig(channels=SMALL.channels, separable=False),
        TCNConfig(channels=SMALL.channels, strides=(1,) * 8, final_pool=16, separable=True),
    ],
    ids=["progressive-separable", "progressive-dense", "full-rate"],
)
def test_tcn_reaches_total_stride(config: TCNConfig) -> None:
    out = TCN(config)(torch.randn(3, 1, 512))
    assert config.total_stride == 16
    assert out.shape == (3, 16, 32)


def make_encoder() -> ElectrodeEncoder:
    torch.manual_seed(0)
    return ElectrodeEncoder(SMALL, n_electrodes=19, node_width=6).eval()


def test_node_i_depends_only_on_electrode_i() -> None:
    encoder = make_encoder()
    x = torch.randn(2, 19, 256)
    bumped = x.clone()
    bumped[:, 7] += torch.randn(2, 256)
    with torch.no_grad():
        before, after = encoder(x), encoder(bumped)
    changed = (before - after).abs().amax(dim=(0, 2, 3))  # per electrode
    assert changed[7] > 0
    assert torch.all(changed[torch.arange(19) != 7] == 0)


def test_permuting_electrodes_permutes_nodes() -> None:
    encoder = make_encoder()
    perm = torch.randperm(19, generator=torch.Generator().manual_seed(2))
    x = torch.randn(2, 19, 256)
    with torch.no_grad():
        nodes = encoder(x) - encoder.electrode_embedding[None, :, None, :]
        permuted = encoder(x[:, perm]) - encoder.electrode_embedding[None, :, None, :]
    torch.testing.assert_close(permuted, nodes[:, perm])


def test_electrode_embedding_distinguishes_identical_inputs() -> None:
    encoder = make_encoder()
    x = torch.randn(1, 1, 256).expand(1, 19, 256)
    with torch.no_grad():
        nodes = encoder(x)
    assert (nodes[0, 0] - nodes[0, 1]).abs().max() > 0
