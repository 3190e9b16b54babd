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
        ("FP1-AVG", "Fp1"),
        ("EEG FP1-AR", "Fp1"),
        ("Fp1-A1", "Fp1"),
        ("FP1-A2", "Fp1"),
        ("FP1-M1", "Fp1"),
        ("Fp2-M2", "Fp2"),
        ("EEG T7-LE", "T3"),
        ("FP1-XYZ", None),
        ("T8-P8-0", None),
        ("EEG A1-A2", None),
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


def test_ear_and_mastoid_references() -> None:
    ears = [f"{e.upper()}-A1" for e in ELECTRODES]
    match = match_electrodes([*ears, "A1-A2"])
    assert not match.missing and match.reference == "A1"
    ipsilateral = ["FP1-A1", "FP2-A2", "C3-A1", "C4-A2"]
    assert match_electrodes(ipsilateral).reference == "mixed"
    assert match_electrodes(["FP1-M2", "CZ-M2"]).reference == "M2"


def test_bipolar_pairs_and_unknown_suffixes_are_reported() -> None:
    chb_mit = ["FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FZ-CZ", "T7-FT9", "FT9-FT10",
               "FT10-T8", "T8-P8", "T8-P8", "-", "ECG"]  # fmt: skip
    match = match_electrodes(chb_mit)
    assert match.channel_of == {} and len(match.missing) == 19
    assert match.bipolar == ("FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FZ-CZ", "T7-FT9", "T8-P8",
                             "T8-P8")  # fmt: skip
    assert match.unknown_suffixes == {}
    odd = match_electrodes(["EEG FP1-REF", "EEG F3-CAR", "EEG C3-REF1", "PHOTIC-XYZ"])
    assert odd.unknown_suffixes == {"EEG F3-CAR": "CAR", "EEG C3-REF1": "REF1"}
    assert odd.channel_of == {"Fp1": "EEG FP1-REF"}
