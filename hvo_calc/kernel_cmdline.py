"""The kernel command line that sets up a plan's boot-time pools, in the order the kernel parses it.

`hugetlb_free_vmemmap=on` (only where HVO is wanted), `default_hugepagesz=` (the first pool's
size), then each `hugepagesz=` followed by its `hugepages=`: a count, or `node:count,...` where
the host has several nodes or a pool sits on a node other than 0 (hugetlb_hstate_alloc_pages
reads the per-node form since 5.16). Run-time pools are not on the command line: they are
allocated later through sysfs or `vm.nr_hugepages`.
"""

from hvo_calc.models import PlanReport
from hvo_calc.planner import PlanRequest
from hvo_calc.units import short_size


def _hugepages(counts: dict[int, int], per_node: bool) -> str:
    if not per_node:
        return str(sum(counts.values()))
    return ",".join(f"{node}:{count}" for node, count in sorted(counts.items()))


def cmdline_for(request: PlanRequest, report: PlanReport) -> str:
    """`hugetlb_free_vmemmap=on default_hugepagesz=1G hugepagesz=1G hugepages=700` for the report's boot pools."""
    words = ["hugetlb_free_vmemmap=on"] if request.hvo else []
    if report.pools:
        words.append(f"default_hugepagesz={short_size(report.pools[0].hugepage_bytes)}")
    by_size: dict[int, dict[int, int]] = {}
    for pool in report.pools:
        if pool.boot_time:
            counts = by_size.setdefault(pool.hugepage_bytes, {})
            counts[pool.node] = counts.get(pool.node, 0) + pool.hugepages
    per_node = len(request.nodes) > 1 or any(node for counts in by_size.values() for node in counts)
    for size, counts in by_size.items():
        words += [f"hugepagesz={short_size(size)}", f"hugepages={_hugepages(counts, per_node)}"]
    return " ".join(words)
