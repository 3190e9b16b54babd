"""The error raised for a recording that cannot be prepared, and its documented reasons."""

from __future__ import annotations

__all__ = ["SKIP_REASONS", "RecordingError"]

SKIP_REASONS: dict[str, str] = {
    "not_edf": "not an EDF file, or a header MNE or bgb cannot parse",
    "truncated": "fewer data records than the header states, or a partial last one",
    "discontinuous": "EDF+D: data records with gaps between them",
    "too_short": "shorter than one 60 s window",
    "bipolar_montage": "only bipolar derivations (FP1-F7, ...); referential electrodes needed",
    "unknown_reference": "an electrode channel with a reference suffix bgb does not know",
    "missing_electrodes": (
        "more electrodes missing, flat, saturated or amplitude outliers than can be interpolated"
    ),
    "duplicate_electrodes": "several channels for one electrode",
    "mixed_rates": "electrode channels at different sampling rates",
    "zero_spread": "an electrode with zero spread after re-referencing",
    "no_annotation": "no .csv_bi or .csv beside the EDF (cache builds)",
    "bad_annotation": "an annotation that cannot be read or does not fit the recording",
    "bad_layout": "a path that does not follow the TUSZ folder layout (cache builds)",
}
"""Every ``RecordingError.reason``, with what it means: a recording skipped for one of these
is a bad input, documented and expected; anything else is a failure to investigate."""


class RecordingError(ValueError):
    """A recording that cannot be prepared; ``reason`` is a key of :data:`SKIP_REASONS`.

    The message says what was wrong and in which file.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in SKIP_REASONS:
            raise ValueError(
                f"RecordingError: reason {reason!r} is not one of {list(SKIP_REASONS)}"
            )
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[RecordingError], tuple[str, str]]:
        # Keeps ``reason`` when the error crosses a process-pool boundary.
        return (type(self), (self.reason, str(self)))
