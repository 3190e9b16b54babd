"""NEDC-style OVLP and TAES scoring of the seizure label, as in Temple's nedc_eeg_eval v6.0.0.

Inputs are the seizure events of one recording (canonical ``EVENT_DTYPE`` arrays: sorted,
disjoint, inside ``[0, duration_s]``). Background is everything else; as in NEDC, the
seizure label is scored on its own, so background events never change seizure counts, and
the false-alarm rate divides by the whole recording duration.

OVLP (any overlap):

1. "Overlap" is strict: events ``a`` and ``b`` overlap when ``b.stop > a.start`` and
   ``b.start < a.stop``; touching endpoints do not overlap.
2. A reference seizure overlapped by at least one hypothesis is one hit (tp), however many
   hypotheses overlap it; otherwise one miss (fn).
3. A hypothesis that overlaps no reference seizure is one false alarm (fp). A hypothesis
   that overlaps two references gives two hits and no false alarm.

TAES (time-aligned, fractional), v6.0.0's algorithm step by step:

1. References are visited in order. A reference takes part when some hypothesis strictly
   overlaps it (used or not) and it has not been consumed yet; it is then compared with
   every unused hypothesis in order.
2. A pair is compared only when it passes NEDC's whole-second test: the integer second
   ranges ``[int(start), int(stop)]`` of the two events intersect (so events in the same
   second pass even without a time overlap; the credit can then be negative, as in NEDC).
3. For a compared pair with reference duration ``d``: pre-prediction (hyp starts and stops
   no later) hit ``(h.stop - r.start)/d``, fa ``min(1, (r.start - h.start)/d)``;
   post-prediction hit ``(r.stop - h.start)/d``, fa ``min(1, (h.stop - r.stop)/d)``;
   over-prediction hit 1, fa ``min(1, (h.stop - r.stop + r.start - h.start)/d)``;
   under-prediction hit ``(h.stop - h.start)/d``, fa 0. Miss is ``1 - hit``.
4. If the hypothesis stops at or after the reference, the pair is consumed and every later
   reference passing the whole-second test with that hypothesis is consumed as one full
   miss (one hypothesis cannot be credited for two seizures).
5. Otherwise the pair is consumed and every later hypothesis passing the test with the
   reference adds its hit and fa (and lowers the miss) and is consumed. (As in NEDC,
   steps 4 and 5 do not ask whether those later events were already consumed.)
6. References never consumed are one miss each; hypotheses never used one false alarm each.

Sensitivity is tp / (tp + fn); FA/24h is fp / duration * 86400 (fractional fp for TAES).

References: V. Shah, M. Golmohammadi, I. Obeid, J. Picone, "Objective Evaluation Metrics
for Automatic Classification of EEG Events", Signal Processing in Medicine and Biology,
Springer 2021; NEDC EEG Evaluation v6.0.0 (``nedc_eeg_eval_ovlp.py``, ``_taes.py``).
"""

from __future__ import annotations

import numpy as np

from bgb_eval._counts import MethodScore
from bgb_events import check_events

__all__ = ["score_ovlp", "score_taes"]


def _strict_overlap_any(a_start: np.ndarray, a_stop: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each interval of ``a``, whether any event of sorted disjoint ``b`` overlaps it."""
    b_start, b_stop = b["start_s"], b["stop_s"]
    # First b whose stop lies after a's start; being sorted, it is the only candidate
    # that can start earliest.
    first = np.searchsorted(b_stop, a_start, side="right")
    candidate = np.minimum(first, b_start.size - 1)
    if b_start.size == 0:
        return np.zeros(a_start.size, dtype=bool)
    return (first < b_start.size) & (b_start[candidate] < a_stop)


def score_ovlp(ref: np.ndarray, hyp: np.ndarray, duration_s: float) -> MethodScore:
    """NEDC OVLP counts of one recording (see the module docstring)."""
    check_events(ref, "ref", duration_s)
    check_events(hyp, "hyp", duration_s)
    return ovlp_counts(ref, hyp, duration_s)


def ovlp_counts(ref: np.ndarray, hyp: np.ndarray, duration_s: float) -> MethodScore:
    """:func:`score_ovlp` of events the caller has checked (no check repeated)."""
    ref_hit = _strict_overlap_any(ref["start_s"], ref["stop_s"], hyp)
    hyp_hit = _strict_overlap_any(hyp["start_s"], hyp["stop_s"], ref)
    tp = int(np.count_nonzero(ref_hit))
    return MethodScore(
        method="ovlp",
        tp=float(tp),
        fn=float(ref.size - tp),
        fp=float(hyp.size - int(np.count_nonzero(hyp_hit))),
        duration_s=float(duration_s),
    )


def _same_second(r0: float, r1: float, h0: float, h1: float) -> bool:
    """NEDC's anyovlp: the whole-second ranges [int(start), int(stop)] intersect."""
    return int(r0) <= int(h1) and int(h0) <= int(r1)


def _hit_fa(r0: float, r1: float, h0: float, h1: float) -> tuple[float, float]:
    """Fractional hit and false alarm of one hypothesis against one reference (step 3)."""
    d = r1 - r0
    if h0 <= r0 and h1 <= r1:  # pre-prediction
        return (h1 - r0) / d, min(1.0, (r0 - h0) / d)
    if h0 >= r0 and h1 >= r1:  # post-prediction
        return (r1 - h0) / d, min(1.0, (h1 - r1) / d)
    if h0 < r0 and h1 > r1:  # over-prediction
        return 1.0, min(1.0, ((h1 - r1) + (r0 - h0)) / d)
    return (h1 - h0) / d, 0.0  # under-prediction


def score_taes(ref: np.ndarray, hyp: np.ndarray, duration_s: float) -> MethodScore:
    """NEDC TAES counts of one recording (see the module docstring for the steps)."""
    check_events(ref, "ref", duration_s)
    check_events(hyp, "hyp", duration_s)
    return taes_counts(ref, hyp, duration_s)


def taes_counts(ref: np.ndarray, hyp: np.ndarray, duration_s: float) -> MethodScore:
    """:func:`score_taes` of events the caller has checked, following NEDC's loops."""
    rs, re_ = ref["start_s"].tolist(), ref["stop_s"].tolist()
    hs, he = hyp["start_s"].tolist(), hyp["stop_s"].tolist()
    ref_free = [True] * len(rs)
    hyp_free = [True] * len(hs)
    strictly_hit = _strict_overlap_any(ref["start_s"], ref["stop_s"], hyp).tolist()
    hit = miss = fa = 0.0
    for i in range(len(rs)):
        if not (strictly_hit[i] and ref_free[i]):
            continue
        for j in range(len(hs)):
            if not hyp_free[j] or not _same_second(rs[i], re_[i], hs[j], he[j]):
                continue
            p_hit, p_fa = _hit_fa(rs[i], re_[i], hs[j], he[j])
            p_miss = 1.0 - p_hit
            ref_free[i] = hyp_free[j] = False
            if he[j] >= re_[i]:
                # Step 4: later references under the same hypothesis are full misses.
                # As in NEDC, no check that k is unconsumed (it always is for sorted,
                # disjoint references).
                for k in range(i + 1, len(rs)):
                    if _same_second(rs[k], re_[k], hs[j], he[j]):
                        ref_free[k] = False
                        p_miss += 1.0
            else:
                # Step 5: later hypotheses on the same reference add their credit.
                for k in range(j + 1, len(hs)):
                    if _same_second(rs[i], re_[i], hs[k], he[k]):
                        hyp_free[k] = False
                        k_hit, k_fa = _hit_fa(rs[i], re_[i], hs[k], he[k])
                        p_hit += k_hit
                        p_miss -= k_hit
                        p_fa += k_fa
            hit += p_hit
            miss += p_miss
            fa += p_fa
    miss += sum(ref_free)
    fa += sum(hyp_free)
    return MethodScore(method="taes", tp=hit, fn=miss, fp=fa, duration_s=float(duration_s))
