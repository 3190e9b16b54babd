"""The sensitivity vs false alarms per 24 h curve of a threshold sweep, as a PNG.

Needs matplotlib (the ``plot`` extra: ``pip install bgb-eval[plot]``); it is imported only
when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bgb_eval.operating_points import OperatingPoint

__all__ = ["plot_sensitivity_fa_curve"]


def plot_sensitivity_fa_curve(
    points: Sequence[OperatingPoint],
    path: str | Path,
    *,
    title: str | None = None,
    targets_fa_per_24h: Sequence[float] = (),
) -> Path:
    """Draw sensitivity (%) against FA/24h for ``points`` and save a PNG at ``path``.

    Points with undefined sensitivity or FA rate are left out; ``targets_fa_per_24h`` draws
    dashed vertical lines. Returns the path written.
    """
    try:
        # A bare Figure draws without pyplot, so no GUI backend is chosen or changed.
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            "plot_sensitivity_fa_curve needs matplotlib: install bgb-eval[plot]"
        ) from err
    drawn = sorted(
        (p.fa_per_24h, 100.0 * p.sensitivity, p.threshold)
        for p in points
        if p.fa_per_24h is not None and p.sensitivity is not None
    )
    if not drawn:
        raise ValueError("no operating point with a defined sensitivity and FA/24h to plot")
    out = Path(path)
    fig = Figure(figsize=(6.0, 4.5), dpi=120)
    ax = fig.subplots()
    ax.plot([d[0] for d in drawn], [d[1] for d in drawn], marker="o", markersize=3)
    for target in targets_fa_per_24h:
        ax.axvline(target, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("false alarms per 24 h")
    ax.set_ylabel("sensitivity (%)")
    ax.set_ylim(0.0, 100.0)
    ax.set_xlim(left=0.0)
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, format="png")
    return out
