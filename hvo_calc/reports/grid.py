"""Tables that fit the width they are given.

A table is declared as columns, each with its cells; a column with a `drop` rank is one the
table can do without. Where the whole table is wider than the console, columns go in the
order of their rank (a column with a `narrow` form takes it instead of going) until it fits;
the headings left out are named under the table, and `--wide` shows every column whatever
the width. A value is never wrapped or cut to make a table fit: it loses columns instead.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

Justify = Literal["left", "right"]


@dataclass(frozen=True)
class Column:
    """A heading and its cells, one per row (a cell may hold several lines)."""

    heading: str
    cells: Sequence[str]
    justify: Justify = "right"
    drop: int | None = None  # the order it goes in when the table is too wide; None: always shown
    narrow: "Column | None" = field(default=None)  # a narrower form, taken at `drop` instead of going


@dataclass(frozen=True)
class Grid:
    """A table to print: its title, columns and each row's style (None: plain)."""

    title: str
    columns: Sequence[Column]
    styles: Sequence[str | None] = ()


def table(grid: Grid, columns: Sequence[Column]) -> "Table":
    """The rich table of `grid` with `columns`."""
    from rich.table import Table

    shown = Table(title=grid.title, title_justify="left")
    for column in columns:
        shown.add_column(column.heading, justify=column.justify)
    rows = len(columns[0].cells) if columns else 0
    styles = list(grid.styles) + [None] * (rows - len(grid.styles))
    for index in range(rows):
        shown.add_row(*(column.cells[index] for column in columns), style=styles[index])
    return shown


def natural_width(console: "Console", shown: "Table") -> int:
    """The columns `shown` takes when nothing wraps."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update(max_width=1 << 20), shown).maximum


def _narrower(columns: Sequence[Column]) -> tuple[list[Column], str | None] | None:
    """`columns` less the next to go (or in its narrow form), and its heading; None when none can."""
    ranked = [c for c in columns if c.drop is not None]
    if not ranked:
        return None
    going = min(ranked, key=lambda c: c.drop or 0)
    if going.narrow is not None:
        return [going.narrow if c is going else c for c in columns], None
    return [c for c in columns if c is not going], going.heading


def fit(console: "Console", grid: Grid, *, wide: bool = False) -> tuple["Table", list[str]]:
    """The table of `grid` at the console's width, and the headings of the columns left out.
    With `wide`, every column in its full form, the console widened to hold it."""
    columns = list(grid.columns)
    left_out: list[str] = []
    shown = table(grid, columns)
    if wide:
        console.width = max(console.width, natural_width(console, shown))
        return shown, left_out
    while natural_width(console, shown) > console.width:
        narrower = _narrower(columns)
        if narrower is None:
            break
        columns, heading = narrower
        left_out += [heading] if heading else []
        shown = table(grid, columns)
    shown.expand = bool(left_out)  # a table that lost columns takes all the width it was given
    return shown, left_out


def left_out_line(headings: Sequence[str]) -> str:
    """The line under a table that lost columns to the width."""
    return f"not shown at this width: {', '.join(headings)} (--wide shows every column)"


def print_fitted(console: "Console", grid: Grid, *, wide: bool = False) -> None:
    """Print `grid` fitted to the console, and what it left out."""
    shown, left_out = fit(console, grid, wide=wide)
    console.print(shown)
    if left_out:
        console.print(left_out_line(left_out), soft_wrap=True)


def without_drop(column: Column) -> Column:
    """`column`, always shown."""
    return replace(column, drop=None, narrow=None)


def count_text(value: int | None) -> str:
    """A count with thousands separators; '-' when unknown."""
    return "-" if value is None else f"{value:,}"


def signed_text(value: int | None) -> str:
    """A difference with its sign; '-' when unknown."""
    return "-" if value is None else f"{value:+,}" if value else "0"
