"""The evaluation report as people read it: a terminal table and a Markdown page."""

from __future__ import annotations

from typing import Any

__all__ = ["format_markdown", "format_metrics_table"]

_METHODS = (("ovlp", "OVLP"), ("taes", "TAES"), ("szcore", "SzCORE"))


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    default = report["default_thresholds"]
    label = f"default {default['tau_on']:g}/{default['tau_off']:g}"
    rows.append([label, *_method_cells(default)])
    for point in report["operating_points"]:
        label = f"<= {point['target_fa_per_24h']:g} FA/24h on dev ({point['tau_on']:.3f})"
        if point["tau_on"] is None:
            label = f"<= {point['target_fa_per_24h']:g} FA/24h on dev (none)"
        rows.append([label, *_method_cells(point)])
    return rows


def _method_cells(entry: dict[str, Any]) -> list[str]:
    cells = []
    for key, _ in _METHODS:
        scores = entry.get(key)
        if scores is None:
            cells.extend(["n/a", "n/a"])
        else:
            cells.extend([_number(scores["sensitivity"]), _number(scores["fa_per_24h"], 2)])
    return cells


def _header() -> list[str]:
    header = ["operating point"]
    for _, name in _METHODS:
        header.extend([f"{name} sens", f"{name} FA/24h"])
    return header


def _summary_line(report: dict[str, Any]) -> str:
    return (
        f"split {report['split']}: {report['n_recordings']} recordings, "
        f"{report['total_duration_s'] / 3600:.2f} h, {report['n_seizures']} seizures; "
        f"AUROC {_number(report['auroc'])}, PR-AUC {_number(report['pr_auc'])}"
    )


def format_metrics_table(report: dict[str, Any]) -> str:
    """A fixed-width table of sensitivity and FA/24h per operating point and method."""
    table = [_header(), *_rows(report)]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [_summary_line(report)]
    for number, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(report: dict[str, Any], figures: list[str]) -> str:
    """The Markdown report: summary, the table, how thresholds were chosen, the figures."""
    table = [_header(), *_rows(report)]
    lines = [
        f"# bgb evaluation: {report['split']} split",
        "",
        _summary_line(report) + ".",
        "",
        f"Checkpoint `{report['checkpoint']}`. Operating-point thresholds (best dev "
        "sensitivity with FA/24h at or under each target) come from: "
        f"{report['thresholds_from']}; they are applied unchanged here and are the ones "
        "`bgb detect` uses. Scoring is per whole recording, pooled over the split; "
        "FA/24h = false alarms / total recorded hours x 24.",
        "",
        "| " + " | ".join(table[0]) + " |",
        "|" + "---|" * len(table[0]),
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in table[1:])
    lines.append("")
    lines.extend(f"![{name}]({name})" for name in figures)
    return "\n".join(lines) + "\n"
