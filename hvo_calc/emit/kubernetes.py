"""What a Kubernetes node reads: a KubeletConfiguration and an OpenShift PerformanceProfile.

YAML is written by hand (block style, strings in double quotes, which YAML reads as JSON
writes them), so the same plan gives the same bytes and no YAML library is needed to run.
Quantities are Kubernetes' binary ones (`2Mi`, `1Gi`); resources are `hugepages-<size>`.
"""

import json

from hvo_calc.emit.boot import plan_comment
from hvo_calc.kernel_cmdline import default_size_bytes, hvo_parameter
from hvo_calc.models import PlanReport
from hvo_calc.planner import PlanRequest
from hvo_calc.units import short_size

BINARY_SUFFIXES = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki")


def quantity(size_bytes: int) -> str:
    """A Kubernetes quantity: the largest binary suffix that divides it, else bytes."""
    for power, suffix in zip(range(60, 0, -10), BINARY_SUFFIXES):
        if size_bytes and size_bytes % (1 << power) == 0:
            return f"{size_bytes >> power}{suffix}"
    return str(size_bytes)


def quantity_up_kib(size_bytes: int) -> str:
    """A memory quantity rounded up to whole KiB (what a reservation needs at least)."""
    return quantity(-(-size_bytes // 1024) * 1024)


def _string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def hugepage_resources(report: PlanReport) -> dict[str, int]:
    """`hugepages-<size>` resource -> bytes of all the plan's hugepages of that size."""
    resources: dict[str, int] = {}
    for pool in report.pools:
        name = f"hugepages-{quantity(pool.hugepage_bytes)}"
        resources[name] = resources.get(name, 0) + pool.pool_bytes
    return resources


def kept_from_buddy_bytes(report: PlanReport) -> int:
    """Kernel memory the pools take from the page allocator and no pod is charged for: the
    vmemmap they hold from it (nr_memmap_pages: head copies, restored tails) and the largest
    transient peak while a pool is allocated at run time."""
    held = sum(p.memmap_pages * p.base_page_bytes for p in report.pools)
    return held + max((p.transient_bytes for p in report.pools if not p.boot_time), default=0)


def kubelet_text(request: PlanRequest, report: PlanReport) -> str:
    """A KubeletConfiguration with a systemReserved suggestion, and the node's hugepage
    resources and what HVO returns as comments (kubelet reads the pools from the kernel)."""
    saved = report.totals.saved_bytes
    reserve = kept_from_buddy_bytes(report)
    lines = [
        "# KubeletConfiguration written by `hvo-calc config --emit kubelet`",
        *plan_comment(report),
        "# The node's hugepage resources, which kubelet reads from the kernel at start (allocate the",
        "# pools before kubelet starts; they are taken off the node's allocatable memory):",
        *(f"#   {name}: {quantity(size)}" for name, size in hugepage_resources(report).items()),
        f"# HVO returns {quantity_up_kib(saved)} ({saved} bytes) of vmemmap to the node's free memory.",
        f"# systemReserved.memory: {reserve} bytes, the vmemmap these pools take from the page allocator",
        "# (head copies and restored tails, /proc/vmstat nr_memmap_pages) and the largest transient peak",
        "# while a run-time pool is allocated: kernel memory no pod is charged for. Add it to what you",
        "# reserve for the system already.",
        "apiVersion: kubelet.config.k8s.io/v1beta1",
        "kind: KubeletConfiguration",
        "systemReserved:",
        f"  memory: {_string(quantity_up_kib(reserve))}",
    ]
    return "\n".join(lines) + "\n"


def openshift_pages(request: PlanRequest, report: PlanReport) -> list[str]:
    """The `pages` of spec.hugepages: one per size (and NUMA node, where the plan has several)."""
    per_node = len(request.nodes) > 1
    counts: dict[tuple[int, int | None], int] = {}
    for pool in report.pools:
        key = (pool.hugepage_bytes, pool.node if per_node else None)
        counts[key] = counts.get(key, 0) + pool.hugepages
    lines = []
    for (size, node), count in counts.items():
        lines += [f"    - size: {_string(short_size(size))}", f"      count: {count}"]
        if node is not None:
            lines.append(f"      node: {node}")
    return lines


def openshift_text(request: PlanRequest, report: PlanReport) -> str:
    """An OpenShift PerformanceProfile with the plan's hugepages and HVO's kernel argument;
    merge it into the node pool's profile (cpu and nodeSelector are yours)."""
    hvo = hvo_parameter(request, report)
    lines = [
        "# PerformanceProfile written by `hvo-calc config --emit openshift`",
        *plan_comment(report),
        "# Merge spec.hugepages and spec.additionalKernelArgs into your profile (spec.cpu and",
        "# spec.nodeSelector are the node pool's own). Pages with a node are allocated on that node.",
        "apiVersion: performance.openshift.io/v2",
        "kind: PerformanceProfile",
        "metadata:",
        '  name: "hvo-calc"',
        "spec:",
    ]
    if hvo:
        lines += ["  additionalKernelArgs:", f"    - {_string(hvo)}"]
    lines += [
        "  hugepages:",
        f"    defaultHugepagesSize: {_string(short_size(default_size_bytes(report)))}",
        "    pages:",
        *openshift_pages(request, report),
    ]
    return "\n".join(lines) + "\n"
