"""Compiled Mamba2 layers: the same function as the eager ones, or a clear error."""

from __future__ import annotations

import copy

import pytest
import torch

import bgb_model.compiled as compiled
from bgb_model import Detector, DetectorConfig, Mamba2, compile_mamba_layers


@pytest.mark.slow
@pytest.mark.skipif(
    compiled.cpp_compiler() is None, reason="no C++ compiler for inductor's CPU backend here"
)
def test_compiled_layers_compute_the_same_function() -> None:
    """A model of two Mamba2 layers, compiled, gives the eager outputs within float32 rounding
    for two inputs through the same compiled code: both sum the same products in another
    order, a relative error of a few eps times sqrt(terms) per layer. (``bench_cpu.py`` part 6
    checks the compiled default detector against the eager one the same way.)"""
    torch.manual_seed(0)
    eager = torch.nn.Sequential(
        Mamba2(32, d_state=16, headdim=8, backend="torch", torch_chunk_size=32),
        Mamba2(32, d_state=16, headdim=8, backend="torch", torch_chunk_size=32),
    ).eval()
    model = copy.deepcopy(eager)
    u = torch.randn(3, 200, 32)
    from torch._dynamo.utils import counters

    counters.clear()
    with torch.no_grad():
        assert compile_mamba_layers(model) == 2
        for shift in (0.0, 0.5):
            torch.testing.assert_close(model(u + shift), eager(u + shift), rtol=1e-4, atol=1e-4)
    # The scan's data-dependent branch runs between graphs as planned (a skipped, disabled
    # function), never as a traced .item(); the one-off backend log line breaks once too.
    breaks = list(counters["graph_break"])
    assert any("torch.compiler.disable" in reason for reason in breaks), breaks
    assert all("torch.compiler.disable" in r or "logging.Logger" in r for r in breaks), breaks


def test_without_a_compiler_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "cpp_compiler", lambda: None)
    torch.manual_seed(0)
    model = Detector(DetectorConfig.small(), backend="torch").eval()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(RuntimeError, match="no C\\+\\+ compiler"):
        compile_mamba_layers(model)
    x = torch.randn(1, 19, 30 * 256)
    reference = Detector(DetectorConfig.small(), backend="torch").eval()
    reference.load_state_dict(before)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))  # still the eager model
