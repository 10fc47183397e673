"""Markdown: a heading line, a pipe table (tabulate) per pool plus totals, then the
boot lines, reasons and notes as a list. For pull-request comments and wikis."""

from tabulate import tabulate

from hvo_calc.models import PlanReport, PoolReport, Totals
from hvo_calc.units import human_size, short_size

HEADERS = ("pool", "hugepage size", "node", "hugepages", "vmemmap", "reserved pages", "freed pages",
           "page-table pages", "saved", "saved %", "HVO")


def _row(name: str, size: str, node: str, item: PoolReport | Totals) -> list[str]:
    return [name, size, node, f"{item.hugepages:,}", human_size(item.vmemmap_bytes), f"{item.reserved_pages:,}",
            f"{item.freed_pages:,}", f"{item.pagetable_pages:,}", human_size(item.saved_bytes),
            f"{item.saved_percent:.3f}%", "yes" if item.hvo_active else "no"]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(report: PlanReport) -> str:
    host = report.host
    lines = [f"**HVO plan**: {host.arch} {short_size(host.base_page_bytes)} pages, Linux {host.kernel}, "
             f"struct page {host.struct_page_bytes} B, {host.placement} placement", ""]
    rows = [_row(_escape(p.name), p.hugepage_size, str(p.node), p) for p in report.pools]
    rows.append(_row("**total**", "", "", report.totals))
    lines += [tabulate(rows, headers=HEADERS, tablefmt="pipe", disable_numparse=True,
                       colalign=("left",) * 3 + ("right",) * 8), ""]
    items = []
    for pool in report.pools:
        if pool.boot_line:
            items.append(f"- `{pool.name}`: boot line: `{pool.boot_line}`")
        if pool.reason:
            items.append(f"- `{pool.name}`: no HVO: {pool.reason}")
        if pool.would_free:
            w = pool.would_free
            items.append(f"- `{pool.name}`: with HVO (as in Linux {w.kernel}) it would free "
                         f"{w.freed_pages:,} pages and save {human_size(w.saved_bytes)}")
    items += [f"- note: {note}" for note in host.notes]
    if items:
        lines += [*items, ""]
    return "\n".join(lines)
