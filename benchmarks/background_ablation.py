"""Which part of one patient's synthetic background raises a detector's trace outside seizures.

    uv run python benchmarks/background_ablation.py WORK PATIENT [--checkpoint PATH]

``WORK`` is one ``clinical`` corpus folder of a ``bench_recipe.py`` output (its name ends in the
seed: ``clinical-12000``); ``PATIENT`` is a patient id of that corpus, as ``peaks.py`` names the
recordings. Every recording of the patient is written again as ``bgb synth`` wrote it, with the
same random draws, first as it was (checked to be byte-identical to the corpus's EDF), then with
one part of the background turned down to a millionth of its amplitude: the posterior alpha,
the drowsy central theta, the diffuse slowing, the frontal beta, the
rhythmic-movement artifacts (the parts this patient has). Each version goes through
``bgb.detect`` at its defaults (``runs/demo/best.pt`` unless ``--checkpoint``); the trace is
averaged as post-processing averages it, and the peak of every 60 s block is printed, less the
stretches from 10 s before each seizure to 60 s after it. The part whose removal brings the
blocks down is what the detector reads as a seizure.

It uses the generator's private functions (``bgb_data._synth_corpus``), so it checks the
regenerated recording against the corpus file before it believes anything.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

import bgb
from bgb_data import _synth_corpus as synth
from bgb_post import moving_average

PARTS = {
    "posterior alpha": "alpha_uv",
    "central theta (drowsy)": "theta_uv",
    "diffuse slowing": "slowing_uv",
    "frontal beta": "beta_uv",
    "rhythmic movement": "movement_per_hour",
}
BLOCK_S = 60.0
HOURS = 16.0  # bench_recipe.py's clinical corpora


def block_peaks(edf: Path, detector: bgb.TrainedDetector, seizures: list) -> tuple[float, list]:
    """(tau_on, the averaged trace's peak in each 60 s block outside seizures)."""
    found = bgb.detect(edf, detector, plot=False)
    post = found.thresholds.post_config
    trace = found.probabilities
    if post.smoothing_s is not None:
        trace = moving_average(trace, found.sfreq_hz, post.smoothing_s)
    fs = found.sfreq_hz
    busy = np.zeros(trace.size, dtype=bool)
    for s in seizures:
        busy[max(0, round((s.start_s - 10.0) * fs)) : round((s.stop_s + 60.0) * fs)] = True
    per_block = round(BLOCK_S * fs)
    peaks = []
    for start in range(0, trace.size, per_block):
        free = trace[start : start + per_block][~busy[start : start + per_block]]
        peaks.append(float(free.max()) if free.size else float("nan"))
    return post.tau_on, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("patient")
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args()
    seed = int(args.work.name.rsplit("-", 1)[-1])
    detector = bgb.load_trained(
        args.checkpoint or args.work / "runs/demo/best.pt", torch.device("cpu")
    )
    rng = np.random.default_rng(seed)
    plans = synth._plan_recordings(rng, HOURS, (5.0, 15.0), None, (250, 256, 400, 512),
                                   synth._CLINICAL_MONTAGES)  # fmt: skip
    patients = [p.patient for p in synth._unique_patients(plans)]
    if args.patient not in patients:
        raise SystemExit(f"no patient {args.patient} in the seed-{seed} corpus")
    index = patients.index(args.patient)
    traits = synth._clinical_traits(np.random.default_rng([seed, 10_000 + index]))
    mine = [p for p in plans if p.patient == args.patient]
    variants = {"as written": traits}
    for name, field in PARTS.items():
        if getattr(traits, field) > 0:  # a part the patient has; the draws stay the same
            variants[f"no {name}"] = dataclasses.replace(
                traits, **{field: 1e-6 * getattr(traits, field)}
            )
    scratch = args.work / "ablation" / args.patient
    print(f"{args.work.name}, patient {args.patient} ({mine[0].split}): {traits}")
    for name, changed in variants.items():
        cells = []
        for plan in mine:
            rec_rng = np.random.default_rng([seed, plan.index])
            seizures = synth._plan_clinical_seizures(rec_rng, plan.duration_s, changed, 6.0, 0.25)
            out = scratch / name.replace(" ", "_")
            rel = synth._write_clinical(out, plan, changed, seizures, rec_rng)
            if (
                name == "as written"
                and (out / rel).read_bytes() != (args.work / "corpus" / rel).read_bytes()
            ):
                raise SystemExit(f"regenerated {rel} differs from the corpus file; not comparable")
            tau_on, peaks = block_peaks(out / rel, detector, seizures)
            cells.append(f"{plan.token}: " + " ".join(f"{p:.2f}" for p in peaks))
        print(f"- {name} (tau_on {tau_on:.2f}): " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
