"""The evaluation report as people read it: a terminal table and a Markdown page.

Each row scores the recordings the cache prepared. When the cache skipped some recordings of
the split, a "whole split" row under each adds them as recordings with no detections (see
:mod:`bgb.evaluation`), and a line says how many were skipped and why.
"""

from __future__ import annotations

from typing import Any

__all__ = ["format_markdown", "format_metrics_table"]

_METHODS = (("ovlp", "OVLP"), ("taes", "TAES"), ("szcore", "SzCORE"))
_MAX_LISTED = 50
"""Skipped recordings listed in report.md; metrics.json lists them all."""


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rows(report: dict[str, Any]) -> list[list[str]]:
    default = report["default_thresholds"]
    labelled = [(f"default {default['tau_on']:g}/{default['tau_off']:g}", default)]
    for point in report["operating_points"]:
        tau_on = "none" if point["tau_on"] is None else f"{point['tau_on']:.4g}"
        labelled.append((f"<= {point['target_fa_per_24h']:g} FA/24h on dev ({tau_on})", point))
    whole = report.get("whole_split")  # absent from reports written before it existed
    whole_label = "  whole split" + ("" if whole is None or whole["complete"] else " (incomplete)")
    rows = []
    for label, entry in labelled:
        rows.append([label, *_method_cells(entry)])
        if whole is not None and whole["n_skipped"] and "whole_split" in entry:
            rows.append([whole_label, *_method_cells(entry["whole_split"])])
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


def _reasons(whole: dict[str, Any]) -> str:
    """``1 too short, 1 truncated``: skipped recordings per reason, most frequent first."""
    return ", ".join(
        f"{n} {reason.replace('_', ' ')}" for reason, n in whole["skipped_by_reason"].items()
    )


def _whole_split_lines(report: dict[str, Any]) -> list[str]:
    """Whether every recording of the split was scored; if not, what the whole-split rows
    cover, and what they leave out."""
    whole = report.get("whole_split")
    if whole is None:
        return []
    limited = whole.get("limit_files")
    selection = "" if limited is None else f" (data.limit_files: at most {limited} per split)"
    if not whole["n_skipped"]:
        return [f"all {report['n_recordings']} recordings of the split{selection} were scored"]
    lines = [
        f"{whole['n_skipped']} skipped by the cache: {_reasons(whole)}; the whole-split rows "
        f"count them as recordings without detections: {whole['n_recordings']} recordings"
        f"{selection}, {whole['total_duration_s'] / 3600:.2f} h, {whole['n_seizures']} seizures"
    ]
    if whole["n_unknown"]:
        lines.append(
            f"unknown: {whole['n_unknown']} skipped recordings whose seizures or duration "
            "cannot be read are left out, so the whole-split rows are incomplete: their "
            "sensitivity and FA/24h are upper bounds"
        )
    return lines


def format_metrics_table(report: dict[str, Any]) -> str:
    """A fixed-width table of sensitivity and FA/24h per operating point and method."""
    table = [_header(), *_rows(report)]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [_summary_line(report), *_whole_split_lines(report)]
    for number, row in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _skipped_section(report: dict[str, Any]) -> list[str]:
    """A Markdown table of the skipped recordings: path, reason, duration, seizures."""
    skipped = report.get("skipped_recordings") or []
    if not skipped:
        return []
    lines = [
        "## Skipped recordings",
        "",
        "| recording | reason | duration (s) | seizures | unknown |",
        "|---|---|---|---|---|",
    ]
    for item in skipped[:_MAX_LISTED]:
        lines.append(
            f"| `{item['path']}` | {item['reason'] or 'n/a'} | {_number(item['duration_s'], 1)} | "
            f"{'n/a' if item['n_seizures'] is None else item['n_seizures']} | "
            f"{(item['unknown'] or '').replace('|', '/')} |"
        )
    if len(skipped) > _MAX_LISTED:
        lines.append(f"\n{len(skipped) - _MAX_LISTED} more in metrics.json.")
    return [*lines, ""]


def format_markdown(report: dict[str, Any], figures: list[str]) -> str:
    """The Markdown report: summary, the table, how thresholds were chosen, skipped
    recordings, the figures."""
    table = [_header(), *_rows(report)]
    lines = [
        f"# bgb evaluation: {report['split']} split",
        "",
        _summary_line(report) + ".",
        "",
        *(f"{line}.\n" for line in _whole_split_lines(report)),
        f"Checkpoint `{report['checkpoint']}`. Operating-point thresholds (best dev "
        "sensitivity with FA/24h at or under each target) come from: "
        f"{report['thresholds_from']}; they are applied unchanged here and are the ones "
        "`bgb detect` uses. Scoring is per whole recording, pooled over the split; "
        "FA/24h = false alarms / total recorded hours x 24.",
        "",
    ]
    if report.get("whole_split", {}).get("n_skipped"):
        lines += [
            "Each row scores the recordings the cache prepared; the whole-split row under it "
            "adds the skipped recordings as recordings on which the detector output nothing "
            "(their seizures missed, their hours counted), which is how NEDC's scorer treats "
            "an empty hypothesis file, so it compares with NEDC run on the whole split.",
            "",
        ]
    lines += ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines.extend("| " + " | ".join(row) + " |" for row in table[1:])
    lines.append("")
    lines.extend(_skipped_section(report))
    lines.extend(f"![{name}]({name})" for name in figures)
    return "\n".join(lines) + "\n"
