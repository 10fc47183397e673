"""The human view: a rich table per plan, the kernel's boot lines, and the reasons.

Everything from the report is shown literally: the console reads no markup, emoji codes or
highlighting, and names are kept on one line (`text.one_line`). The text is made for an
encoding (stdout's unless told): where it has no box-drawing characters the table is drawn
in ASCII, and any character it cannot carry is replaced, so a Latin-1 or ASCII console gets
text it can print.
"""

import functools
import io
import sys
from typing import TYPE_CHECKING

from hvo_calc.models import KnownIssueReport, NodeReport, PlanReport, PoolReport, ShrinkReport, Totals
from hvo_calc.reports.grid import Column, Grid, print_fitted
from hvo_calc.reports.text import one_line
from hvo_calc.units import human_size, short_size

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


def _pages(pages: int, size_bytes: int) -> str:
    return f"{pages:,} pages ({human_size(size_bytes)})"


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


def kernel_title(report: PlanReport) -> str:
    """ "Linux 6.12", and the release as given where it says more: "Linux 6.12 (6.12.117+deb13-amd64)"."""
    host = report.host
    if host.kernel_release and host.kernel_release != host.kernel:
        return f"Linux {host.kernel} ({host.kernel_release})"
    return f"Linux {host.kernel}"


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
    host = report.host
    encoding = _encoding(encoding)
    title = one_line(
        f"HVO plan: {host.arch} {short_size(host.base_page_bytes)} pages, {kernel_title(report)}, "
        f"struct page {host.struct_page_bytes} B, {host.placement} placement"
    )
    console, buffer = text_console(encoding)
    print_fitted(console, plan_grid(report, title), wide=wide)
    line = functools.partial(console.print, soft_wrap=True)  # one line each, however long: grep finds it
    for pool in report.pools:
        name = one_line(pool.name)
        if pool.boot_line:
            line(f"{name}: boot line: {pool.boot_line}")
        if pool.reason:
            line(f"{name}: no HVO: {pool.reason}")
        if pool.would_free:
            w = pool.would_free
            line(
                f"{name}: with HVO (as in Linux {w.kernel}) it would free "
                f"{_pages(w.freed_pages, pool.would_free_bytes)} and save "
                f"{_pages(w.saved_pages, w.saved_bytes)}"
            )
    for pool in report.pools:
        if pool.shrink:
            line(_shrink_line(pool.name, pool.shrink))
    if len(report.nodes) > 1 or report.memory:
        print_fitted(console, nodes_grid(report.nodes), wide=wide)
    if report.memory:
        m = report.memory
        line(
            f"memory: struct pages take {human_size(m.vmemmap_bytes_before)} ({m.vmemmap_percent_before:.3f}% of "
            f"{human_size(m.memory_bytes)}) without HVO, {human_size(m.vmemmap_bytes_after)} "
            f"({m.vmemmap_percent_after:.3f}%) with it; MemTotal gains {human_size(m.memtotal_gain_bytes)}, "
            f"MemFree {human_size(m.memfree_gain_bytes)}; transient peak while allocating "
            f"{human_size(m.peak_transient_bytes)}{head_copy_clause(report)}"
        )
    for note in host.notes:
        line(f"note: {note}")
    if host.hvo_enable_hint:
        line(f"HVO: {host.hvo_enable_hint}")
    for issue in report.known_issues:
        line(known_issue_line(report, issue), style="bold yellow")
    text = buffer.getvalue()
    return text.encode(encoding, "replace").decode(encoding)


def head_copy_clause(report: PlanReport) -> str:
    """What the transient peak means for the head copy, where the kernel makes it mandatory (7.1+)."""
    if report.host.head_copy_mandatory and any(pool.hvo_active for pool in report.pools):
        return (
            "; each hugepage's head vmemmap page copy is mandatory on this kernel: a hugepage whose copy "
            "cannot be allocated stays unoptimized"
        )
    return ""


def known_issue_line(report: PlanReport, issue: KnownIssueReport) -> str:
    """`WARNING: Linux 6.12.117 (6.12.115 to 6.12.118): <summary>; bites pools: a, b`."""
    release = report.host.kernel_release or report.host.kernel
    affected = "" if issue.applies == "yes" else " may be affected"
    pools = (
        f"bites pools: {', '.join(one_line(name) for name in issue.pools)}"
        if issue.pools
        else "bites no pool of this plan"
    )
    return one_line(f"WARNING: Linux {release}{affected} ({issue.first} to {issue.last}): {issue.summary}; {pools}")


def _shrink_line(name: str, s: ShrinkReport) -> str:
    head = (
        f"{one_line(name)}: shrink to {s.shrink_to} releases {s.hugepages_released} hugepages; the restore "
        f"needs {human_size(s.restore_bytes)} ({s.policy} allocation)"
    )
    if s.succeeds is None or s.available_bytes is None:
        return head + "; give node memory to check it"
    if s.succeeds:
        return head + f": succeeds ({human_size(s.available_bytes)} free)"
    return head + (
        f": FAILS, {human_size(s.missing_bytes)} short; {s.surplus_hugepages} hugepages stay as "
        f"surplus; {s.pagetable_pages_kept} split page tables are kept either way"
    )


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
