"""The 19 electrodes of the 10-20 system, channel-name matching, and interpolation neighbours.

Matching rule (:func:`match_electrodes`): a channel label is upper-cased and stripped of
spaces and dots and of a leading ``EEG`` type prefix; the part before the first ``-`` must
be an electrode name, where the 10-10 names T7/T8/P7/P8 stand for T3/T4/T5/T6. The part
after it, if any, says what the electrode was measured against:

- a reference suffix (``REF``, ``AR``, ``AVG``: average; ``LE``: linked ears; ``A1``,
  ``A2``, ``M1``, ``M2``: one ear or mastoid): a referential channel, used;
- none (``FP1``, ``EEG Fp1``): a referential channel of unknown reference, used;
- another scalp electrode (``FP1-F7``, ``T8-P8-0``): a bipolar derivation, not used (a
  file of only those is rejected by :func:`bgb_data.prepare_recording`);
- anything else (``FP1-XYZ``): an unknown reference suffix, which the caller rejects.

Channels whose first part is no electrode (EKG, PHOTIC, A1/A2, ROC) are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "ELECTRODES",
    "NEIGHBOURS",
    "ElectrodeMatch",
    "canonical_electrode",
    "known_reference_suffixes",
    "match_electrodes",
]

ELECTRODES: tuple[str, ...] = (
    "Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz",
    "Pz", "Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2",
)  # fmt: skip
"""The 19 electrodes in the order of every cached array's first axis."""

NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "Fp1": ("Fp2", "F3", "F7", "Fz"),
    "Fp2": ("Fp1", "F4", "F8", "Fz"),
    "F7": ("Fp1", "F3", "T3"),
    "F3": ("Fp1", "F7", "Fz", "C3"),
    "Fz": ("Fp1", "Fp2", "F3", "F4", "Cz"),
    "F4": ("Fp2", "F8", "Fz", "C4"),
    "F8": ("Fp2", "F4", "T4"),
    "T3": ("F7", "C3", "T5"),
    "C3": ("F3", "T3", "Cz", "P3"),
    "Cz": ("Fz", "C3", "C4", "Pz"),
    "C4": ("F4", "T4", "Cz", "P4"),
    "T4": ("F8", "C4", "T6"),
    "T5": ("T3", "P3", "O1"),
    "P3": ("C3", "T5", "Pz", "O1"),
    "Pz": ("Cz", "P3", "P4", "O1", "O2"),
    "P4": ("C4", "T6", "Pz", "O2"),
    "T6": ("T4", "P4", "O2"),
    "O1": ("T5", "P3", "Pz", "O2"),
    "O2": ("T6", "P4", "Pz", "O1"),
}
"""Adjacent electrodes on the 10-20 scalp layout; a missing electrode is interpolated as the
plain mean of its usable neighbours."""

_ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
_BY_UPPER = {name.upper(): name for name in ELECTRODES}
_REFERENCE_OF_SUFFIX = {
    "REF": "AR", "AR": "AR", "AVG": "AR", "LE": "LE",
    "A1": "A1", "A2": "A2", "M1": "M1", "M2": "M2",
}  # fmt: skip
"""Reference suffix of a referential label -> the reference it names."""
_SCALP = re.compile(r"(FP|AF|F|FC|FT|C|T|TP|CP|P|PO|O|I|N)(Z|[0-9]{1,2})")
"""Scalp electrode names of the 10-20/10-10 systems (the far side of a bipolar pair)."""


@dataclass(frozen=True)
class _Label:
    """What one channel label says."""

    electrode: str | None
    """The 10-20 electrode before any ``-``, or None."""
    suffix: str | None
    """What follows the first ``-`` (upper-cased), or None."""

    @property
    def kind(self) -> str:
        """``referential``, ``bipolar``, ``unknown_suffix`` or ``other`` (no electrode)."""
        if self.electrode is None:
            return "other"
        if self.suffix is None or self.suffix in _REFERENCE_OF_SUFFIX:
            return "referential"
        if _SCALP.fullmatch(self.suffix.split("-")[0]):
            return "bipolar"
        return "unknown_suffix"


def canonical_electrode(label: str) -> str | None:
    """The electrode a referential channel label stands for (``"EEG FP1-REF"`` -> ``"Fp1"``).

    None for anything else: other signals, bipolar pairs, unknown reference suffixes.
    """
    parsed = _parse_label(label)
    return parsed.electrode if parsed.kind == "referential" else None


def _parse_label(label: str) -> _Label:
    """Split a label into its electrode (if any) and the suffix after the first ``-``."""
    text = label.strip().upper().replace(".", "")
    if text.startswith("EEG"):
        text = text[3:].strip()
    name, dash, suffix = text.replace(" ", "").partition("-")
    return _Label(_BY_UPPER.get(_ALIASES.get(name, name)), suffix if dash else None)


@dataclass(frozen=True)
class ElectrodeMatch:
    """Which file channel feeds each electrode, and the reference the labels name."""

    channel_of: dict[str, str]
    """Electrode name -> the file's channel label, for the electrodes found."""
    missing: tuple[str, ...]
    """Electrodes with no channel in the file, in :data:`ELECTRODES` order."""
    reference: str
    """``AR`` (``-REF``/``-AR``/``-AVG`` labels), ``LE``, ``A1``/``A2``/``M1``/``M2``,
    ``unknown`` (no suffix) or ``mixed``."""
    duplicates: dict[str, tuple[str, ...]]
    """Electrodes named by more than one channel (an error for the caller to raise)."""
    bipolar: tuple[str, ...] = ()
    """Labels of bipolar derivations between scalp electrodes (not used)."""
    unknown_suffixes: dict[str, str] = field(default_factory=dict)
    """Label -> its unknown reference suffix, for electrode channels (an error to raise)."""


def match_electrodes(labels: list[str] | tuple[str, ...]) -> ElectrodeMatch:
    """Map a file's channel labels onto :data:`ELECTRODES` (see the module docstring)."""
    found: dict[str, list[str]] = {}
    references: set[str] = set()
    bipolar: list[str] = []
    unknown: dict[str, str] = {}
    for label in labels:
        parsed = _parse_label(label)
        kind = parsed.kind
        if kind == "bipolar":
            bipolar.append(label)
        elif kind == "unknown_suffix" and parsed.suffix is not None:
            unknown[label] = parsed.suffix
        elif kind == "referential" and parsed.electrode is not None:
            found.setdefault(parsed.electrode, []).append(label)
            suffix = parsed.suffix
            references.add(_REFERENCE_OF_SUFFIX[suffix] if suffix else "unknown")
    duplicates = {e: tuple(ls) for e, ls in found.items() if len(ls) > 1}
    reference = references.pop() if len(references) == 1 else "mixed" if references else "unknown"
    return ElectrodeMatch(
        channel_of={e: ls[0] for e, ls in found.items()},
        missing=tuple(e for e in ELECTRODES if e not in found),
        reference=reference,
        duplicates=duplicates,
        bipolar=tuple(bipolar),
        unknown_suffixes=unknown,
    )


def known_reference_suffixes() -> tuple[str, ...]:
    """The reference suffixes a referential label may end with (``REF``, ``LE``, ...)."""
    return tuple(_REFERENCE_OF_SUFFIX)
