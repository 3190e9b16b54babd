"""DetectorConfig: default sizes, plain-data round trip, strict keys."""

from __future__ import annotations

import json

import pytest

from bgb_model import DetectorConfig, StreamConfig


def test_defaults_are_the_original_designs() -> None:
    cfg = DetectorConfig()
    assert cfg.total_stride == 16
    assert len(cfg.tcn.channels) == 8
    # per electrode, an eighth of the joint TCN's widths [64, 128, 256, 512], dense convs
    assert sorted(set(cfg.tcn.channels)) == [8, 16, 32, 64]
    assert not cfg.tcn.separable
    assert cfg.tcn.kernel_size == 7
    assert cfg.edge_stream.time_pool == 1  # one adjacency per timestep
    node = cfg.node_stream
    assert (node.d_model, node.n_layers, node.headdim, node.d_state, node.d_conv) == (
        64,
        6,
        8,
        16,
        4,
    )
    edge = cfg.edge_stream.stream
    assert (edge.d_model, edge.n_layers, edge.headdim, edge.d_state) == (16, 2, 4, 8)
    assert (cfg.graph.pe_k, cfg.graph.alpha) == (16, 0.05)
    assert (cfg.graph.enabled, cfg.graph.pe) == (True, "dynamic")
    # the pure-PyTorch scan's chunk is its own, explicit setting (32 measured fastest on CPU)
    assert (node.chunk_size, node.torch_chunk_size) == (256, 32)


@pytest.mark.parametrize("cfg", [DetectorConfig(), DetectorConfig.small()])
def test_round_trip_through_json(cfg: DetectorConfig) -> None:
    data = json.loads(json.dumps(cfg.to_dict()))
    assert DetectorConfig.from_dict(data) == cfg


def test_partial_section_keeps_that_sections_defaults() -> None:
    cfg = DetectorConfig.from_dict({"edge_stream": {"stream": {"d_model": 32}}})
    assert cfg.edge_stream.stream == StreamConfig(d_model=32, n_layers=2, d_state=8, headdim=4)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"tcnn": {}}, "tcnn"),
        ({"graph": {"k": 3}}, "graph.k"),
        ({"edge_stream": {"stream": {"dmodel": 8}}}, "edge_stream.stream.dmodel"),
    ],
)
def test_unknown_keys_raise_naming_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=f"'{key}'"):
        DetectorConfig.from_dict(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"graph": {"pe_k": 0}}, "pe_k"),
        ({"graph": {"pe": "eigenvectors"}}, "graph.pe"),
        ({"node_stream": {"torch_chunk_size": 0}}, "torch_chunk_size"),
        ({"node_stream": {"headdim": 7}}, "headdim"),
        ({"tcn": {"strides": [2, 2]}}, "same non-zero length"),
        ({"tcn": {"kernel_size": 4}}, "odd"),
        ({"graph": {"alpha": "0.05"}}, "graph.alpha"),
        ({"tcn": {"separable": 1}}, "tcn.separable"),
        ({"head": {"upsample": "cubic"}}, "upsample"),
        ({"edge_stream": {"time_pool": 0}}, "edge_stream.time_pool"),
    ],
)
def test_bad_values_raise(data: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DetectorConfig.from_dict(data)


def test_config_is_frozen() -> None:
    cfg = DetectorConfig()
    with pytest.raises(AttributeError):
        cfg.n_electrodes = 3  # type: ignore[misc]
