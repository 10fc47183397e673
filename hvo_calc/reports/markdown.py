"""Markdown: a heading line, a pipe table (tabulate) per pool plus totals, then the
boot lines, reasons, notes and known kernel issues as a list. For pull-request comments and
wikis. Pool names are shown literally: escaped in table cells, code spans in the list."""

from tabulate import tabulate

from hvo_calc.models import NodeReport, PlanReport, PoolReport, Totals
from hvo_calc.reports.sentences import MARKDOWN, plan_sentences, plan_title
from hvo_calc.reports.text import markdown_text
from hvo_calc.units import human_size

HEADERS = (
    "pool",
    "hugepage size",
    "node",
    "hugepages",
    "vmemmap",
    "reserved",
    "freed",
    "page tables",
    "saved",
    "saved %",
    "HVO",
)
SHARED_TAIL = "shared tail"  # before "saved", only when some pool has shared tail pages (7.1+)

NODE_HEADERS = ("node", "memory", "hugepages", "pool size", "freed", "page tables", "saved")


def _row(name: str, size: str, node: str, item: PoolReport | Totals, shared_tail: bool) -> list[str]:
    tail = [human_size(item.shared_tail_bytes)] if shared_tail else []
    return [
        name,
        size,
        node,
        f"{item.hugepages:,}",
        human_size(item.vmemmap_bytes),
        human_size(item.reserved_bytes),
        human_size(item.freed_bytes),
        human_size(item.pagetable_bytes),
        *tail,
        human_size(item.saved_bytes),
        f"{item.saved_percent:.3f}%",
        "yes" if item.hvo_active else "no",
    ]


def _node_row(n: NodeReport, shared_tail: bool) -> list[str]:
    return [
        str(n.node),
        human_size(n.memory_bytes) if n.memory_bytes else "-",
        f"{n.hugepages:,}",
        human_size(n.pool_bytes),
        human_size(n.freed_bytes),
        human_size(n.pagetable_bytes),
        *([human_size(n.shared_tail_bytes)] if shared_tail else []),
        human_size(n.saved_bytes),
    ]


def _with_shared_tail(headers: tuple[str, ...], before: str, shared_tail: bool) -> tuple[str, ...]:
    at = headers.index(before)
    return headers[:at] + ((SHARED_TAIL,) if shared_tail else ()) + headers[at:]


def _table(rows: list[list[str]], headers: tuple[str, ...], left: int) -> str:
    align = ("left",) * left + ("right",) * (len(headers) - left)
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True, colalign=align)


def render(report: PlanReport) -> str:
    lines = [f"**HVO plan**: {plan_title(report, MARKDOWN)}", ""]
    shared_tail = any(p.shared_tail_pages for p in report.pools)
    rows = [_row(markdown_text(p.name), p.hugepage_size, str(p.node), p, shared_tail) for p in report.pools]
    rows.append(_row("**total**", "", "", report.totals, shared_tail))
    lines += [_table(rows, _with_shared_tail(HEADERS, "saved", shared_tail), left=3), ""]
    if len(report.nodes) > 1 or report.memory:
        node_tail = any(n.shared_tail_pages for n in report.nodes)
        node_rows = [_node_row(n, node_tail) for n in report.nodes]
        lines += [_table(node_rows, _with_shared_tail(NODE_HEADERS, "saved", node_tail), left=1), ""]
    items = []
    for sentence in plan_sentences(report, MARKDOWN):
        items.append(f"- {sentence.text}")
        items += [f"  - {sentence.detail}"] if sentence.detail else []
    if items:
        lines += [*items, ""]
    return "\n".join(lines)
