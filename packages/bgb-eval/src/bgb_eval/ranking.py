"""Sample-level ranking metrics: AUROC and PR-AUC (average precision), exact and tie-aware.

Both sort the scores once (O(n log n)); samples with equal scores form one threshold.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["auroc", "pr_auc"]


def _grouped_counts(probs: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per distinct score, from the highest score down."""
    scores = np.asarray(probs, dtype=np.float64).ravel()
    truth_raw = np.asarray(labels).ravel()
    if scores.shape != truth_raw.shape:
        raise ValueError(
            f"probs ({np.shape(probs)}) and labels ({np.shape(labels)}) must have one value "
            "per sample"
        )
    if scores.size == 0:
        raise ValueError("probs and labels are empty")
    if not np.all(np.isfinite(scores)):
        raise ValueError("probs hold NaN or infinite values")
    if truth_raw.dtype != np.bool_ and not np.all((truth_raw == 0) | (truth_raw == 1)):
        raise ValueError("labels must be booleans or 0/1")
    truth = truth_raw.astype(bool)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    group_start = np.flatnonzero(np.concatenate(([True], np.diff(sorted_scores) != 0)))
    positives = np.add.reduceat(truth[order].astype(np.int64), group_start)
    sizes = np.diff(np.append(group_start, scores.size))
    return positives, sizes - positives


def auroc(probs: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties 1/2.

    Shapes: ``probs`` and ``labels`` of the same shape (any); labels bool or 0/1.
    Raises ValueError when only one class is present (the area is undefined).
    """
    positives, negatives = _grouped_counts(probs, labels)
    n_pos, n_neg = int(positives.sum()), int(negatives.sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"AUROC needs both classes; got {n_pos} positive and {n_neg} negative samples"
        )
    # Groups run from the highest score down, so negatives ranked below a group are those
    # in the later groups.
    negatives_below = n_neg - np.cumsum(negatives)
    twice_wins = 2 * int(np.sum(positives * negatives_below)) + int(np.sum(positives * negatives))
    return twice_wins / (2 * n_pos * n_neg)


def pr_auc(probs: ArrayLike, labels: ArrayLike) -> float:
    """Area under the precision-recall curve as average precision.

    ``sum_k (recall_k - recall_{k-1}) * precision_k`` over the distinct scores taken as
    thresholds from the highest down (step rule, no interpolation between points).
    Raises ValueError when there is no positive sample.
    """
    positives, negatives = _grouped_counts(probs, labels)
    n_pos = int(positives.sum())
    if n_pos == 0:
        raise ValueError("PR-AUC needs at least one positive sample")
    true_pos = np.cumsum(positives)
    false_pos = np.cumsum(negatives)
    precision = true_pos / (true_pos + false_pos)
    return float(np.sum(positives / n_pos * precision))
