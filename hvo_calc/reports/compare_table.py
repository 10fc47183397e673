"""Compare for people: one row per scenario in two tables (the pools' vmemmap, then what the host
gains); under each figure of a scenario that is not the baseline, its difference from the baseline.
Reasons for scenarios that cannot exist follow."""

from collections.abc import Callable
from typing import TYPE_CHECKING

from hvo_calc.compare.models import CompareReport
from hvo_calc.reports.compare_formats import HOST_COLUMNS, POOL_BASIS, POOL_COLUMNS, Columns, scenario_cells
from hvo_calc.reports.grid import Column, Grid, print_fitted
from hvo_calc.reports.table import _encoding, text_console
from hvo_calc.reports.text import one_line

if TYPE_CHECKING:
    from rich.console import Console


# The table's headings where the markdown's are too wide for a terminal.
TABLE_HEADINGS = {"vmemmap_percent_before": "struct pages before", "vmemmap_percent_after": "after"}
# The order the columns go in when a table is too wide (the others stay).
DROP = {"shared_tail_bytes": 1, "pagetable_bytes": 2, "reserved_bytes": 3, "memfree_gain_bytes": 1}


def _grid(report: CompareReport, title: str, columns: Columns) -> Grid:
    names = [one_line(s.name) + ("\n(baseline)" if s.name == report.baseline else "") for s in report.scenarios]
    rows = [scenario_cells(s, report.baseline, columns, "{figure}\n{delta}") for s in report.scenarios]
    shown = [
        Column("#", [str(number) for number in range(1, len(names) + 1)]),
        Column("scenario", names, "left"),
        *(
            Column(TABLE_HEADINGS.get(field, heading), [row[i] for row in rows], drop=DROP.get(field))
            for i, (heading, field) in enumerate(columns)
        ),
    ]
    return Grid(title, shown)


def console_for(encoding: str | None) -> tuple["Console", Callable[[], str]]:
    """A console for stdout, and what returns its text in the encoding, each line's trailing
    blanks removed (rich pads titles to the table's width)."""
    encoding = _encoding(encoding)
    console, buffer = text_console(encoding)

    def finish() -> str:
        lines = buffer.getvalue().encode(encoding, "replace").decode(encoding).split("\n")
        return "\n".join(line.rstrip() for line in lines)

    return console, finish


def render(report: CompareReport, *, encoding: str | None = None, wide: bool = False) -> str:
    console, finish = console_for(encoding)
    # The shared tail column only where a scenario has one (7.1+), as in the plan's table.
    shared = any(s.figures and s.figures.shared_tail_bytes for s in report.scenarios)
    pool_columns = tuple(c for c in POOL_COLUMNS if shared or c[1] != "shared_tail_bytes")
    title = "HVO compare: vmemmap of the pools (under a figure: its difference from the baseline)"
    print_fitted(console, _grid(report, title, pool_columns), wide=wide)
    print_fitted(
        console, _grid(report, "what the host gains (struct pages: their share of RAM)", HOST_COLUMNS), wide=wide
    )
    if report.pool_basis:
        console.print(POOL_BASIS[report.pool_basis], soft_wrap=True)
    for number, s in enumerate(report.scenarios, 1):
        if s.reason:
            console.print(one_line(f"{number} {s.name}: cannot exist: {s.reason}"), soft_wrap=True)
        elif s.no_hvo:
            console.print(one_line(f"{number} {s.name}: no HVO: {s.no_hvo}"), soft_wrap=True)
    return finish()
