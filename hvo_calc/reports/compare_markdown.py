"""Compare as Markdown: a table, one row per scenario, each figure with its difference from the baseline."""

from hvo_calc.compare.models import CompareReport
from hvo_calc.reports.compare_formats import COLUMNS, POOL_BASIS, scenario_cells
from hvo_calc.reports.text import markdown_text


def render(report: CompareReport) -> str:
    lines = [
        "| # | scenario | " + " | ".join(heading for heading, _ in COLUMNS) + " |",
        "|---:|---|" + "---:|" * len(COLUMNS),
    ]
    for number, s in enumerate(report.scenarios, 1):
        name = markdown_text(s.name) + (" (baseline)" if s.name == report.baseline else "")
        cells = scenario_cells(s, report.baseline, COLUMNS, "{figure} ({delta})")
        lines.append(f"| {number} | {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Differences in parentheses are from the baseline, {markdown_text(report.baseline)}.")
    if report.pool_basis:
        lines.append(f"{POOL_BASIS[report.pool_basis][0].upper()}{POOL_BASIS[report.pool_basis][1:]}.")
    for number, s in enumerate(report.scenarios, 1):
        if s.reason:
            lines.append(f"- {number} {markdown_text(s.name)}: cannot exist: {markdown_text(s.reason)}")
        elif s.no_hvo:
            lines.append(f"- {number} {markdown_text(s.name)}: no HVO: {markdown_text(s.no_hvo)}")
    return "\n".join(lines) + "\n"
