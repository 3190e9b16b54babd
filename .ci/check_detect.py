"""Fail unless what a user runs reproduces the demo report: ``bgb detect`` at its defaults on
the eval split, scored by ``bgb score``, gives the report's 10 FA/24h row (OVLP sensitivity and
FA/24h), and that row meets the demo target (sensitivity >= 0.9 at <= 10 FA/24h).

Usage: ``python .ci/check_detect.py REPORT_JSON SCORE_JSON``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

TARGET_FA = 10.0
MIN_SENSITIVITY = 0.9

report = json.loads(Path(sys.argv[1]).read_text())
scored = json.loads(Path(sys.argv[2]).read_text())
point = next(p for p in report["operating_points"] if p["target_fa_per_24h"] == TARGET_FA)
if "ovlp" not in point:
    sys.exit(f"the report has no {TARGET_FA:g} FA/24h operating point to compare with")
expected, got = point["ovlp"], scored["ovlp"]
print(
    f"report, {TARGET_FA:g} FA/24h row: OVLP sensitivity {expected['sensitivity']:.4f} at "
    f"{expected['fa_per_24h']:.4f} FA/24h (tp {expected['tp']}, fn {expected['fn']}, "
    f"fp {expected['fp']})"
)
print(
    f"bgb detect + bgb score:     OVLP sensitivity {got['sensitivity']:.4f} at "
    f"{got['fa_per_24h']:.4f} FA/24h (tp {got['tp']}, fn {got['fn']}, fp {got['fp']})"
)
# The counts are integers and must be equal; the rates follow from them and the durations,
# which the EDF headers (detect) and the cache (report) both give to the sample.
if (got["tp"], got["fn"], got["fp"]) != (expected["tp"], expected["fn"], expected["fp"]):
    sys.exit("bgb detect + bgb score do not reproduce the report's event counts")
if not math.isclose(got["fa_per_24h"], expected["fa_per_24h"], rel_tol=1e-6, abs_tol=1e-9):
    sys.exit("bgb detect + bgb score do not reproduce the report's FA/24h")
if got["sensitivity"] < MIN_SENSITIVITY or got["fa_per_24h"] > TARGET_FA:
    sys.exit(f"demo target missed: need sensitivity >= {MIN_SENSITIVITY} at <= {TARGET_FA} FA/24h")
print("bgb detect reproduces the report, and meets the demo target")
