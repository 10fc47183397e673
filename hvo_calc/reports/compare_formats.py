"""The columns the compare renderers share (the figure each shows, in the report's order), and
how a figure and its difference from the baseline read."""

from typing import TYPE_CHECKING

from hvo_calc.units import human_size

if TYPE_CHECKING:
    from hvo_calc.compare.models import Scenario

Columns = tuple[tuple[str, str], ...]

_MODULES = {
    "table": "compare_table",
    "json": "compare_json",
    "csv": "compare_csv",
    "markdown": "compare_markdown",
    "prometheus": "compare_prometheus",
}

# (column heading, field of Figures): bytes, except the shares of RAM (percent). The pools'
# vmemmap first, then what the host gains (the table shows them as two tables).
POOL_COLUMNS: Columns = (
    ("vmemmap", "vmemmap_bytes"),
    ("reserved", "reserved_bytes"),
    ("freed", "freed_bytes"),
    ("page tables", "pagetable_bytes"),
    ("shared tail", "shared_tail_bytes"),
    ("saved", "saved_bytes"),
)
HOST_COLUMNS: Columns = (
    ("MemTotal gain", "memtotal_gain_bytes"),
    ("MemFree gain", "memfree_gain_bytes"),
    ("struct pages of RAM, before HVO", "vmemmap_percent_before"),
    ("after", "vmemmap_percent_after"),
)
COLUMNS = POOL_COLUMNS + HOST_COLUMNS
PERCENT_FIELDS = frozenset({"vmemmap_percent_before", "vmemmap_percent_after"})
POOL_BASIS = {
    "memory": "pools given by size keep their memory as --huge varies (the hugepage count follows)",
    "count": "pools given by count keep their count as --huge varies (their memory follows)",
}


def figure_text(field: str, value: int | float | None, signed: bool = False) -> str:
    """A figure as people read it: a binary size, or a share of RAM in percent; '-' when unknown."""
    if value is None:
        return "-"
    sign = "+" if signed and value > 0 else ""
    if field in PERCENT_FIELDS:
        return f"{sign}{value:.3f}%"
    return f"{sign}{human_size(int(value))}"


def scenario_cells(scenario: "Scenario", baseline: str, columns: Columns, delta_format: str) -> list[str]:
    """A scenario's figures, each followed (`delta_format`: "{figure} ({delta})") by its
    difference from the baseline, except on the baseline's own row; one cell for an impossible one."""
    if scenario.figures is None or scenario.delta is None:
        return ["cannot exist"] + [""] * (len(columns) - 1)
    cells = []
    for _, field in columns:
        text = figure_text(field, getattr(scenario.figures, field))
        change = getattr(scenario.delta, field)
        if scenario.name != baseline and change is not None:
            text = delta_format.format(figure=text, delta=figure_text(field, change, signed=True))
        cells.append(text)
    return cells
