"""Compare as Markdown: a table, one row per scenario, each figure with its difference from the baseline."""

from hvo_calc.compare.models import CompareReport, Scenario
from hvo_calc.reports.compare_formats import COLUMNS, POOL_BASIS, figure_text
from hvo_calc.reports.text import markdown_text


def _cells(s: Scenario, baseline: str) -> list[str]:
    if s.figures is None or s.delta is None:
        return ["cannot exist"] + [""] * (len(COLUMNS) - 1)
    cells = []
    for _, field in COLUMNS:
        text = figure_text(field, getattr(s.figures, field))
        if s.name != baseline and getattr(s.delta, field) is not None:
            text += f" ({figure_text(field, getattr(s.delta, field), signed=True)})"
        cells.append(text)
    return cells


def render(report: CompareReport) -> str:
    lines = [
        "| # | scenario | " + " | ".join(heading for heading, _ in COLUMNS) + " |",
        "|---:|---|" + "---:|" * len(COLUMNS),
    ]
    for number, s in enumerate(report.scenarios, 1):
        name = markdown_text(s.name) + (" (baseline)" if s.name == report.baseline else "")
        lines.append(f"| {number} | {name} | " + " | ".join(_cells(s, report.baseline)) + " |")
    lines.append("")
    lines.append(f"Differences in parentheses are from the baseline, {markdown_text(report.baseline)}.")
    if report.pool_basis:
        lines.append(f"{POOL_BASIS[report.pool_basis][0].upper()}{POOL_BASIS[report.pool_basis][1:]}.")
    for number, s in enumerate(report.scenarios, 1):
        if s.reason:
            lines.append(f"- {number} {markdown_text(s.name)}: cannot exist: {markdown_text(s.reason)}")
    return "\n".join(lines) + "\n"
