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

from hvo_calc.models import KnownIssueReport, PlanReport, PoolReport, ShrinkReport, Totals
from hvo_calc.reports.text import one_line
from hvo_calc.units import human_size, short_size

COLUMNS = ("pool", "hugepages", "vmemmap pages each", "vmemmap", "reserved", "freed", "page tables", "saved", "saved %")
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


def _pages(pages: int, page_bytes: int) -> str:
    return f"{pages:,} pages ({human_size(pages * page_bytes)})"


def _row(name: str, item: PoolReport | Totals, per_hugepage: str, shared_tail: bool) -> list[str]:
    page = item.base_page_bytes
    tail = [human_size(item.shared_tail_pages * page)] if shared_tail else []
    return [
        name,
        f"{item.hugepages:,}",
        per_hugepage,
        human_size(item.vmemmap_bytes),
        human_size(item.reserved_pages * page),
        human_size(item.freed_pages * page),
        human_size(item.pagetable_pages * page),
        *tail,
        human_size(item.saved_bytes),
        f"{item.saved_percent:.3f}%",
    ]


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


def render(report: PlanReport, *, encoding: str | None = None) -> str:
    """The report as a rich table, styled as `hvo_calc.console` decides for stdout.

    `encoding` is the encoding the text will be written in (default: stdout's); the result
    always encodes in it.
    """
    from rich.table import Table

    host = report.host
    encoding = _encoding(encoding)
    title = one_line(
        f"HVO plan: {host.arch} {short_size(host.base_page_bytes)} pages, {kernel_title(report)}, "
        f"struct page {host.struct_page_bytes} B, {host.placement} placement"
    )
    shared_tail = any(pool.shared_tail_pages for pool in report.pools)
    grid = Table(title=title, title_justify="left")
    for column in COLUMNS[:7] + ((SHARED_TAIL,) if shared_tail else ()) + COLUMNS[7:]:
        grid.add_column(column, justify="left" if column == "pool" else "right")
    for pool in report.pools:
        each = pool.per_hugepage
        grid.add_row(
            *_row(
                f"{one_line(pool.name)} ({pool.hugepage_size}, node {pool.node})",
                pool,
                f"{each.vmemmap_pages}, {each.freed_pages} freed",
                shared_tail,
            )
        )
    grid.add_row(*_row("total", report.totals, "", shared_tail), style="bold")

    console, buffer = text_console(encoding)
    console.print(grid)
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
                f"{_pages(w.freed_pages, pool.base_page_bytes)} and save "
                f"{_pages(w.saved_pages, pool.base_page_bytes)}"
            )
    for pool in report.pools:
        if pool.shrink:
            line(_shrink_line(pool.name, pool.shrink))
    if len(report.nodes) > 1 or report.memory:
        console.print(_nodes_table(report))
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


def _nodes_table(report: PlanReport):
    from rich.table import Table

    shared_tail = any(n.shared_tail_pages for n in report.nodes)
    grid = Table(title="per node", title_justify="left")
    for column in (
        "node",
        "memory",
        "pools",
        "hugepages",
        "pool size",
        "freed",
        "page tables",
        *((SHARED_TAIL,) if shared_tail else ()),
        "saved",
        "free",
    ):
        grid.add_column(column, justify="right")
    page = report.host.base_page_bytes
    for n in report.nodes:
        tail = [human_size(n.shared_tail_pages * page)] if shared_tail else []
        grid.add_row(
            str(n.node),
            human_size(n.memory_bytes) if n.memory_bytes else "-",
            str(n.pools),
            f"{n.hugepages:,}",
            human_size(n.pool_bytes),
            human_size(n.freed_pages * page),
            human_size(n.pagetable_pages * page),
            *tail,
            human_size(n.saved_bytes),
            human_size(n.free_bytes) if n.free_bytes is not None else "-",
        )
    return grid
