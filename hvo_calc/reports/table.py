"""The human view: a rich table per plan, the kernel's boot lines, and the reasons."""

import io
import os
import sys

from hvo_calc.models import PlanReport, PoolReport, Totals
from hvo_calc.units import human_size, short_size

COLUMNS = ("pool", "hugepages", "vmemmap pages each", "vmemmap", "reserved", "freed",
           "page tables", "saved", "saved %")


def _pages(pages: int, page_bytes: int) -> str:
    return f"{pages:,} pages ({human_size(pages * page_bytes)})"


def _row(name: str, item: PoolReport | Totals, per_hugepage: str) -> list[str]:
    page = item.base_page_bytes
    return [
        name, f"{item.hugepages:,}", per_hugepage, human_size(item.vmemmap_bytes),
        human_size(item.reserved_pages * page), human_size(item.freed_pages * page),
        human_size(item.pagetable_pages * page), human_size(item.saved_bytes), f"{item.saved_percent:.3f}%",
    ]


def render(report: PlanReport) -> str:
    """The report as a rich table; colour only on a terminal and without NO_COLOR."""
    from rich.console import Console
    from rich.table import Table

    host = report.host
    title = (f"HVO plan: {host.arch} {short_size(host.base_page_bytes)} pages, Linux {host.kernel}, "
             f"struct page {host.struct_page_bytes} B, {host.placement} placement")
    grid = Table(title=title, title_justify="left")
    for column in COLUMNS:
        grid.add_column(column, justify="left" if column == "pool" else "right")
    for pool in report.pools:
        each = pool.per_hugepage
        grid.add_row(*_row(f"{pool.name} ({pool.hugepage_size}, node {pool.node})", pool,
                           f"{each.vmemmap_pages}, {each.freed_pages} freed"))
    grid.add_row(*_row("total", report.totals, ""), style="bold")

    buffer = io.StringIO()
    tty = sys.stdout.isatty()
    console = Console(file=buffer, force_terminal=tty, no_color=bool(os.environ.get("NO_COLOR")) or not tty,
                      width=None if tty else 160)
    console.print(grid)
    for pool in report.pools:
        if pool.boot_line:
            console.print(f"{pool.name}: boot line: {pool.boot_line}", highlight=False)
        if pool.reason:
            console.print(f"{pool.name}: no HVO: {pool.reason}", highlight=False)
        if pool.would_free:
            w = pool.would_free
            console.print(f"{pool.name}: with HVO (as in Linux {w.kernel}) it would free "
                          f"{_pages(w.freed_pages, pool.base_page_bytes)} and save "
                          f"{_pages(w.saved_pages, pool.base_page_bytes)}", highlight=False)
    for pool in report.pools:
        if pool.shrink:
            console.print(_shrink_line(pool), highlight=False)
    if len(report.nodes) > 1 or report.memory:
        console.print(_nodes_table(report))
    if report.memory:
        m = report.memory
        console.print(
            f"memory: struct pages take {human_size(m.vmemmap_bytes_before)} ({m.vmemmap_percent_before:.3f}% of "
            f"{human_size(m.memory_bytes)}) without HVO, {human_size(m.vmemmap_bytes_after)} "
            f"({m.vmemmap_percent_after:.3f}%) with it; MemTotal gains {human_size(m.memtotal_gain_bytes)}, "
            f"MemFree {human_size(m.memfree_gain_bytes)}; transient peak while allocating "
            f"{human_size(m.peak_transient_bytes)}", highlight=False)
    for note in host.notes:
        console.print(f"note: {note}", highlight=False)
    return buffer.getvalue()


def _shrink_line(pool: PoolReport) -> str:
    s = pool.shrink
    head = (f"{pool.name}: shrink to {s.shrink_to} releases {s.hugepages_released} hugepages; the restore "
            f"needs {human_size(s.restore_bytes)} ({s.policy} allocation)")
    if s.succeeds is None:
        return head + "; give node memory to check it"
    if s.succeeds:
        return head + f": succeeds ({human_size(s.available_bytes)} free)"
    return head + (f": FAILS, {human_size(s.missing_bytes)} short; {s.surplus_hugepages} hugepages stay as "
                   f"surplus; {s.pagetable_pages_kept} split page tables are kept either way")


def _nodes_table(report: PlanReport):
    from rich.table import Table

    grid = Table(title="per node", title_justify="left")
    for column in ("node", "memory", "pools", "hugepages", "pool size", "freed", "page tables", "saved", "free"):
        grid.add_column(column, justify="right")
    page = report.host.base_page_bytes
    for n in report.nodes:
        grid.add_row(str(n.node), human_size(n.memory_bytes) if n.memory_bytes else "-", str(n.pools),
                     f"{n.hugepages:,}", human_size(n.pool_bytes), human_size(n.freed_pages * page),
                     human_size(n.pagetable_pages * page), human_size(n.saved_bytes),
                     human_size(n.free_bytes) if n.free_bytes is not None else "-")
    return grid
