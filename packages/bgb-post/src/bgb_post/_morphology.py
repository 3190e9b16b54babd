"""Binary morphology (opening, closing) of 1-D masks with a flat structuring element.

The mask is treated as a set of samples on the infinite line, False beyond the recording.
With a flat element of ``length_samples`` samples this makes the operations exact on runs:

- opening removes every run shorter than ``length_samples`` and keeps the others unchanged
  (a run touching a border is judged by its length inside the recording);
- closing fills every gap shorter than ``length_samples`` between two runs; the stretch
  between a border and the first or last run is never filled, and a run touching a border
  is not eroded there (unlike zero-padded erosion in image libraries).

Both are idempotent. The element's origin does not matter for opening and closing, so any
length >= 1 works (1 is the identity).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._runs import Runs, find_runs, join_runs, runs_to_mask
from ._validate import as_bool_mask, check_length_samples

__all__ = ["close_runs", "closing", "open_runs", "opening"]


def open_runs(runs: Runs, length_samples: int) -> Runs:
    """Opening on runs: the runs at least ``length_samples`` long."""
    length = check_length_samples(length_samples, "length_samples")
    keep = runs.lengths >= length
    return Runs(runs.starts[keep], runs.stops[keep])


def close_runs(runs: Runs, length_samples: int) -> Runs:
    """Closing on runs: runs separated by fewer than ``length_samples`` samples joined."""
    length = check_length_samples(length_samples, "length_samples")
    gaps = runs.starts[1:] - runs.stops[:-1]
    return join_runs(runs, gaps < length)


def opening(mask: ArrayLike, length_samples: int) -> NDArray[np.bool_]:
    """Morphological opening of a 1-D bool mask with a flat element of ``length_samples``.

    Removes every run shorter than ``length_samples`` and keeps the others unchanged; the
    mask is taken as False beyond its ends, so a run touching a border is judged by its
    length inside the mask. Idempotent. Shapes: (n_samples,) -> (n_samples,).
    """
    on = as_bool_mask(mask)
    return runs_to_mask(open_runs(find_runs(on), length_samples), on.size)


def closing(mask: ArrayLike, length_samples: int) -> NDArray[np.bool_]:
    """Morphological closing of a 1-D bool mask with a flat element of ``length_samples``.

    Fills every gap shorter than ``length_samples`` between two runs; the mask is taken as
    False beyond its ends, so the stretch between a border and the nearest run is never
    filled and a run touching a border is not shaved. Idempotent.
    Shapes: (n_samples,) -> (n_samples,).
    """
    on = as_bool_mask(mask)
    return runs_to_mask(close_runs(find_runs(on), length_samples), on.size)
