"""Per-recording scores of all methods and their pooling over a set."""

from __future__ import annotations

import numpy as np
import pytest

from bgb_eval import MethodScore, score_method, score_recording, score_recordings
from bgb_events import EVENT_DTYPE, make_events

NONE = np.empty(0, dtype=EVENT_DTYPE)


def test_score_recording_runs_all_methods() -> None:
    ref = make_events([100.0], [160.0])
    hyp = make_events([120.0, 2000.0], [150.0, 2010.0])
    score = score_recording(ref, hyp, 3600.0)
    assert (score.ovlp.tp, score.ovlp.fn, score.ovlp.fp) == (1, 0, 1)
    assert (score.szcore.tp, score.szcore.fn, score.szcore.fp) == (1, 0, 1)
    assert score.taes.tp == pytest.approx(0.5)
    assert score.method("taes") is score.taes
    assert score_method("ovlp", ref, hyp, 3600.0) == score.ovlp
    with pytest.raises(ValueError, match="unknown scoring method"):
        score_method("epoch", ref, hyp, 3600.0)  # type: ignore[arg-type]


def test_pooling_sums_counts_and_durations() -> None:
    items = [
        (make_events([10.0], [20.0]), make_events([12.0, 500.0], [15.0, 510.0]), 3600.0),
        (NONE, make_events([1.0], [2.0]), 7200.0),
        (make_events([5.0], [9.0]), NONE, 1800.0),
    ]
    pooled = score_recordings(items)
    assert pooled.n_recordings == 3
    assert pooled.total_duration_s == 12600.0
    assert (pooled.ovlp.tp, pooled.ovlp.fn, pooled.ovlp.fp) == (1, 1, 2)
    assert pooled.ovlp.sensitivity == 0.5
    # FA/24h over the summed duration, not an average of per-recording rates.
    assert pooled.ovlp.fa_per_24h == pytest.approx(2 / 12600.0 * 86400.0)
    as_dict = pooled.to_dict()
    assert set(as_dict) == {"ovlp", "taes", "szcore", "n_recordings", "total_duration_s"}
    assert as_dict["ovlp"] == {
        "tp": 1,
        "fn": 1,
        "fp": 2,
        "sensitivity": 0.5,
        "fa_per_24h": pytest.approx(13.714285714),
        "precision": pytest.approx(1 / 3),
        "f1": pytest.approx(0.4),
    }


def test_empty_set_has_undefined_rates() -> None:
    pooled = score_recordings([])
    assert pooled.n_recordings == 0
    assert pooled.ovlp.sensitivity is None
    assert pooled.ovlp.fa_per_24h is None


def test_method_scores_of_different_methods_do_not_add() -> None:
    a = MethodScore(method="ovlp", tp=1, fn=0, fp=0, duration_s=1)
    b = MethodScore(method="taes", tp=1, fn=0, fp=0, duration_s=1)
    with pytest.raises(ValueError, match="cannot pool"):
        _ = a + b


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        score_recording(NONE, NONE, 0.0)
    with pytest.raises(ValueError, match="after the recording"):
        score_recording(make_events([10.0], [30.0]), NONE, 20.0)
