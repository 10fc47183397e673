"""The human view: a rich table per plan, the kernel's boot lines, and the reasons.

Everything from the report is shown literally: the console reads no markup, emoji codes or
highlighting, and names are kept on one line (`text.one_line`). The text is made for an
encoding (stdout's unless told): where it has no box-drawing characters the table is drawn
in ASCII, and any character it cannot carry is replaced, so a Latin-1 or ASCII console gets
text it can print.
"""

import io
import sys
from typing import TYPE_CHECKING

from hvo_calc.models import NodeReport, PlanReport, PoolReport, Totals
from hvo_calc.reports.grid import Column, Grid, print_fitted
from hvo_calc.reports.sentences import PLAIN, plan_sentences, plan_title
from hvo_calc.reports.text import one_line
from hvo_calc.units import human_size

if TYPE_CHECKING:
    from rich.console import Console

SHARED_TAIL = "shared tail"  # a column before "saved", only when some pool has shared tail pages (7.1+)


class _Buffer(io.StringIO):
    """A string buffer that tells rich which encoding its text is meant for."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def plan_grid(report: PlanReport, title: str) -> Grid:
    """The pools and their total; the columns that go first when it is too wide: vmemmap pages
    each, shared tail, the pool's size and node, page tables, saved %, reserved."""
    items: list[PoolReport | Totals] = [*report.pools, report.totals]
    names = [one_line(pool.name) for pool in report.pools] + ["total"]
    each = [f"{p.per_hugepage.vmemmap_pages}, {p.per_hugepage.freed_pages} freed" for p in report.pools] + [""]
    where = [f"{name} ({p.hugepage_size}, node {p.node})" for name, p in zip(names, report.pools)] + ["total"]
    shared_tail = any(pool.shared_tail_pages for pool in report.pools)
    sizes = [
        Column("vmemmap", [human_size(i.vmemmap_bytes) for i in items]),
        Column("reserved", [human_size(i.reserved_bytes) for i in items], drop=6),
        Column("freed", [human_size(i.freed_bytes) for i in items]),
        Column("page tables", [human_size(i.pagetable_bytes) for i in items], drop=4),
        *([Column(SHARED_TAIL, [human_size(i.shared_tail_bytes) for i in items], drop=2)] if shared_tail else []),
        Column("saved", [human_size(i.saved_bytes) for i in items]),
        Column("saved %", [f"{i.saved_percent:.3f}%" for i in items], drop=5),
    ]
    columns = [
        Column("pool", where, "left", drop=3, narrow=Column("pool", names, "left")),
        Column("hugepages", [f"{i.hugepages:,}" for i in items]),
        Column("vmemmap pages each", each, drop=1),
        *sizes,
    ]
    return Grid(title, columns, [None] * len(report.pools) + ["bold"])


def _encoding(encoding: str | None) -> str:
    name = encoding or getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def text_console(encoding: str | None = None) -> tuple["Console", io.StringIO]:
    """A rich console writing to a buffer for stdout, made by `hvo_calc.console` (colour, width
    and terminal as COLUMNS, NO_COLOR, FORCE_COLOR and TTY_COMPATIBLE say); every string is
    printed literally (names and host files are not markup)."""
    from hvo_calc.console import make_console

    buffer = _Buffer(_encoding(encoding))
    return make_console(buffer), buffer


def render(report: PlanReport, *, encoding: str | None = None, wide: bool = False) -> str:
    """The report as a rich table, styled as `hvo_calc.console` decides for stdout.

    `encoding` is the encoding the text will be written in (default: stdout's); the result
    always encodes in it.
    """
    encoding = _encoding(encoding)
    console, buffer = text_console(encoding)
    print_fitted(console, plan_grid(report, one_line(f"HVO plan: {plan_title(report)}")), wide=wide)
    if len(report.nodes) > 1 or report.memory:
        print_fitted(console, nodes_grid(report.nodes), wide=wide)
    for sentence in plan_sentences(report, PLAIN):  # one line each, however long: grep finds it
        console.print(sentence.text, soft_wrap=True, style="bold yellow" if sentence.warning else None)
    text = buffer.getvalue()
    return text.encode(encoding, "replace").decode(encoding)


def nodes_grid(nodes: list[NodeReport]) -> Grid:
    """The pools summed per node; shared tail, page tables, pools and free go first when too wide."""
    shared_tail = any(n.shared_tail_pages for n in nodes)
    columns = [
        Column("node", [str(n.node) for n in nodes]),
        Column("memory", [human_size(n.memory_bytes) if n.memory_bytes else "-" for n in nodes]),
        Column("pools", [str(n.pools) for n in nodes], drop=3),
        Column("hugepages", [f"{n.hugepages:,}" for n in nodes]),
        Column("pool size", [human_size(n.pool_bytes) for n in nodes]),
        Column("freed", [human_size(n.freed_bytes) for n in nodes]),
        Column("page tables", [human_size(n.pagetable_bytes) for n in nodes], drop=2),
        *([Column(SHARED_TAIL, [human_size(n.shared_tail_bytes) for n in nodes], drop=1)] if shared_tail else []),
        Column("saved", [human_size(n.saved_bytes) for n in nodes]),
        Column("free", [human_size(n.free_bytes) if n.free_bytes is not None else "-" for n in nodes], drop=4),
    ]
    return Grid("per node", columns)
