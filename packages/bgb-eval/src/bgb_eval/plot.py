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
    marked: Sequence[tuple[float, float, str]] = (),
    max_fa_per_24h: float = 30.0,
) -> Path:
    """Draw sensitivity (%) against FA/24h for ``points`` and save a PNG at ``path``.

    Points with undefined sensitivity or FA rate are left out; ``targets_fa_per_24h`` draws
    dashed vertical lines; ``marked`` holds (FA/24h, sensitivity in [0, 1], label) points drawn
    as labelled markers (the operating points). The FA axis runs from 0 to
    ``max_fa_per_24h`` (30: the range seizure detection is read in), or further when a marked
    point lies beyond. Returns the path written.
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
    for fa, sensitivity, label in marked:
        ax.plot([fa], [100.0 * sensitivity], marker="D", color="tab:red", markersize=6)
        ax.annotate(label, (fa, 100.0 * sensitivity), textcoords="offset points",
                    xytext=(4, -12), fontsize=7, color="tab:red")  # fmt: skip
    ax.set_xlabel("false alarms per 24 h")
    ax.set_ylabel("sensitivity (%)")
    ax.set_ylim(0.0, 102.0)
    ax.set_xlim(0.0, max([max_fa_per_24h, *(1.05 * fa for fa, _, _ in marked)]))
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, format="png")
    return out
