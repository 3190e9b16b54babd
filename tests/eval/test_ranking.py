"""AUROC and PR-AUC against slow, obviously correct references (ties included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bgb_eval import auroc, pr_auc


def slow_auroc(probs: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = probs[labels], probs[~labels]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (pos.size * neg.size)


def slow_average_precision(probs: np.ndarray, labels: np.ndarray) -> float:
    area, previous_recall = 0.0, 0.0
    for threshold in sorted(set(probs.tolist()), reverse=True):
        detected = probs >= threshold
        recall = np.count_nonzero(detected & labels) / np.count_nonzero(labels)
        precision = np.count_nonzero(detected & labels) / np.count_nonzero(detected)
        area += (recall - previous_recall) * precision
        previous_recall = recall
    return area


samples = st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=40)


@settings(max_examples=200, deadline=None)
@given(samples)
def test_auroc_matches_pairwise_count(pairs: list[tuple[int, bool]]) -> None:
    probs = np.array([p / 6 for p, _ in pairs])
    labels = np.array([lab for _, lab in pairs])
    if labels.all() or not labels.any():
        with pytest.raises(ValueError, match="both classes"):
            auroc(probs, labels)
        return
    assert auroc(probs, labels) == pytest.approx(slow_auroc(probs, labels), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(samples)
def test_pr_auc_matches_threshold_loop(pairs: list[tuple[int, bool]]) -> None:
    probs = np.array([p / 6 for p, _ in pairs])
    labels = np.array([lab for _, lab in pairs])
    if not labels.any():
        with pytest.raises(ValueError, match="positive"):
            pr_auc(probs, labels)
        return
    assert pr_auc(probs, labels) == pytest.approx(slow_average_precision(probs, labels), abs=1e-12)


def test_known_values() -> None:
    assert auroc([0.1, 0.9], [0, 1]) == 1.0
    assert auroc([0.9, 0.1], [0, 1]) == 0.0
    assert auroc([0.5, 0.5], [0, 1]) == 0.5
    assert pr_auc([0.1, 0.9], [0, 1]) == 1.0
    assert pr_auc([0.9, 0.1], [0, 1]) == 0.5


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="one value per sample"):
        auroc([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="NaN"):
        auroc([np.nan, 0.2], [0, 1])
    with pytest.raises(ValueError, match="0/1"):
        auroc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="empty"):
        pr_auc([], [])
