"""Pictures people read instead of tables: probability traces with events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bgb_post import moving_average

__all__ = ["plot_probability_trace", "reduce_for_display"]

DISPLAY_POINTS = 4000


def reduce_for_display(probs: np.ndarray, n_points: int = DISPLAY_POINTS) -> np.ndarray:
    """Max over equal blocks, so that a day-long trace plots quickly and no peak is lost.

    Shapes:
        probs: (n_samples,) -> (min(n_samples, n_points),)
    """
    if len(probs) <= n_points:
        return np.asarray(probs, dtype=np.float32)
    block = int(np.ceil(len(probs) / n_points))
    padded = np.full(block * int(np.ceil(len(probs) / block)), -np.inf, dtype=np.float32)
    padded[: len(probs)] = probs
    peaks: np.ndarray = padded.reshape(-1, block).max(axis=1)
    return peaks


def plot_probability_trace(
    path: Path,
    probs: np.ndarray,
    sfreq_hz: float,
    events: np.ndarray,
    *,
    reference: np.ndarray | None = None,
    thresholds: tuple[float, float] | None = None,
    smoothing_s: float | None = None,
    title: str = "",
) -> None:
    """Write a PNG of the seizure probability over time with detected (and true) events.

    With ``smoothing_s`` (the post-processing's moving average), the averaged trace, the one
    the thresholds apply to, is drawn over the raw trace in a lighter grey.
    """
    from matplotlib.figure import Figure

    shown = reduce_for_display(probs)
    duration_s = len(probs) / sfreq_hz
    hours = duration_s >= 3 * 3600
    scale = 3600.0 if hours else 60.0
    times = np.linspace(0.0, duration_s / scale, len(shown))
    fig = Figure(figsize=(12, 3.2))
    ax = fig.subplots()
    if smoothing_s is None:
        ax.plot(times, shown, lw=0.7, color="0.2")
    else:
        averaged = reduce_for_display(moving_average(probs, sfreq_hz, smoothing_s))
        ax.plot(times, shown, lw=0.5, color="0.75")
        ax.plot(times, averaged, lw=0.9, color="0.1")
    for row in events:
        ax.axvspan(row["start_s"] / scale, row["stop_s"] / scale, color="tab:red", alpha=0.3, lw=0)
    if reference is not None:
        for row in reference:
            ax.plot(
                [row["start_s"] / scale, row["stop_s"] / scale],
                [1.04, 1.04],
                color="tab:blue",
                lw=4,
                solid_capstyle="butt",
            )
    if thresholds is not None:
        for value, style in zip(thresholds, ("--", ":"), strict=True):
            ax.axhline(value, color="tab:red", lw=0.8, ls=style)
    ax.set_ylim(-0.02, 1.08)
    ax.set_xlim(0, duration_s / scale)
    ax.set_xlabel("time (h)" if hours else "time (min)")
    ax.set_ylabel("p(seizure)")
    caption = "red: detected events" + (
        "; blue: annotated seizures" if reference is not None else ""
    )
    if smoothing_s is not None:
        caption += f"; dark: mean over {smoothing_s:g} s, light: raw"
    ax.set_title(f"{title}  ({caption})" if title else caption, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
