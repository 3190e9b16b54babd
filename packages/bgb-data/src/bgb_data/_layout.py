"""The TUSZ v2 folder layout: where split, patient, session and montage come from.

``ROOT/edf/<split>/<patient>/<session>/<montage>/<file>.edf`` with split ``train``,
``dev`` or ``eval``, for example
``edf/train/aaaaaaac/s001_2002/02_tcp_le/aaaaaaac_s001_t000.edf``. ROOT may also be the
``edf`` folder itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["SPLITS", "SourceFile", "check_patient_splits", "discover"]

SPLITS: tuple[str, ...] = ("train", "dev", "eval")


@dataclass(frozen=True)
class SourceFile:
    """One EDF found under the data root, with what its path says."""

    path: Path
    """Absolute path of the EDF."""
    rel_path: str
    """Path relative to the data root, with ``/`` separators."""
    split: str
    patient: str
    session: str
    montage: str
    layout_error: str | None
    """Why the path does not follow the layout, or None."""


def edf_root(data_root: Path) -> Path:
    """``ROOT/edf`` when it exists, else ROOT when it holds a split folder."""
    if (data_root / "edf").is_dir():
        return data_root / "edf"
    if any((data_root / split).is_dir() for split in SPLITS):
        return data_root
    raise ValueError(
        f"{data_root}: not a TUSZ tree (no edf/ folder and no {'/'.join(SPLITS)} folder)"
    )


def discover(data_root: str | Path) -> list[SourceFile]:
    """Every ``*.edf`` (any case) under the split folders of a data root, sorted by path."""
    root = Path(data_root).resolve()
    base = edf_root(root)
    files = []
    for split in SPLITS:
        if not (base / split).is_dir():
            continue
        for path in sorted((base / split).rglob("*")):
            if path.suffix.lower() == ".edf" and path.is_file():
                files.append(_describe(path, root, base))
    return files


def _describe(path: Path, root: Path, base: Path) -> SourceFile:
    parts = path.relative_to(base).parts
    rel_path = path.relative_to(root).as_posix()
    if len(parts) != 5:
        return SourceFile(
            path, rel_path, parts[0], "", "", "",
            f"expected <split>/<patient>/<session>/<montage>/<file>.edf, got {'/'.join(parts)}",
        )  # fmt: skip
    split, patient, session, montage, _ = parts
    return SourceFile(path, rel_path, split, patient, session, montage, None)


def check_patient_splits(files: list[SourceFile]) -> None:
    """Raise ValueError when a patient has recordings in more than one split."""
    splits_of: dict[str, set[str]] = {}
    for f in files:
        if f.layout_error is None:
            splits_of.setdefault(f.patient, set()).add(f.split)
    crossing = {p: sorted(s) for p, s in splits_of.items() if len(s) > 1}
    if crossing:
        listed = "; ".join(f"{p} in {', '.join(s)}" for p, s in sorted(crossing.items())[:10])
        raise ValueError(
            f"patients appear in more than one split ({len(crossing)}): {listed}; "
            "a patient's recordings must all sit under one of edf/train, edf/dev, edf/eval"
        )
