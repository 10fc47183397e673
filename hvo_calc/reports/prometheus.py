"""Prometheus: node_exporter textfile-collector format (text exposition format 0.0.4).

Every metric is a gauge in base units (`_bytes`, `_pages`, plain counts), with HELP and
TYPE lines. Pool series carry the labels arch, node, hugepage_size and pool; the totals
(`hvo_calc_total_*`) carry arch only, so `sum()` over pool series never double counts.
Percentages are left out: divide the bytes in PromQL. `hvo_calc_build_info` is always 1
and names the tool version, the report's schema version, the modelled kernel and the release
as given. `hvo_calc_known_issue` is 1 per known kernel problem of the plan (none: no series),
so a dashboard or an alert can show it. Label values are escaped as the exposition format
says (backslash, double quote, newline) and are otherwise the report's text, byte for byte.
Series come in the report's order, so the same plan gives the same bytes.
"""

from hvo_calc import __version__
from hvo_calc.models import PlanReport

PREFIX = "hvo_calc"

# (field of PoolReport, metric name, help)
POOL_METRICS = (
    ("hugepages", "pool_hugepages", "Hugepages in the pool."),
    ("hugepage_bytes", "pool_hugepage_bytes", "Size of one hugepage of the pool, in bytes."),
    ("pool_bytes", "pool_bytes", "Bytes of all hugepages of the pool."),
    ("hvo_active", "pool_hvo_active", "1 when HVO optimizes the pool's vmemmap, else 0."),
    ("vmemmap_pages", "pool_vmemmap_pages", "Base pages of vmemmap (struct pages) of the pool before HVO."),
    ("vmemmap_bytes", "pool_vmemmap_bytes", "Bytes of vmemmap of the pool before HVO."),
    ("reserved_pages", "pool_reserved_pages", "Vmemmap pages HVO keeps mapped for the pool."),
    ("freed_pages", "pool_freed_pages", "Vmemmap pages HVO frees for the pool."),
    ("pagetable_pages", "pool_pagetable_pages", "Page-table pages spent splitting the pool's vmemmap mappings."),
    ("saved_pages", "pool_saved_pages", "Net pages saved for the pool: freed less page tables and the shared tail."),
    ("saved_bytes", "pool_saved_bytes", "Net bytes saved for the pool: freed less page tables and the shared tail."),
    ("split_pmds", "pool_split_pmds", "Vmemmap PMD mappings split into PTEs for the pool."),
    ("tlb_flushes", "pool_tlb_flushes", "TLB flushes the remap of the pool took in the simulation."),
    (
        "shared_tail_pages",
        "pool_shared_tail_pages",
        (
            "Shared read-only tail vmemmap pages the pool allocated (7.1+: one per node, zone and hugepage order, "
            "charged to the first pool of its kind); 0 on older kernels."
        ),
    ),
    (
        "memmap_pages",
        "pool_memmap_pages",
        "Vmemmap pages the pool holds from the buddy allocator, as /proc/vmstat nr_memmap_pages counts them (6.11+).",
    ),
    (
        "memmap_boot_freed_pages",
        "pool_memmap_boot_freed_pages",
        (
            "Boot-memory vmemmap pages the pool's HVO freed or never populated: what it takes off /proc/vmstat "
            "nr_memmap_boot_pages (6.11+)."
        ),
    ),
)
PER_HUGEPAGE_METRICS = (
    ("struct_pages", "hugepage_struct_pages", "Struct pages describing one hugepage of the pool."),
    ("vmemmap_pages", "hugepage_vmemmap_pages", "Whole vmemmap pages of one hugepage of the pool."),
    ("reserved_pages", "hugepage_reserved_pages", "Vmemmap pages HVO keeps mapped per hugepage."),
    ("freed_pages", "hugepage_freed_pages", "Vmemmap pages HVO frees per hugepage."),
)
NODE_METRICS = (
    ("hugepages", "node_hugepages", "Hugepages in all pools of the NUMA node."),
    ("pool_bytes", "node_pool_bytes", "Bytes of all hugepages of the NUMA node."),
    ("freed_pages", "node_freed_pages", "Vmemmap pages HVO frees on the NUMA node."),
    ("pagetable_pages", "node_pagetable_pages", "Page-table pages spent on splits on the NUMA node."),
    ("saved_bytes", "node_saved_bytes", "Net bytes saved on the NUMA node."),
    ("shared_tail_pages", "node_shared_tail_pages", "Shared read-only tail vmemmap pages on the NUMA node (7.1+)."),
)
MEMORY_METRICS = (
    ("vmemmap_bytes_before", "host_vmemmap_bytes_before", "Struct pages of all host RAM without HVO, in bytes."),
    ("vmemmap_bytes_after", "host_vmemmap_bytes_after", "Struct pages of all host RAM with HVO, in bytes."),
    ("memtotal_gain_bytes", "host_memtotal_gain_bytes", "What MemTotal gains from HVO, in bytes."),
    ("memfree_gain_bytes", "host_memfree_gain_bytes", "What MemFree gains from HVO, in bytes."),
    (
        "peak_transient_bytes",
        "host_peak_transient_bytes",
        "Largest vmemmap peak above steady state while a pool is allocated.",
    ),
)
SHRINK_METRICS = (
    ("restore_bytes", "pool_shrink_restore_bytes", "Memory the restore path needs to shrink the pool."),
    ("surplus_hugepages", "pool_shrink_surplus_hugepages", "Hugepages the shrink would leave as surplus."),
    ("missing_bytes", "pool_shrink_missing_bytes", "Free memory missing for the shrink to succeed."),
)
TOTAL_METRICS = (
    ("hugepages", "total_hugepages", "Hugepages in all pools."),
    ("pool_bytes", "total_pool_bytes", "Bytes of all hugepages of all pools."),
    ("hvo_active", "total_hvo_active", "1 when HVO optimizes every pool, else 0."),
    ("vmemmap_bytes", "total_vmemmap_bytes", "Bytes of vmemmap of all pools before HVO."),
    ("reserved_pages", "total_reserved_pages", "Vmemmap pages HVO keeps mapped, all pools."),
    ("freed_pages", "total_freed_pages", "Vmemmap pages HVO frees, all pools."),
    ("pagetable_pages", "total_pagetable_pages", "Page-table pages spent on splits, all pools."),
    ("saved_pages", "total_saved_pages", "Net pages saved, all pools."),
    ("saved_bytes", "total_saved_bytes", "Net bytes saved, all pools."),
    ("shared_tail_pages", "total_shared_tail_pages", "Shared read-only tail vmemmap pages, all pools (7.1+)."),
)
KNOWN_ISSUE_HELP = (
    "A known kernel problem the planned release is in range of (applies=yes) or may be "
    "(applies=maybe); pools lists the pools it bites, comma-separated; always 1."
)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{key}="{_escape_label(value)}"' for key, value in labels.items()) + "}"


def _value(value: int | float | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _family(lines: list[str], name: str, help_text: str, samples: list[tuple[dict[str, str], object]]) -> None:
    metric = f"{PREFIX}_{name}"
    lines.append(f"# HELP {metric} {_escape_help(help_text)}")
    lines.append(f"# TYPE {metric} gauge")
    lines += [f"{metric}{_labels(labels)} {_value(value)}" for labels, value in samples]  # type: ignore[arg-type]


def render(report: PlanReport) -> str:
    host = report.host
    lines: list[str] = []
    _family(
        lines,
        "build_info",
        "hvo-calc version, report schema version, modelled kernel and the release as given; always 1.",
        [
            (
                {
                    "version": __version__,
                    "schema_version": report.schema_version,
                    "kernel": host.kernel,
                    "kernel_release": host.kernel_release or host.kernel,
                },
                1,
            )
        ],
    )
    host_labels = {"arch": host.arch}
    _family(lines, "base_page_bytes", "Base page size of the host, in bytes.", [(host_labels, host.base_page_bytes)])
    _family(
        lines,
        "struct_page_bytes",
        "sizeof(struct page) in the plan, in bytes.",
        [(host_labels, host.struct_page_bytes)],
    )
    if host.memory_bytes is not None:
        _family(lines, "host_memory_bytes", "Host RAM given by the plan, in bytes.", [(host_labels, host.memory_bytes)])
    pool_labels = [
        {"arch": p.arch, "node": str(p.node), "hugepage_size": p.hugepage_size, "pool": p.name} for p in report.pools
    ]
    for field, name, help_text in POOL_METRICS:
        _family(lines, name, help_text, [(labels, getattr(p, field)) for labels, p in zip(pool_labels, report.pools)])
    for field, name, help_text in PER_HUGEPAGE_METRICS:
        _family(
            lines,
            name,
            help_text,
            [(labels, getattr(p.per_hugepage, field)) for labels, p in zip(pool_labels, report.pools)],
        )
    shrinking = [(labels, p.shrink) for labels, p in zip(pool_labels, report.pools) if p.shrink]
    for field, name, help_text in SHRINK_METRICS if shrinking else ():
        _family(lines, name, help_text, [(labels, getattr(shrink, field)) for labels, shrink in shrinking])
    node_labels = [{"arch": host.arch, "node": str(n.node)} for n in report.nodes]
    for field, name, help_text in NODE_METRICS:
        _family(lines, name, help_text, [(labels, getattr(n, field)) for labels, n in zip(node_labels, report.nodes)])
    if report.memory is not None:
        for field, name, help_text in MEMORY_METRICS:
            _family(lines, name, help_text, [(host_labels, getattr(report.memory, field))])
    for field, name, help_text in TOTAL_METRICS:
        _family(lines, name, help_text, [(host_labels, getattr(report.totals, field))])
    if report.known_issues:
        _family(
            lines,
            "known_issue",
            KNOWN_ISSUE_HELP,
            [
                (
                    {
                        **host_labels,
                        "id": issue.id,
                        "applies": issue.applies,
                        "first": issue.first,
                        "last": issue.last,
                        "pools": ",".join(issue.pools),
                        "summary": issue.summary,
                    },
                    1,
                )
                for issue in report.known_issues
            ],
        )
    return "\n".join(lines) + "\n"
