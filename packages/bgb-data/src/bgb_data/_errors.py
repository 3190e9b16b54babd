"""The error raised for a recording that cannot be prepared."""

from __future__ import annotations

__all__ = ["RecordingError"]


class RecordingError(ValueError):
    """A recording that cannot be prepared; ``reason`` is a short machine-friendly tag.

    Reasons: ``not_edf``, ``truncated``, ``too_short``, ``missing_electrodes``,
    ``duplicate_electrodes``, ``mixed_rates``, ``zero_spread``, ``no_annotation``,
    ``bad_annotation``. The message says what was wrong and in which file.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type[RecordingError], tuple[str, str]]:
        # Keeps ``reason`` when the error crosses a process-pool boundary.
        return (type(self), (self.reason, str(self)))
