"""The 19 electrodes of the 10-20 system, channel-name matching, and interpolation neighbours.

Matching rule (:func:`match_electrodes`): a channel label is upper-cased and stripped of
spaces and dots, of a leading ``EEG`` type prefix and of a trailing reference suffix
(``-REF``, ``-LE``, ``-AR``, ``-AVG``); what remains must be an electrode name, where the
10-10 names T7/T8/P7/P8 stand for T3/T4/T5/T6. Anything else (EKG, PHOTIC, A1/A2, ROC,
bipolar pairs such as ``FP1-F7``) is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ELECTRODES",
    "NEIGHBOURS",
    "ElectrodeMatch",
    "canonical_electrode",
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
_REF_SUFFIX = re.compile(r"-(REF|LE|AR|AVG)$")
_REFERENCE_OF_SUFFIX = {"REF": "AR", "AR": "AR", "AVG": "AR", "LE": "LE"}


def canonical_electrode(label: str) -> str | None:
    """The electrode a channel label stands for (``"EEG FP1-REF"`` -> ``"Fp1"``), or None."""
    name, _ = _strip_label(label)
    name = _ALIASES.get(name, name)
    return _BY_UPPER.get(name)


def _strip_label(label: str) -> tuple[str, str | None]:
    """Upper-cased bare name and the reference suffix (``REF``/``LE``/...) if any."""
    text = label.strip().upper().replace(".", "")
    if text.startswith("EEG"):
        text = text[3:].strip()
    text = text.replace(" ", "")
    match = _REF_SUFFIX.search(text)
    if match is None:
        return text, None
    return text[: match.start()], match.group(1)


@dataclass(frozen=True)
class ElectrodeMatch:
    """Which file channel feeds each electrode, and the reference the labels name."""

    channel_of: dict[str, str]
    """Electrode name -> the file's channel label, for the electrodes found."""
    missing: tuple[str, ...]
    """Electrodes with no channel in the file, in :data:`ELECTRODES` order."""
    reference: str
    """``AR`` (``-REF``/``-AR``/``-AVG`` labels), ``LE``, ``unknown`` or ``mixed``."""
    duplicates: dict[str, tuple[str, ...]]
    """Electrodes named by more than one channel (an error for the caller to raise)."""


def match_electrodes(labels: list[str] | tuple[str, ...]) -> ElectrodeMatch:
    """Map a file's channel labels onto :data:`ELECTRODES` (see the module docstring)."""
    found: dict[str, list[str]] = {}
    references: set[str] = set()
    for label in labels:
        electrode = canonical_electrode(label)
        if electrode is None:
            continue
        found.setdefault(electrode, []).append(label)
        _, suffix = _strip_label(label)
        references.add(_REFERENCE_OF_SUFFIX[suffix] if suffix else "unknown")
    duplicates = {e: tuple(ls) for e, ls in found.items() if len(ls) > 1}
    reference = references.pop() if len(references) == 1 else "mixed" if references else "unknown"
    return ElectrodeMatch(
        channel_of={e: ls[0] for e, ls in found.items()},
        missing=tuple(e for e in ELECTRODES if e not in found),
        reference=reference,
        duplicates=duplicates,
    )
