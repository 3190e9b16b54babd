"""Why a seizure was missed: its peak against the threshold and the strongest non-seizure peaks.

    uv run python benchmarks/peaks.py WORK [WORK ...] [--splits dev eval]

``WORK`` is one corpus folder of a ``bench_recipe.py`` output (``corpus/`` with the generator's
truth table, ``runs/demo/best.pt`` and ``runs/demo/baseline/best.pt``). For each detector and
split, every recording goes through ``bgb.detect`` at its defaults (the checkpoint's stride
and 10 FA/24h operating point, as ``bgb detect`` runs it), and the trace is averaged as
post-processing averages it before the thresholds (``smoothing_s``; the raw trace without
one). Then:

- each seizure of the truth table gets its peak: the highest averaged probability inside it;
- the rest of the recording, less each seizure, the 60 s after it (post-ictal slowing
  belongs to the seizure) and half the average's window before it (where the average already
  sees the seizure), is cut into 60 s blocks, each with its peak and whether photic
  stimulation ran in it (flashes in a channel whose label contains ``PHOTIC``, as in TUSZ).

A threshold chosen on dev can only find on eval the seizures whose peaks lie above dev's
strongest non-seizure peaks; this shows where each split's peaks lie and what raised the
strongest ones. Prints one table per corpus and writes ``WORK/peaks.md``.
"""

from __future__ import annotations

import argparse
import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np

import bgb
from bgb_data import SEIZURE_TABLE, read_edf_header
from bgb_post import moving_average

DETECTORS = {"bgb": "runs/demo/best.pt", "classical": "runs/demo/baseline/best.pt"}
BLOCK_S = 60.0
AFTER_S = 60.0
SHOWN = 5


@dataclass(frozen=True)
class Split:
    tau_on: float
    seizure_peaks: list[tuple[str, float, float, str, float]]
    """(recording, start s, length s, kind, peak) per seizure."""
    block_peaks: list[tuple[float, bool, str, float]]
    """(peak, photic, recording, block start s) per non-seizure block."""


def photic_on(edf: Path, n_blocks: int) -> np.ndarray:
    """(n_blocks,) whether the recording's PHOTIC channel flashes in each 60 s block."""
    photic = [label for label in read_edf_header(edf).raw_labels if "PHOTIC" in label.upper()]
    if not photic:
        return np.zeros(n_blocks, dtype=bool)
    raw = mne.io.read_raw_edf(edf, include=photic[:1], preload=True, verbose="error")
    level = raw.get_data()[0]
    off = np.abs(level - np.median(level))
    flashes = off > 10 * np.median(off)  # flashes stand far off a flat line; noise does not
    per_block = round(BLOCK_S * raw.info["sfreq"])
    return np.array([flashes[i * per_block : (i + 1) * per_block].any() for i in range(n_blocks)])


def split_peaks(work: Path, detector: bgb.TrainedDetector, split: str) -> Split:
    truth = list(csv.DictReader((work / "corpus" / SEIZURE_TABLE).open(), delimiter="\t"))
    seizures, blocks, tau_on = [], [], float("nan")
    for edf in sorted((work / "corpus" / "edf" / split).rglob("*.edf")):
        found = bgb.detect(edf, detector, plot=False)
        post = found.thresholds.post_config
        tau_on = post.tau_on
        trace = found.probabilities
        if post.smoothing_s is not None:
            trace = moving_average(trace, found.sfreq_hz, post.smoothing_s)
        fs = found.sfreq_hz
        busy = np.zeros(trace.size, dtype=bool)
        lead_s = (post.smoothing_s or 0.0) / 2
        for row in truth:
            if Path(row["recording"]).stem != edf.stem:
                continue
            start_s, stop_s = float(row["start_s"]), float(row["stop_s"])
            peak = float(trace[round(start_s * fs) : round(stop_s * fs)].max())
            seizures.append((edf.stem, start_s, stop_s - start_s, row["kind"], peak))
            busy[max(0, round((start_s - lead_s) * fs)) : round((stop_s + AFTER_S) * fs)] = True
        per_block = round(BLOCK_S * fs)
        n_blocks = -(-trace.size // per_block)
        photic = photic_on(edf, n_blocks)
        for i in range(n_blocks):
            part = slice(i * per_block, (i + 1) * per_block)
            free = trace[part][~busy[part]]
            if free.size:
                blocks.append((float(free.max()), bool(photic[i]), edf.stem, i * BLOCK_S))
    blocks.sort(reverse=True)
    return Split(tau_on, seizures, blocks)


def describe(name: str, split: str, got: Split) -> list[str]:
    above = [b for b in got.block_peaks if b[0] >= got.tau_on]
    below = [s for s in got.seizure_peaks if s[4] < got.tau_on]
    strongest = ", ".join(f"{p:.2f}{' (photic)' if ph else ''} {stem} {t:.0f} s"
                          for p, ph, stem, t in got.block_peaks[:SHOWN])  # fmt: skip
    top = got.block_peaks[0][0] if got.block_peaks else float("nan")
    over_top = sum(s[4] > top for s in got.seizure_peaks)
    lines = [
        f"- **{name}, {split}** (tau_on {got.tau_on:.2f}): {len(got.seizure_peaks)} seizures, "
        f"{len(got.seizure_peaks) - len(below)} with peaks at or above tau_on, {over_top} above "
        f"every non-seizure block; {len(got.block_peaks)} non-seizure blocks, {len(above)} at or "
        f"above tau_on ({sum(b[1] for b in above)} with photic stimulation).",
        f"  - strongest non-seizure blocks: {strongest}",
    ]
    if below:
        missed = ", ".join(f"{stem} {start:.0f} s ({length:.0f} s {kind}): {peak:.2f}"
                           for stem, start, length, kind, peak in below)  # fmt: skip
        lines.append(f"  - seizures below tau_on: {missed}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("work", type=Path, nargs="+")
    parser.add_argument("--splits", nargs="+", default=["dev", "eval"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="mne")
    for work in args.work:
        lines = [f"### {work.name}", ""]
        for name, checkpoint in DETECTORS.items():
            if not (work / checkpoint).exists():
                lines.append(f"- {name}: no checkpoint at {work / checkpoint}")
                continue
            detector = bgb.load_trained(work / checkpoint, "cpu")
            for split in args.splits:
                lines += describe(name, split, split_peaks(work, detector, split))
        text = "\n".join(lines)
        (work / "peaks.md").write_text(text + "\n")
        print(text, flush=True)


if __name__ == "__main__":
    main()
