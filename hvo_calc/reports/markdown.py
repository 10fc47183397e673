"""Markdown: a heading line, a pipe table (tabulate) per pool plus totals, then the
boot lines, reasons, notes and known kernel issues as a list. For pull-request comments and
wikis. Pool names are shown literally: escaped in table cells, code spans in the list."""

from tabulate import tabulate

from hvo_calc.models import KnownIssueReport, PlanReport, PoolReport, Totals
from hvo_calc.reports.text import markdown_code, markdown_text
from hvo_calc.units import human_size, short_size

HEADERS = (
    "pool",
    "hugepage size",
    "node",
    "hugepages",
    "vmemmap",
    "reserved pages",
    "freed pages",
    "page-table pages",
    "saved",
    "saved %",
    "HVO",
)
SHARED_TAIL = "shared tail pages"  # before "saved", only when some pool has shared tail pages (7.1+)

NODE_HEADERS = ("node", "memory", "hugepages", "pool size", "freed pages", "page-table pages", "saved")


def _row(name: str, size: str, node: str, item: PoolReport | Totals, shared_tail: bool) -> list[str]:
    tail = [f"{item.shared_tail_pages:,}"] if shared_tail else []
    return [
        name,
        size,
        node,
        f"{item.hugepages:,}",
        human_size(item.vmemmap_bytes),
        f"{item.reserved_pages:,}",
        f"{item.freed_pages:,}",
        f"{item.pagetable_pages:,}",
        *tail,
        human_size(item.saved_bytes),
        f"{item.saved_percent:.3f}%",
        "yes" if item.hvo_active else "no",
    ]


def _with_shared_tail(headers: tuple[str, ...], before: str, shared_tail: bool) -> tuple[str, ...]:
    at = headers.index(before)
    return headers[:at] + ((SHARED_TAIL,) if shared_tail else ()) + headers[at:]


def _kernel(report: PlanReport) -> str:
    host = report.host
    if host.kernel_release and host.kernel_release != host.kernel:
        return f"Linux {host.kernel} ({markdown_text(host.kernel_release)})"
    return f"Linux {host.kernel}"


def _known_issue(report: PlanReport, issue: KnownIssueReport) -> list[str]:
    release = markdown_text(report.host.kernel_release or report.host.kernel)
    affected = "" if issue.applies == "yes" else " may be affected"
    pools = (
        f"bites pools: {', '.join(markdown_code(name) for name in issue.pools)}"
        if issue.pools
        else "bites no pool of this plan"
    )
    return [
        f"- **WARNING**: Linux {release}{affected} ({issue.first} to {issue.last}): {issue.summary}; {pools}",
        f"  - {issue.detail} Source: {issue.source}. Id: `{issue.id}`.",
    ]


def render(report: PlanReport) -> str:
    host = report.host
    lines = [
        (
            f"**HVO plan**: {host.arch} {short_size(host.base_page_bytes)} pages, {_kernel(report)}, "
            f"struct page {host.struct_page_bytes} B, {host.placement} placement"
        ),
        "",
    ]
    shared_tail = any(p.shared_tail_pages for p in report.pools)
    headers = _with_shared_tail(HEADERS, "saved", shared_tail)
    rows = [_row(markdown_text(p.name), p.hugepage_size, str(p.node), p, shared_tail) for p in report.pools]
    rows.append(_row("**total**", "", "", report.totals, shared_tail))
    lines += [
        tabulate(
            rows,
            headers=headers,
            tablefmt="pipe",
            disable_numparse=True,
            colalign=("left",) * 3 + ("right",) * (len(headers) - 3),
        ),
        "",
    ]
    if len(report.nodes) > 1 or report.memory:
        node_tail = any(n.shared_tail_pages for n in report.nodes)
        node_rows = [
            [
                str(n.node),
                human_size(n.memory_bytes) if n.memory_bytes else "-",
                f"{n.hugepages:,}",
                human_size(n.pool_bytes),
                f"{n.freed_pages:,}",
                f"{n.pagetable_pages:,}",
                *([f"{n.shared_tail_pages:,}"] if node_tail else []),
                human_size(n.saved_bytes),
            ]
            for n in report.nodes
        ]
        lines += [
            tabulate(
                node_rows,
                headers=_with_shared_tail(NODE_HEADERS, "saved", node_tail),
                tablefmt="pipe",
                disable_numparse=True,
            ),
            "",
        ]
    items = []
    for pool in report.pools:
        name = markdown_code(pool.name)
        if pool.boot_line:
            items.append(f"- {name}: boot line: `{pool.boot_line}`")
        if pool.reason:
            items.append(f"- {name}: no HVO: {pool.reason}")
        if pool.would_free:
            w = pool.would_free
            items.append(
                f"- {name}: with HVO (as in Linux {w.kernel}) it would free "
                f"{w.freed_pages:,} pages and save {human_size(w.saved_bytes)}"
            )
        if pool.shrink:
            k = pool.shrink
            outcome = (
                "unknown without node memory"
                if k.succeeds is None
                else "succeeds"
                if k.succeeds
                else f"fails: {k.surplus_hugepages} hugepages stay as surplus"
            )
            items.append(
                f"- {name}: shrink to {k.shrink_to} needs {human_size(k.restore_bytes)} ({k.policy}): {outcome}"
            )
    if report.memory:
        m = report.memory
        head_copy = (
            "; each hugepage's head vmemmap page copy is mandatory on this kernel: a hugepage whose copy "
            "cannot be allocated stays unoptimized"
            if host.head_copy_mandatory and any(p.hvo_active for p in report.pools)
            else ""
        )
        items.append(
            f"- memory: struct pages {m.vmemmap_percent_before:.3f}% of RAM without HVO, "
            f"{m.vmemmap_percent_after:.3f}% with it; MemTotal +{human_size(m.memtotal_gain_bytes)}, "
            f"MemFree +{human_size(m.memfree_gain_bytes)}; transient peak while allocating "
            f"{human_size(m.peak_transient_bytes)}{head_copy}"
        )
    items += [f"- note: {note}" for note in host.notes]
    if host.hvo_enable_hint:
        items.append(f"- HVO: {host.hvo_enable_hint}")
    for issue in report.known_issues:
        items += _known_issue(report, issue)
    if items:
        lines += [*items, ""]
    return "\n".join(lines)
