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
def test_compiled_detector_computes_the_same_function() -> None:
    """The small preset with every Mamba2 compiled gives the eager logits within float32
    rounding, for two inputs through the same compiled code: both sum the same products in
    another order, a relative error of a few eps times sqrt(terms) per layer."""
    torch.manual_seed(0)
    eager = Detector(DetectorConfig.small(), backend="torch").eval()
    model = copy.deepcopy(eager)
    n_layers = sum(isinstance(m, Mamba2) for m in model.modules())
    x = torch.randn(2, 19, 30 * 256)
    with torch.no_grad():
        assert compile_mamba_layers(model) == n_layers > 0
        for shift in (0.0, 0.5):
            torch.testing.assert_close(model(x + shift), eager(x + shift), rtol=1e-4, atol=1e-4)


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
