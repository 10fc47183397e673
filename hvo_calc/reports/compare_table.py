"""Compare for people: one row per scenario in two tables (the pools' vmemmap, then what the host
gains); under each figure of a scenario that is not the baseline, its difference from the baseline.
Reasons for scenarios that cannot exist follow."""

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from hvo_calc.compare.models import CompareReport
from hvo_calc.reports.compare_formats import HOST_COLUMNS, POOL_BASIS, POOL_COLUMNS, Columns, scenario_cells
from hvo_calc.reports.table import _encoding, text_console
from hvo_calc.reports.text import one_line

if TYPE_CHECKING:
    from rich.console import Console


def _grid(report: CompareReport, title: str, columns: Columns) -> object:
    from rich.table import Table

    grid = Table(title=title, title_justify="left")
    grid.add_column("#", justify="right")
    grid.add_column("scenario", justify="left")
    for heading, _ in columns:
        grid.add_column(heading, justify="right")
    for number, s in enumerate(report.scenarios, 1):
        name = one_line(s.name) + ("\n(baseline)" if s.name == report.baseline else "")
        grid.add_row(str(number), name, *scenario_cells(s, report.baseline, columns, "{figure}\n{delta}"))
    return grid


def _width() -> int | None:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def console_for(encoding: str | None) -> tuple["Console", Callable[[], str]]:
    """The plan table's console at the width COLUMNS gives, and what returns its text in the encoding."""
    encoding = _encoding(encoding)
    console, buffer = text_console(encoding)
    width = _width()
    if width:
        console.width = width

    def finish() -> str:
        lines = buffer.getvalue().encode(encoding, "replace").decode(encoding).split("\n")
        return "\n".join(line.rstrip() for line in lines)  # rich pads titles to the table's width

    return console, finish


def render(report: CompareReport, *, encoding: str | None = None) -> str:
    console, finish = console_for(encoding)
    # The shared tail column only where a scenario has one (7.1+), as in the plan's table.
    shared = any(s.figures and s.figures.shared_tail_bytes for s in report.scenarios)
    pool_columns = tuple(c for c in POOL_COLUMNS if shared or c[1] != "shared_tail_bytes")
    title = "HVO compare: vmemmap of the pools (under a figure: its difference from the baseline)"
    console.print(_grid(report, title, pool_columns))
    console.print(_grid(report, "what the host gains", HOST_COLUMNS))
    if report.pool_basis:
        console.print(POOL_BASIS[report.pool_basis], soft_wrap=True)
    for number, s in enumerate(report.scenarios, 1):
        if s.reason:
            console.print(one_line(f"{number} {s.name}: cannot exist: {s.reason}"), soft_wrap=True)
        elif s.no_hvo:
            console.print(one_line(f"{number} {s.name}: no HVO: {s.no_hvo}"), soft_wrap=True)
    return finish()
