"""The cache manifest: one JSON document listing every recording and its windows.

``CACHE/manifest.json`` holds the recipe (and its hash), the window geometry, and per
recording: source path (relative to the data root), split, patient, session, montage,
input sampling rate, duration, seizure intervals, status (``ok``/``skipped``) and reason,
recipe hash, the signal and label files (relative to the cache folder), the interpolated
electrodes and why each was interpolated, and the seizure fraction of every window (60 s,
stride 10 s), so a sampler needs no signal data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bgb_data._atomic import publish, temp_path

__all__ = [
    "INTERPOLATION_REASONS",
    "MANIFEST_NAME",
    "Manifest",
    "RecordingEntry",
    "write_json_atomic",
]

MANIFEST_NAME = "manifest.json"
_FORMAT_VERSION = 1


@dataclass
class RecordingEntry:
    """One recording in the manifest."""

    path: str
    """Source EDF relative to the data root, ``/`` separators."""
    split: str
    patient: str
    session: str
    montage: str
    status: str
    """``ok`` (prepared and labelled) or ``skipped``."""
    reason: str | None
    """Machine-friendly reason when skipped: a key of :data:`bgb_data.SKIP_REASONS`, or
    ``unexpected_error`` (not a bad input: a failure, retried by the next build)."""
    message: str | None
    """Human-readable explanation when skipped."""
    recipe_hash: str
    source_size: int
    """Size of the EDF in bytes when it was processed (a changed file is redone)."""
    source_mtime_ns: int
    sfreq_in_hz: float | None = None
    duration_s: float | None = None
    n_samples: int | None = None
    """Samples per channel at 256 Hz in the signal file."""
    seizures: list[tuple[float, float]] = field(default_factory=list)
    """Seizure intervals (start_s, stop_s)."""
    annotation_file: str | None = None
    """Label source relative to the data root."""
    signal_file: str | None = None
    """(19, n_samples) ``.npy`` relative to the cache folder."""
    label_file: str | None = None
    """(n_samples,) uint8 ``.npy`` relative to the cache folder."""
    reference: str | None = None
    interpolated: list[str] = field(default_factory=list)
    """Electrodes replaced by interpolation from their neighbours, in ``ELECTRODES`` order."""
    bad_channels: dict[str, str] = field(default_factory=dict)
    """Electrode -> ``flat``/``saturated``/``amplitude``: present in the file, interpolated."""
    interpolation_reasons: dict[str, str] = field(default_factory=dict)
    """Each interpolated electrode -> why: ``missing`` (no channel in the file), ``flat``,
    ``saturated`` or ``amplitude``. Entries written before this field existed get it from
    ``interpolated`` and ``bad_channels`` when read (the same information, implicit)."""
    window_seizure_fraction: list[float] = field(default_factory=list)
    """Seizure fraction of each window at the manifest's window geometry."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordingEntry:
        """Rebuild from :meth:`to_dict` output, or from an entry without
        ``interpolation_reasons`` (written before it existed).

        Raises:
            ValueError: ``interpolation_reasons`` does not name exactly the interpolated
                electrodes, or names an unknown reason.
            TypeError: unknown or missing fields.
        """
        entry = cls(**data)
        entry.seizures = [(float(a), float(b)) for a, b in entry.seizures]
        if "interpolation_reasons" not in data:
            entry.interpolation_reasons = {
                e: entry.bad_channels.get(e, "missing") for e in entry.interpolated
            }
        _check_reasons(entry)
        return entry


@dataclass
class Manifest:
    """All recordings of a cache with the recipe and window geometry they were built with."""

    recipe: dict[str, Any]
    recipe_hash: str
    data_root: str
    sfreq_hz: float
    window_n: int
    stride_n: int
    recordings: list[RecordingEntry]

    def select(self, split: str | None = None, status: str | None = "ok") -> list[RecordingEntry]:
        """Recordings of ``split`` (all when None) with ``status`` (any when None)."""
        return [
            r
            for r in self.recordings
            if (split is None or r.split == split) and (status is None or r.status == status)
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``format_version`` first)."""
        data = asdict(self)
        data["recordings"] = [r.to_dict() for r in self.recordings]
        return {"format_version": _FORMAT_VERSION, **data}

    def save(self, cache_dir: str | Path) -> Path:
        """Write ``cache_dir/manifest.json`` atomically; return its path."""
        path = Path(cache_dir) / MANIFEST_NAME
        write_json_atomic(path, self.to_dict())
        return path

    @classmethod
    def load(cls, cache_dir: str | Path) -> Manifest:
        """Read ``cache_dir/manifest.json``.

        Raises:
            FileNotFoundError: no manifest (build the cache first: ``bgb cache build``).
            ValueError: a manifest of another format version.
        """
        path = Path(cache_dir) / MANIFEST_NAME
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no manifest; build the cache with `bgb cache build`")
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.pop("format_version", None)
        if version != _FORMAT_VERSION:
            raise ValueError(f"{path}: manifest format {version}, expected {_FORMAT_VERSION}")
        data["recordings"] = [RecordingEntry.from_dict(r) for r in data["recordings"]]
        return cls(**data)


INTERPOLATION_REASONS = ("missing", "flat", "saturated", "amplitude")
"""Why an electrode is interpolated: no channel in the file, or a bad-channel rule."""


def _check_reasons(entry: RecordingEntry) -> None:
    """Raise ValueError when ``interpolation_reasons`` disagrees with ``interpolated``."""
    reasons = entry.interpolation_reasons
    if sorted(reasons) != sorted(entry.interpolated):
        raise ValueError(
            f"{entry.path}: interpolation_reasons names {sorted(reasons)}, but the "
            f"interpolated electrodes are {sorted(entry.interpolated)}; rebuild this entry"
        )
    if unknown := sorted(set(reasons.values()) - set(INTERPOLATION_REASONS)):
        raise ValueError(
            f"{entry.path}: unknown interpolation reasons {unknown}; known: "
            f"{', '.join(INTERPOLATION_REASONS)}"
        )


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temp name in the same folder, sync it, then rename it over ``path``."""
    tmp = temp_path(path)
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    publish(tmp, path)
