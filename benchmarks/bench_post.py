"""bgb-post speed on a 24 h trace at 256 Hz against one thresholding pass over the same array.

Target (issue 2): ``postprocess`` within 10x the time of ``np.count_nonzero(p >= 0.5)``.
Run: ``uv run python benchmarks/bench_post.py``. Prints best-of-N wall times for float64 and
float32 copies of the trace, and the ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from bgb_post import PostprocessConfig, postprocess

SFREQ_HZ = 256.0
HOURS = 24
MODEL_RATE_HZ = 16  # the detector emits one logit per 16 input samples before upsampling
N_BURSTS = 300
REPEATS = 7
TARGET_RATIO = 10.0


def realistic_trace(seed: int = 0) -> np.ndarray:
    """A 24 h probability trace: low, noisy background with a few hundred bursts."""
    rng = np.random.default_rng(seed)
    n_coarse = HOURS * 3600 * MODEL_RATE_HZ
    # Background: smoothed noise in logit space around p ~ 0.02, now and then near 0.8.
    noise = np.convolve(rng.standard_normal(n_coarse), np.ones(8) / np.sqrt(8), mode="same")
    logits = -4.0 + 1.3 * noise
    starts = rng.integers(0, n_coarse - 200 * MODEL_RATE_HZ, N_BURSTS)
    lengths = rng.integers(2 * MODEL_RATE_HZ, 180 * MODEL_RATE_HZ, N_BURSTS)
    for start, length in zip(starts, lengths, strict=True):
        logits[start : start + length] = 3.0 + 0.8 * noise[start : start + length]
    coarse = 1.0 / (1.0 + np.exp(-logits))
    return np.repeat(coarse, int(SFREQ_HZ) // MODEL_RATE_HZ)


def best_time_s(func: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time of several calls, in seconds."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return float(best)


def main() -> None:
    trace64 = realistic_trace()
    config = PostprocessConfig()
    print(
        f"trace: {trace64.size:,} samples ({HOURS} h at {SFREQ_HZ:g} Hz), {N_BURSTS} bursts; "
        f"best of {REPEATS}"
    )
    for trace in (trace64, trace64.astype(np.float32)):
        n_events = postprocess(trace, SFREQ_HZ, config).size
        baseline_s = best_time_s(lambda t=trace: np.count_nonzero(t >= 0.5))
        post_s = best_time_s(lambda t=trace: postprocess(t, SFREQ_HZ, config))
        ratio = post_s / baseline_s
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        print(
            f"{trace.dtype}: count_nonzero(p >= 0.5) {baseline_s * 1e3:7.1f} ms | "
            f"postprocess {post_s * 1e3:7.1f} ms ({n_events} events) | ratio {ratio:4.1f}x "
            f"({verdict} the {TARGET_RATIO:g}x target)"
        )


if __name__ == "__main__":
    main()
