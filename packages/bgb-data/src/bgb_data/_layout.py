"""The TUSZ v2 folder layout: where split, patient, session and montage come from.

``ROOT/edf/<split>/<patient>/<session>/<montage>/<file>.edf`` with split ``train``,
``dev`` or ``eval``, for example
``edf/train/aaaaaaac/s001_2002/02_tcp_le/aaaaaaac_s001_t000.edf``. ROOT may also be the
``edf`` folder itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SPLITS",
    "SourceFile",
    "SourceSelection",
    "check_patient_splits",
    "describe_source",
    "discover",
    "edf_root",
    "select_sources",
]

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
                files.append(describe_source(path, root, base))
    return files


def describe_source(path: Path, root: Path, base: Path) -> SourceFile:
    """What the path of the EDF ``path`` under ``base`` (``edf_root(root)``) says."""
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


@dataclass(frozen=True)
class SourceSelection:
    """The recordings of a data root, and those a build was asked for."""

    data_root: Path
    """Resolved data root."""
    everything: list[SourceFile]
    """Every EDF under the split folders, sorted by path."""
    selected: list[SourceFile]
    """The chosen splits' files, the first ``limit_files`` (by path) of each split."""


def select_sources(
    data_root: str | Path,
    splits: tuple[str, ...] | list[str] | None = None,
    limit_files: int | None = None,
) -> SourceSelection:
    """The recordings of a data root and the selection of a cache build.

    ``splits`` picks split folders (default all); ``limit_files`` keeps the first N files
    of each split, sorted by path.

    Raises:
        ValueError: unknown splits, ``limit_files`` < 1, a root that is not a TUSZ tree, or
            a patient in more than one split.
    """
    chosen = tuple(splits) if splits is not None else SPLITS
    if unknown := set(chosen) - set(SPLITS):
        raise ValueError(f"unknown splits {sorted(unknown)}; choose from {SPLITS}")
    if limit_files is not None and limit_files < 1:
        raise ValueError(f"limit_files must be >= 1, got {limit_files}")
    root = Path(data_root).resolve()
    everything = discover(root)
    check_patient_splits(everything)
    selected = []
    for split in chosen:
        of_split = [f for f in everything if f.split == split]
        selected.extend(of_split if limit_files is None else of_split[:limit_files])
    return SourceSelection(root, everything, selected)
