"""Which seizures each detector found, by the generator's kind, strength and length.

    uv run python benchmarks/by_kind.py OUT

``OUT`` is a ``bench_recipe.py`` output folder. For each corpus in it, the eval seizures listed
in the generator's truth table (``corpus/seizures.tsv``, written by ``bgb synth``) are matched
against the events that ``bgb detect`` wrote at its defaults (``runs/detect`` for the deep
model, ``runs/base-detect`` for the classical reference): a seizure counts as found when some
detected event overlaps it, the rule by which OVLP counts a true positive. So the totals equal
``bgb score``'s OVLP true positives (checked, and the script exits non-zero if they differ).

Writes ``OUT/by_kind.md`` and prints it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

from bgb_data import SEIZURE_TABLE
from bgb_events import read_csv_bi

DETECTORS = {"bgb": "detect", "classical": "base-detect"}
AMPLITUDE_BINS = ((0.0, 1.4), (1.4, 2.0), (2.0, 4.0), (4.0, float("inf")))
LENGTH_BINS = ((0.0, 20.0), (20.0, 60.0), (60.0, float("inf")))


def _bin(value: float, bins: tuple[tuple[float, float], ...], unit: str) -> str:
    for lo, hi in bins:
        if lo <= value < hi:
            return f">= {lo:g}{unit}" if hi == float("inf") else f"{lo:g}-{hi:g}{unit}"
    raise ValueError(f"{value} outside every bin")


def found_seizures(work: Path, detector_dir: str) -> list[dict[str, object]]:
    """The eval seizures of the corpus in ``work``, each with whether ``detector_dir`` hit it."""
    rows = []
    with (work / "corpus" / SEIZURE_TABLE).open(encoding="utf-8") as table:
        for row in csv.DictReader(table, delimiter="\t"):
            if row["split"] != "eval":
                continue
            stem = Path(row["recording"]).stem
            events = read_csv_bi(work / "runs" / detector_dir / f"{stem}.csv_bi").events
            start, stop = float(row["start_s"]), float(row["stop_s"])
            hit = bool(((events["start_s"] < stop) & (events["stop_s"] > start)).any())
            rows.append({**row, "length_s": stop - start, "found": hit})
    return rows


def tabulate(out: Path) -> str:
    lines = ["| corpus | group | seizures | " + " | ".join(f"found by {d}" for d in DETECTORS)
             + " |", "|---|---|---|" + "---|" * len(DETECTORS)]  # fmt: skip
    totals: dict[str, list[int]] = defaultdict(lambda: [0] * (1 + len(DETECTORS)))
    mismatches = []
    for work in sorted(out.iterdir()):
        if not all((work / "runs" / f"{sub}-score.json").exists() for sub in DETECTORS.values()):
            continue  # not a corpus folder, or its runs are not finished
        per_detector = {d: found_seizures(work, sub) for d, sub in DETECTORS.items()}
        for d, sub in DETECTORS.items():
            score = json.loads((work / "runs" / f"{sub}-score.json").read_text())["ovlp"]
            hits = sum(bool(r["found"]) for r in per_detector[d])
            if hits != score["tp"] or len(per_detector[d]) != score["tp"] + score["fn"]:
                mismatches.append(f"{work.name} {d}: {hits} found, bgb score tp {score['tp']}")
        groups: dict[str, list[int]] = defaultdict(lambda: [0] * (1 + len(DETECTORS)))
        seizures = per_detector["bgb"]
        for i, row in enumerate(seizures):
            keys = [
                f"kind {row['kind']}",
                "length " + _bin(float(row["length_s"]), LENGTH_BINS, " s"),
            ]
            if row["amplitude"] != "n/a":
                keys.append("amplitude " + _bin(float(row["amplitude"]), AMPLITUDE_BINS, "x"))
            for key in keys:
                groups[key][0] += 1
                totals[key][0] += 1
                for j, d in enumerate(DETECTORS, start=1):
                    found = int(bool(per_detector[d][i]["found"]))
                    groups[key][j] += found
                    totals[key][j] += found
        for key in sorted(groups):
            n, *hits = groups[key]
            lines.append(
                f"| {work.name} | {key} | {n} | " + " | ".join(str(h) for h in hits) + " |"
            )
    for key, (n, *hits) in sorted(totals.items()):
        lines.append(
            f"| all | {key} | {n} | " + " | ".join(f"{h} ({h / n:.0%})" for h in hits) + " |"
        )
    if mismatches:
        sys.exit("found seizures differ from bgb score's OVLP counts: " + "; ".join(mismatches))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    out = parser.parse_args().out.resolve()
    text = tabulate(out)
    (out / "by_kind.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
