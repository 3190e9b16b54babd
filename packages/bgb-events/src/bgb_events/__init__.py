"""bgb_events: seizure events as numpy arrays, and the annotation files that hold them.

Events are ``EVENT_DTYPE`` arrays (``start_s``, ``stop_s``, ``confidence``): what bgb_post
produces, bgb_eval scores and bgb_data turns into training labels. Annotation files are
TUSZ ``.csv_bi`` (term level) and ``.csv`` (channel level), and BIDS ``*_events.tsv`` in
SzCORE's form. Depends on numpy only.
"""

from ._annotations import (
    BACKGROUND_LABELS,
    END_SLACK_S,
    SEIZURE_LABELS,
    Annotation,
    AnnotationError,
    read_annotation,
    read_csv_bi,
    read_events_tsv,
    read_tusz_csv,
    write_csv_bi,
    write_events_tsv,
)
from ._events import EVENT_DTYPE, check_events, make_events, merge_overlapping

__all__ = [
    "BACKGROUND_LABELS",
    "END_SLACK_S",
    "EVENT_DTYPE",
    "SEIZURE_LABELS",
    "Annotation",
    "AnnotationError",
    "check_events",
    "make_events",
    "merge_overlapping",
    "read_annotation",
    "read_csv_bi",
    "read_events_tsv",
    "read_tusz_csv",
    "write_csv_bi",
    "write_events_tsv",
]
