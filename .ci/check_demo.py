"""Fail unless the demo met its target: on the synthetic eval split, with the threshold chosen
on dev for 10 FA/24h, OVLP sensitivity >= 0.9 at <= 10 FA/24h."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET_FA = 10.0
MIN_SENSITIVITY = 0.9

report = json.loads(
    Path(sys.argv[1] if len(sys.argv) > 1 else "runs/demo/eval/metrics.json").read_text()
)
point = next(p for p in report["operating_points"] if p["target_fa_per_24h"] == TARGET_FA)
ovlp = point.get("ovlp")
if ovlp is None:
    sys.exit(f"demo target missed: no dev threshold reached <= {TARGET_FA} FA/24h")
sensitivity, fa = ovlp["sensitivity"], ovlp["fa_per_24h"]
print(
    f"demo eval split: OVLP sensitivity {sensitivity:.3f} at {fa:.2f} FA/24h "
    f"(tau_on {point['tau_on']:.3f} chosen on dev)"
)
if sensitivity is None or sensitivity < MIN_SENSITIVITY or fa > TARGET_FA:
    sys.exit(f"demo target missed: need sensitivity >= {MIN_SENSITIVITY} at <= {TARGET_FA} FA/24h")
print("demo target met")
