"""The kernel command line that realizes a plan: HVO's boot switch and its boot-time pools.

Parameters come in the order mm/hugetlb.c parses them: `hugetlb_free_vmemmap=` (left out
where the kernel has no HVO: it would log an unknown parameter), `default_hugepagesz=`, then
for each size of the plan's boot-time pools `hugepagesz=` followed by its `hugepages=` (each
size once: the kernel ignores a second `hugepagesz=` of a size). Where the plan has several
NUMA nodes the count is given per node (`hugepages=0:340,1:340`, Linux 5.16+); the plan's
node index is the kernel's node id. Run-time pools are not on the command line: they are
allocated through vm.nr_hugepages or sysfs after boot (`hvo-calc config --emit sysctl`).
"""

from hvo_calc.errors import InputError
from hvo_calc.kernels import behaviour, parse_version
from hvo_calc.models import PlanReport, PoolReport
from hvo_calc.planner import PlanRequest
from hvo_calc.units import short_size

# hugepages=NODE:COUNT,...: commit b5389086ad7b ("hugetlbfs: extend the definition of
# hugepages parameter to support node allocation"), merged for Linux 5.16.
FIRST_NODE_FORM_RELEASE = (5, 16)

BootCounts = dict[int, dict[int, int]]  # hugepage bytes -> node -> hugepages, in plan order


def boot_counts(report: PlanReport) -> BootCounts:
    """Hugepages the plan allocates at boot, per size and node (sizes in plan order)."""
    return _counts([p for p in report.pools if p.boot_time])


def runtime_counts(report: PlanReport) -> BootCounts:
    """Hugepages the plan allocates after boot, per size and node (sizes in plan order)."""
    return _counts([p for p in report.pools if not p.boot_time])


def total_counts(report: PlanReport) -> BootCounts:
    """All the plan's hugepages, per size and node: what nr_hugepages reads once all exist."""
    return _counts(list(report.pools))


def _counts(pools: list[PoolReport]) -> BootCounts:
    counts: BootCounts = {}
    for pool in pools:
        on_size = counts.setdefault(pool.hugepage_bytes, {})
        on_size[pool.node] = on_size.get(pool.node, 0) + pool.hugepages
    return counts


def default_size_bytes(report: PlanReport) -> int:
    """default_hugepagesz=: the size of the first run-time pool (vm.nr_hugepages and
    HugePages_* are about the default size), else of the first pool."""
    runtime = [p for p in report.pools if not p.boot_time]
    return (runtime or report.pools)[0].hugepage_bytes


def hvo_parameter(request: PlanRequest, report: PlanReport) -> str | None:
    """hugetlb_free_vmemmap=on or =off as the plan says; None where the kernel has no HVO."""
    if not behaviour(request.kernel, report.host.arch).hvo_available:
        return None
    return f"hugetlb_free_vmemmap={'on' if request.hvo else 'off'}"


def hugepages_value(per_node: dict[int, int], per_node_form: bool) -> str:
    """The value of hugepages=: a count, or NODE:COUNT pairs in node order."""
    if not per_node_form:
        return str(sum(per_node.values()))
    return ",".join(f"{node}:{count}" for node, count in sorted(per_node.items()))


def per_node_form(request: PlanRequest, report: PlanReport) -> bool:
    """Whether counts go per node: the plan has several nodes. Refused before Linux 5.16."""
    if len(request.nodes) <= 1:
        return False
    if parse_version(report.host.kernel) < FIRST_NODE_FORM_RELEASE and boot_counts(report):
        raise InputError(
            f"the plan's boot-time pools are per NUMA node, but Linux {report.host.kernel} has no per-node "
            "hugepages= (NODE:COUNT, Linux 5.16+): accepted: a kernel of 5.16 or later, or pools at run time"
        )
    return True


def cmdline_for(request: PlanRequest, report: PlanReport) -> str:
    """The kernel parameters that give the plan's HVO setting and boot-time pools."""
    words = [hvo_parameter(request, report), f"default_hugepagesz={short_size(default_size_bytes(report))}"]
    by_node = per_node_form(request, report)
    for size, per_node in boot_counts(report).items():
        words += [f"hugepagesz={short_size(size)}", f"hugepages={hugepages_value(per_node, by_node)}"]
    return " ".join(word for word in words if word)
