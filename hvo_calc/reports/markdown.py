"""Markdown: a heading line, a pipe table (tabulate) per pool plus totals, then the
boot lines, reasons and notes as a list. For pull-request comments and wikis."""

from tabulate import tabulate

from hvo_calc.models import PlanReport, PoolReport, Totals
from hvo_calc.units import human_size, short_size

HEADERS = ("pool", "hugepage size", "node", "hugepages", "vmemmap", "reserved pages", "freed pages",
           "page-table pages", "saved", "saved %", "HVO")


NODE_HEADERS = ("node", "memory", "hugepages", "pool size", "freed pages", "page-table pages", "saved")


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
    if len(report.nodes) > 1 or report.memory:
        node_rows = [[str(n.node), human_size(n.memory_bytes) if n.memory_bytes else "-", f"{n.hugepages:,}",
                      human_size(n.pool_bytes), f"{n.freed_pages:,}", f"{n.pagetable_pages:,}", human_size(n.saved_bytes)]
                     for n in report.nodes]
        lines += [tabulate(node_rows, headers=NODE_HEADERS, tablefmt="pipe", disable_numparse=True), ""]
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
        if pool.shrink:
            k = pool.shrink
            outcome = "unknown without node memory" if k.succeeds is None else \
                "succeeds" if k.succeeds else f"fails: {k.surplus_hugepages} hugepages stay as surplus"
            items.append(f"- `{pool.name}`: shrink to {k.shrink_to} needs {human_size(k.restore_bytes)} "
                         f"({k.policy}): {outcome}")
    if report.memory:
        m = report.memory
        items.append(f"- memory: struct pages {m.vmemmap_percent_before:.3f}% of RAM without HVO, "
                     f"{m.vmemmap_percent_after:.3f}% with it; MemTotal +{human_size(m.memtotal_gain_bytes)}, "
                     f"MemFree +{human_size(m.memfree_gain_bytes)}")
    items += [f"- note: {note}" for note in host.notes]
    if items:
        lines += [*items, ""]
    return "\n".join(lines)
