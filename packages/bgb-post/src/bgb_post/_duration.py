"""Event-level rules in seconds: merging close events and the duration rule."""

from __future__ import annotations

import logging
import math
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from ._runs import Runs, join_runs
from ._validate import check_positive_seconds, check_sfreq

__all__ = ["LongEventPolicy", "apply_duration_rule", "max_piece_samples", "merge_close_events"]

logger = logging.getLogger(__name__)

LongEventPolicy = Literal["split", "cap"]


def merge_close_events(runs: Runs, sfreq_hz: float, merge_gap_s: float) -> Runs:
    """Events separated by a gap shorter than ``merge_gap_s`` seconds merged into one.

    The gap is ``(starts[i + 1] - stops[i]) / sfreq_hz``; the merged event spans from the
    first start to the last stop, the gap included.
    """
    sfreq = check_sfreq(sfreq_hz)
    gap_limit_s = check_positive_seconds(merge_gap_s, "merge_gap_s")
    gaps_s = (runs.starts[1:] - runs.stops[:-1]) / sfreq
    return join_runs(runs, gaps_s < gap_limit_s)


def max_piece_samples(max_duration_s: float, sfreq_hz: float) -> int:
    """The largest number of samples whose duration ``n / sfreq_hz`` is <= max_duration_s."""
    sfreq = check_sfreq(sfreq_hz)
    max_s = check_positive_seconds(max_duration_s, "max_duration_s")
    n = math.floor(max_s * sfreq)
    # The product can round either way; settle on the same comparison the rule uses.
    while (n + 1) / sfreq <= max_s:
        n += 1
    while n > 0 and n / sfreq > max_s:
        n -= 1
    return n


def apply_duration_rule(
    runs: Runs,
    sfreq_hz: float,
    min_duration_s: float,
    max_duration_s: float,
    long_event_policy: LongEventPolicy = "split",
) -> Runs:
    """Remove short events, then split or cap long ones.

    1. Events lasting less than ``min_duration_s`` (``length / sfreq_hz``) are removed.
    2. Events lasting more than ``max_duration_s`` are, by ``long_event_policy``:
       ``"split"``: cut into the fewest consecutive pieces of at most ``max_duration_s``,
       all of equal length to within one sample, so no piece is a short tail (every piece
       is longer than half of ``max_duration_s``); nothing is lost.
       ``"cap"``: truncated to the first ``max_duration_s`` seconds from their onset; the
       rest of the event is not reported (logged at debug level).

    Raises ValueError when, at this rate, half of ``max_duration_s`` is shorter than
    ``min_duration_s``: pieces of a split could then fall under the minimum.
    """
    sfreq = check_sfreq(sfreq_hz)
    min_s = check_positive_seconds(min_duration_s, "min_duration_s")
    max_piece = max_piece_samples(max_duration_s, sfreq)
    if long_event_policy not in get_args(LongEventPolicy):
        raise ValueError(
            f"long_event_policy must be one of {get_args(LongEventPolicy)}, "
            f"got {long_event_policy!r}"
        )
    if (max_piece // 2) / sfreq < min_s:
        raise ValueError(
            f"max_duration_s={max_duration_s} is too short for min_duration_s={min_duration_s}"
            f" at {sfreq} Hz: half of it ({max_piece // 2} samples) must last at least the"
            " minimum, so that no piece of a split event falls under it"
        )

    lengths = runs.lengths
    keep = lengths / sfreq >= min_s
    starts, lengths = runs.starts[keep], lengths[keep]
    n_long = int(np.count_nonzero(lengths > max_piece))
    if n_long == 0:
        return Runs(starts, starts + lengths)
    if long_event_policy == "cap":
        logger.debug("capped %d events at %d samples", n_long, max_piece)
        return Runs(starts, starts + np.minimum(lengths, max_piece))
    return _split_evenly(starts, lengths, max_piece)


def _split_evenly(starts: NDArray[np.int64], lengths: NDArray[np.int64], max_piece: int) -> Runs:
    """Each event cut into ceil(length / max_piece) pieces of equal length (to a sample)."""
    n_pieces = -(-lengths // max_piece)  # (E,)
    event = np.repeat(np.arange(lengths.size), n_pieces)  # (P,) event of each piece
    first_piece = np.cumsum(n_pieces) - n_pieces  # (E,) index of each event's first piece
    j = np.arange(event.size) - first_piece[event]  # (P,) piece number within its event
    length, count = lengths[event], n_pieces[event]
    piece_starts = starts[event] + (length * j) // count
    piece_stops = starts[event] + (length * (j + 1)) // count
    logger.debug("split %d long events into %d pieces", np.count_nonzero(n_pieces > 1), j.size)
    return Runs(piece_starts, piece_stops)
