"""Channel-name matching onto the 19 electrodes."""

from __future__ import annotations

import pytest

from bgb_data import ELECTRODES, canonical_electrode, match_electrodes


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("EEG FP1-REF", "Fp1"),
        ("EEG FP1-LE", "Fp1"),
        ("Fp1", "Fp1"),
        ("fp1", "Fp1"),
        ("FP1", "Fp1"),
        ("EEG Fp1", "Fp1"),
        ("Fp1.", "Fp1"),
        ("T7..", "T3"),
        ("EEG T8-REF", "T4"),
        ("p7", "T5"),
        ("P8", "T6"),
        ("EEG CZ-AVG", "Cz"),
        ("  EEG O2-LE  ", "O2"),
        ("EEG EKG1-REF", None),
        ("PHOTIC-REF", None),
        ("EEG A1-REF", None),
        ("FP1-F7", None),
        ("Fc5.", None),
        ("IBI", None),
    ],
)
def test_canonical_electrode(label: str, expected: str | None) -> None:
    assert canonical_electrode(label) == expected


def test_match_reports_missing_reference_and_duplicates() -> None:
    labels = [f"EEG {e.upper()}-LE" for e in ELECTRODES if e not in ("Cz", "O2")]
    match = match_electrodes([*labels, "EEG EKG1-LE", "PHOTIC-REF"])
    assert match.missing == ("Cz", "O2")
    assert match.reference == "LE"
    assert match.channel_of["Fp1"] == "EEG FP1-LE"
    assert not match.duplicates
    dup = match_electrodes(["EEG FP1-REF", "Fp1", "EEG F3-REF"])
    assert dup.duplicates == {"Fp1": ("EEG FP1-REF", "Fp1")}
    assert dup.reference == "mixed"
    assert match_electrodes(["Fp1", "F3"]).reference == "unknown"
