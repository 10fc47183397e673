"""Inspect for people: the summary (HVO's state first), the host, its hugepages, the plan's
table, the model against the kernel's counters, then the kernel log lines, notes and problems.
Every table fits the console's width as `grid` does it; colour only where `hvo_calc.console`
gives it. The comparison's reasons are a column where the width holds them, else one line each
under the table."""

from hvo_calc.host.models import ComparisonRow, InspectReport
from hvo_calc.reports.grid import Column, Grid, count_text, fit, left_out_line, print_fitted, signed_text
from hvo_calc.reports.inspect import host_line
from hvo_calc.reports.table import render as render_plan
from hvo_calc.reports.table import text_console
from hvo_calc.units import human_size

WHY = "why"
STATUS = "status"


def hugepages_grid(report: InspectReport) -> Grid:
    """sysfs's hugepages per size and node."""
    rows = [(node, counts) for node in report.host.nodes for counts in node.hugepages]
    columns = [
        Column("size", [c.hugepage_size for _, c in rows], "left"),
        Column("node", [str(n.node) for n, _ in rows]),
        Column("memory", ["-" if not n.memory_bytes else human_size(n.memory_bytes) for n, _ in rows]),
        Column("hugepages", [count_text(c.total) for _, c in rows]),
        Column("free", [count_text(c.free) for _, c in rows]),
        Column("surplus", [count_text(c.surplus) for _, c in rows]),
        Column("at boot", [count_text(c.boot) for _, c in rows]),
    ]
    return Grid("hugepages on this host (sysfs)", columns)


def scope(row: ComparisonRow) -> str:
    return f"{row.scope} {row.hugepage_size}" if row.hugepage_size else row.scope


def comparison_grid(rows: list[ComparisonRow]) -> Grid:
    """Each counter, predicted against observed; the reasons, the status and the difference go
    first when it is too wide (the difference is observed less predicted)."""
    columns = [
        Column("counter", [r.counter for r in rows], "left"),
        Column("scope", [scope(r) for r in rows], "left"),
        Column("predicted", [count_text(r.predicted) for r in rows]),
        Column("observed", [count_text(r.observed) for r in rows]),
        Column("difference", [signed_text(r.difference) for r in rows], drop=2),
        Column(STATUS, [r.status for r in rows], "left", drop=3),
        Column(WHY, [r.explanation for r in rows], "left", drop=1),
    ]
    return Grid("model against the kernel's counters", columns)


def why_line(row: ComparisonRow, with_status: bool) -> str:
    """A counter's reason, under a table that has no room for it."""
    status = f"{row.status}: " if with_status and not row.explanation.startswith(row.status) else ""
    return f"{row.counter} {scope(row)}: {status}{row.explanation}"


def render(report: InspectReport, *, wide: bool = False) -> str:
    console, buffer = text_console()
    host = report.host
    for line in report.summary:
        console.print(line)
    console.print(host_line(host))
    if host.cmdline is not None:
        console.print(f"command line: {host.cmdline}")
    print_fitted(console, hugepages_grid(report), wide=wide)
    text = buffer.getvalue()
    if report.plan is not None:
        text += render_plan(report.plan, wide=wide)
    console, buffer = text_console()
    shown, left_out = fit(console, comparison_grid(report.comparison), wide=wide)
    console.print(shown)
    hidden = [heading for heading in left_out if heading not in (WHY, STATUS)]
    if hidden:
        console.print(left_out_line(hidden), soft_wrap=True)
    if WHY in left_out:
        for row in report.comparison:
            console.print(why_line(row, STATUS in left_out), soft_wrap=True)
    for line in host.dmesg:
        console.print(f"dmesg: {line}")
    for note in report.notes:
        console.print(f"note: {note}")
    for problem in report.problems:
        console.print(f"problem: {problem.source}: {problem.message}")
    return text + buffer.getvalue()
