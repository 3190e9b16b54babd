"""The recipe on corpora it was not tuned on, beside the classical reference, as a user runs it.

For each profile and seed: ``bgb synth``, then in a fresh working folder
``bgb-train configs/demo.yaml --set data.root=CORPUS`` (nothing else changed), ``bgb detect`` of
the eval split at its defaults and ``bgb score`` against the eval references; then the same
for ``bgb baseline configs/demo.yaml --set data.root=CORPUS``. Every figure in the table comes
from the files those commands wrote (``metrics.json`` of the eval report, ``bgb score --json``),
and the detect-and-score figures are checked against the report's 10 FA/24h row.

Usage::

    uv run python benchmarks/bench_recipe.py OUT [--profiles basic clinical]
        [--seeds 6000 6001 6002] [--set KEY=VALUE ...]

``--set`` (repeatable) passes a change of the recipe to ``bgb-train`` alone, the way a user
would try one (``--set training.seizure_draw=event``); the classical reference is unchanged.

Writes ``OUT/results.json``, ``OUT/table.md`` (the README's table) and ``OUT/by_kind.md`` (which
eval seizures each detector found, by kind, amplitude and length; ``by_kind.py``) and prints
both tables.
Takes 7-8 minutes per corpus on a 2-core AMD EPYC, 15-17 minutes on a 2-core Intel Xeon (Ice Lake).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from by_kind import tabulate as tabulate_kinds

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "demo.yaml"
HOURS = {"basic": 14.0, "clinical": 16.0}
TARGETS = (10.0, 5.0, 2.5, 1.0)


def run(args: list[str], cwd: Path, log: Path) -> float:
    """Run a command, appending its output to ``log``; return its wall time in seconds."""
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}; see {log}")
    return time.perf_counter() - started


def detect_and_score(work: Path, corpus: Path, checkpoint: Path, name: str, log: Path) -> dict:
    """``bgb detect`` the eval split at its defaults, ``bgb score`` it; the OVLP figures."""
    edfs = sorted(str(p) for p in (corpus / "edf" / "eval").rglob("*.edf"))
    out = work / "runs" / name
    seconds = run(["bgb", "detect", *edfs, "--checkpoint", str(checkpoint), "--out", str(out)],
                  work, log)  # fmt: skip
    reference = work / "runs" / "eval-reference"
    reference.mkdir(parents=True, exist_ok=True)
    for path in (corpus / "edf" / "eval").rglob("*.csv_bi"):
        shutil.copy(path, reference / path.name)
    score_json = work / "runs" / f"{name}-score.json"
    seconds += run(["bgb", "score", str(reference), str(out), "--json", str(score_json)], work,
                   log)  # fmt: skip
    ovlp = json.loads(score_json.read_text())["ovlp"]
    return {"detect_s": seconds, "ovlp": ovlp}


def summarise(report: dict, detected: dict) -> dict[str, Any]:
    """AUROC, OVLP sensitivity and FA/24h per operating point; detect agrees with the report."""
    points = {p["target_fa_per_24h"]: p for p in report["operating_points"]}
    row: dict[str, Any] = {"auroc": report["auroc"], "n_seizures": report["n_seizures"],
                           "hours": report["total_duration_s"] / 3600}  # fmt: skip
    for target in TARGETS:
        ovlp = points.get(target, {}).get("ovlp")
        row[f"{target:g}"] = None if ovlp is None else [ovlp["sensitivity"], ovlp["fa_per_24h"]]
    got = detected["ovlp"]
    row["detect"] = [got["sensitivity"], got["fa_per_24h"]]
    expected = points.get(10.0, {}).get("ovlp")
    # as .ci/check_detect.py: equal counts, and FA/24h equal up to the duration's rounding
    row["detect_matches_report"] = (
        expected is not None
        and [got[k] for k in ("tp", "fn", "fp")] == [expected[k] for k in ("tp", "fn", "fp")]
        and math.isclose(got["fa_per_24h"], expected["fa_per_24h"], rel_tol=1e-6, abs_tol=1e-9)
    )
    row["detect_s"] = detected["detect_s"]
    return row


def one_corpus(out: Path, profile: str, seed: int, changes: list[str]) -> dict[str, Any]:
    work = out / f"{profile}-{seed}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    log = work / "log.txt"
    corpus = work / "corpus"
    root = f"data.root={corpus}"
    synth_s = run(["bgb", "synth", str(corpus), "--hours", str(HOURS[profile]), "--seed",
                   str(seed), "--profile", profile], work, log)  # fmt: skip
    print(f"{profile} {seed}: synthesised in {synth_s:.0f} s", flush=True)
    sets = [arg for change in [root, *changes] for arg in ("--set", change)]
    train_s = run(["bgb-train", str(CONFIG), *sets], work, log)
    deep = summarise(
        json.loads((work / "runs/demo/eval/metrics.json").read_text()),
        detect_and_score(work, corpus, work / "runs/demo/best.pt", "detect", log),
    )
    print(f"{profile} {seed}: deep model {train_s:.0f} s, detect {deep['detect']}", flush=True)
    base_s = run(["bgb", "baseline", str(CONFIG), "--set", root], work, log)
    base = summarise(
        json.loads((work / "runs/demo/baseline/eval/metrics.json").read_text()),
        detect_and_score(work, corpus, work / "runs/demo/baseline/best.pt", "base-detect", log),
    )
    print(f"{profile} {seed}: baseline {base_s:.0f} s, detect {base['detect']}", flush=True)
    return {"profile": profile, "seed": seed, "changes": changes, "synth_s": synth_s,
            "train_s": train_s, "baseline_s": base_s, "deep": deep, "baseline": base}  # fmt: skip


def _cell(value: list[float] | None) -> str:
    return "-" if value is None else f"{value[0]:.3f} / {value[1]:.1f}"


def table(results: list[dict[str, Any]]) -> str:
    head = ("| corpus | detector | eval h / seizures | AUROC | `bgb detect` defaults "
            "| 10 FA | 5 FA | 2.5 FA | 1 FA | training | end to end |")  # fmt: skip
    lines = [head, "|" + "---|" * 11]
    for r in results:
        for name, key, seconds in (("bgb", "deep", r["train_s"]),
                                   ("classical", "baseline", r["baseline_s"])):  # fmt: skip
            row = r[key]
            end_to_end = r["synth_s"] + seconds + row["detect_s"]
            lines.append(
                f"| {r['profile']} {r['seed']} | {name} | {row['hours']:.2f} / {row['n_seizures']} "
                f"| {row['auroc']:.3f} | {_cell(row['detect'])} | "
                + " | ".join(_cell(row[f"{t:g}"]) for t in TARGETS)
                + f" | {seconds / 60:.1f} min | {end_to_end / 60:.1f} min |"
            )
    lines.append("")
    lines.append("Cells: OVLP sensitivity / FA per 24 h on the eval split; the FA columns use the "
                 "operating point chosen on dev for that target. Training: `bgb-train` or "
                 "`bgb baseline`, cache build included; end to end: `bgb synth` + training + "
                 "`bgb detect` + `bgb score`.")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--profiles", nargs="+", default=["basic", "clinical"],
                        choices=sorted(HOURS))  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=int, default=[6000, 6001, 6002])
    parser.add_argument(
        "--set",
        dest="changes",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a change of the recipe, for bgb-train only",
    )
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for profile in args.profiles:
        for seed in args.seeds:
            results.append(one_corpus(out, profile, seed, args.changes))
            (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    if args.changes:
        text += (
            "\nRecipe changed for `bgb-train`: " + ", ".join(f"`{c}`" for c in args.changes) + "."
        )
    (out / "table.md").write_text(text + "\n")
    print(text)
    kinds = tabulate_kinds(out)
    (out / "by_kind.md").write_text(kinds + "\n")
    print(kinds)
    bad = [
        f"{r['profile']} {r['seed']} {key}"
        for r in results
        for key in ("deep", "baseline")
        if not r[key]["detect_matches_report"]
    ]
    if bad:
        sys.exit(f"bgb detect + bgb score differ from the report's 10 FA/24h row on: {bad}")


if __name__ == "__main__":
    main()
