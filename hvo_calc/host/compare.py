"""What the model predicts against what the kernel counts.

Rows, each `predicted, observed, difference` and a status:

- `nr_memmap_pages` (/proc/vmstat, 6.11+): vmemmap pages from the buddy allocator.
  Predicted: the pools' `memmap_pages` (a head-page copy per hugepage optimized at run time
  on 6.2+, and restored tails).
- `nr_memmap_boot_pages` (6.11+): vmemmap pages from boot memory. Predicted: the vmemmap of
  every present section (see `resolve.present_sections`) less the pools'
  `memmap_boot_freed_pages`.
- `MemTotal` (plan input, NUMA hosts): the nodes' MemTotal the plan used, against the host's.
- `HugePages_Total/Free/Surp` (plan input; meminfo counts only the default hugepage size):
  what sysfs gave the plan, against meminfo, host-wide and per node.
- the HugeTLB boot lines, where the kernel log was read: "N KiB vmemmap can be freed" per
  size (model) and "pre-allocated N pages" against the command line (plan input).

A difference is *explained* only by arithmetic that checks: the two nr_memmap counters'
differences must be a whole number of hugepages times what one hugepage changes in each,
for one cause (or two) from `causes`, within what the host holds. Anything else is
*unexplained*, and a counter the kernel lacks is *not available*: never "agrees".

This finds the figures and the causes; `reports.comparison_text` words each row's explanation.
"""

from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any, Literal

from hvo_calc.host.collect import Collected, Counts
from hvo_calc.host.models import Basis, ComparisonRow, Status
from hvo_calc.host.readers import Meminfo
from hvo_calc.kernels import kernel_data
from hvo_calc.models import PlanReport, PoolReport
from hvo_calc.reports import comparison_text as text
from hvo_calc.units import short_size


@dataclass(frozen=True)
class Unit:
    """What one hugepage of a size does to the counters when HVO optimizes it (from a
    one-hugepage plan of the same host): buddy pages held, boot pages freed, pages freed."""

    size: int
    boot: bool
    memmap: int
    boot_freed: int
    freed: int
    vmemmap: int


CauseState = Literal["unoptimized", "optimized", "released"]


@dataclass(frozen=True)
class Cause:
    """k hugepages in a state the plan did not assume, each changing nr_memmap_pages by
    `memmap` and nr_memmap_boot_pages by `boot`; at most `limit` of them (None: any).

    `state`: unoptimized (allocated while HVO was off, though the plan has it on), optimized
    (allocated while HVO was on, though the sysctl now reads 0) or released (optimized
    earlier and since given back). Per hugepage: `head_copies` buddy pages of head copies,
    `restored` tails restored, `boot_pages` boot-memory vmemmap pages freed or kept."""

    memmap: int
    boot: int
    limit: int | None
    state: CauseState
    size: int
    preoptimized: bool
    head_copies: int
    boot_pages: int
    restored: int = 0


def causes(plan: PlanReport | None, units: list[Unit], hvo_enabled: bool) -> list[Cause]:
    """Every state of hugepages that the counters can show and the plan cannot know."""
    found: list[Cause] = []
    pools = plan.pools if plan else []
    if hvo_enabled:
        for size, boot, group in pool_classes(pools, active=True):
            count = sum(p.hugepages for p in group)
            memmap = sum(p.memmap_pages for p in group)
            freed = sum(p.memmap_boot_freed_pages for p in group)
            if memmap % count or freed % count or not (memmap or freed):
                continue
            found.append(
                Cause(
                    -(memmap // count),
                    freed // count,
                    count,
                    "unoptimized",
                    size,
                    boot,
                    memmap // count,
                    freed // count,
                )
            )
    else:
        for size, boot, group in pool_classes(pools, active=False):
            unit = next((u for u in units if u.size == size and u.boot == boot), None)
            if unit is None or not (unit.memmap or unit.boot_freed):
                continue
            count = sum(p.hugepages for p in group)
            found.append(
                Cause(unit.memmap, -unit.boot_freed, count, "optimized", size, boot, unit.memmap, unit.boot_freed)
            )
    sizes_with_pools = {p.hugepage_bytes for p in pools}
    ordered = sorted(units, key=lambda u: (u.size not in sizes_with_pools, u.boot, u.size))
    for unit in ordered:
        held = unit.memmap + unit.freed
        if not (held or unit.boot_freed):
            continue
        found.append(
            Cause(
                held, -unit.boot_freed, None, "released", unit.size, unit.boot, unit.memmap, unit.boot_freed, unit.freed
            )
        )
    return dedupe(found)


def dedupe(found: list[Cause]) -> list[Cause]:
    """The causes in order, each once (a released hugepage of a size can also be a pool's)."""
    return list(dict.fromkeys(found))


def pool_classes(pools: list[PoolReport], active: bool) -> list[tuple[int, bool, list[PoolReport]]]:
    """Pools grouped by hugepage size and whether their vmemmap was pre-optimized at boot."""
    groups: dict[tuple[int, bool], list[PoolReport]] = {}
    for pool in pools:
        if pool.hvo_active == active:
            groups.setdefault((pool.hugepage_bytes, bool(pool.preoptimized)), []).append(pool)
    return [(size, boot, group) for (size, boot), group in sorted(groups.items())]


@dataclass(frozen=True)
class Solution:
    """Causes, each with its count of hugepages, that account exactly for the differences."""

    parts: tuple[tuple[Cause, int], ...]


def fits(cause: Cause, k: int) -> bool:
    """Whether k hugepages can be in the cause's state: at least one, within its limit."""
    return k >= 1 and (cause.limit is None or k <= cause.limit)


def hugepages_asked(diff: int | None, per: int) -> int | None:
    """The k that a difference asks of a cause changing its counter by `per` per hugepage:
    None when it asks nothing (not read, or 0 against 0), -1 when no whole k gives it."""
    if diff is None or (per == 0 and diff == 0):
        return None
    if per == 0 or diff % per:
        return -1
    return diff // per


def solve(d_memmap: int | None, d_boot: int | None, found: list[Cause]) -> list[Solution]:
    """Every way one cause, or two, accounts exactly for the differences (in whole hugepages
    within each cause's limit), in the order of `found`."""
    solutions: list[Solution] = []
    for cause in found:
        asked = {hugepages_asked(d_memmap, cause.memmap), hugepages_asked(d_boot, cause.boot)} - {None}
        if len(asked) == 1 and fits(cause, k := asked.pop() or 0):
            solutions.append(Solution(((cause, k),)))
    if d_memmap is None or d_boot is None:
        return solutions
    for first, second in combinations(found, 2):
        det = first.memmap * second.boot - second.memmap * first.boot
        if det == 0:
            continue
        k1, r1 = divmod(d_memmap * second.boot - second.memmap * d_boot, det)
        k2, r2 = divmod(first.memmap * d_boot - d_memmap * first.boot, det)
        if not r1 and not r2 and fits(first, k1) and fits(second, k2):
            solutions.append(Solution(((first, k1), (second, k2))))
    return solutions


# -- the rows ---------------------------------------------------------------------------------


def row(
    counter: str,
    scope: str,
    unit: str,
    basis: Basis,
    predicted: int | None,
    observed: int | None,
    explanation: str = "",
    *,
    explained: bool | None = None,
    status: Status | None = None,
    size: int | None = None,
) -> ComparisonRow:
    difference = observed - predicted if predicted is not None and observed is not None else None
    if status is None:
        if difference is None:
            status = "not compared"
        elif difference == 0:
            status = "agrees"
        else:
            status = "explained" if explained else "unexplained"
    ok = {"agrees": True, "explained": True, "unexplained": False}.get(status)
    return ComparisonRow(
        counter=counter,
        scope=scope,
        hugepage_size=short_size(size) if size else None,
        unit=unit,
        basis=basis,
        predicted=predicted,
        observed=observed,
        difference=difference,
        status=status,
        explained=ok,
        explanation=explanation,
    )


@dataclass(frozen=True)
class Inputs:
    found: Collected
    plan: PlanReport | None
    units: list[Unit]
    hvo_enabled: bool
    kernel_version: tuple[int, int] | None
    boot_vmemmap_pages: int | None  # vmemmap of all present sections
    section_vmemmap_pages: int | None
    default_size: int | None
    boot_counts: dict[int, int]  # size -> hugepages the command line allocates at boot
    page_bytes: int
    host_nodes: tuple[int, ...] = (0,)  # the host node of each plan node, in plan order


def compare(inputs: Inputs) -> list[ComparisonRow]:
    return memmap_rows(inputs) + memory_rows(inputs) + boot_line_rows(inputs)


@dataclass(frozen=True)
class Memmap:
    """The two nr_memmap counters, predicted and observed, and the ways their differences are
    accounted for (best first)."""

    predicted_memmap: int
    observed_memmap: int | None
    predicted_boot: int | None
    observed_boot: int | None
    freed: int  # boot vmemmap pages the pools free
    solutions: list[Solution]

    @property
    def d_memmap(self) -> int | None:
        return self.observed_memmap - self.predicted_memmap if self.observed_memmap is not None else None

    @property
    def d_boot(self) -> int | None:
        if self.observed_boot is None or self.predicted_boot is None:
            return None
        return self.observed_boot - self.predicted_boot

    @property
    def best(self) -> Solution | None:
        return self.solutions[0] if self.solutions else None


def memmap_counters(i: Inputs) -> Memmap:
    pools = i.plan.pools if i.plan else []
    vmstat = i.found.vmstat or {}
    freed = sum(p.memmap_boot_freed_pages for p in pools)
    found = Memmap(
        predicted_memmap=sum(p.memmap_pages for p in pools),
        observed_memmap=vmstat.get("nr_memmap_pages"),
        predicted_boot=i.boot_vmemmap_pages - freed if i.boot_vmemmap_pages is not None else None,
        observed_boot=vmstat.get("nr_memmap_boot_pages"),
        freed=freed,
        solutions=[],
    )
    if not (found.d_memmap or found.d_boot):
        return found
    solutions = solve(found.d_memmap, found.d_boot, causes(i.plan, i.units, i.hvo_enabled))
    return replace(found, solutions=solutions)


def memmap_rows(i: Inputs) -> list[ComparisonRow]:
    counters = memmap_counters(i)
    return [memmap_pages_row(i, counters), memmap_boot_row(i, counters)]


def model_row(counter: str, predicted: int | None, observed: int | None, explanation: str, **how: Any) -> ComparisonRow:
    """A host-wide row of pages that the model predicts."""
    return row(counter, "host", "pages", "model", predicted, observed, explanation, **how)


def unavailable_row(i: Inputs, counter: str, predicted: int | None) -> ComparisonRow:
    """A counter /proc/vmstat does not have: not read, or too old a kernel."""
    if i.found.vmstat is None:
        return model_row(counter, predicted, None, text.NOT_READ, status="not compared")
    first = kernel_data().first_memmap_counters
    return model_row(
        counter, predicted, None, text.unavailable(counter, i.kernel_version, first), status="not available"
    )


def memmap_pages_row(i: Inputs, c: Memmap) -> ComparisonRow:
    counter = "nr_memmap_pages"
    if c.observed_memmap is None:
        return unavailable_row(i, counter, c.predicted_memmap)
    if c.d_memmap == 0:
        return model_row(counter, c.predicted_memmap, c.observed_memmap, text.memmap_agreement(i.plan))
    why = text.memmap_difference(c.d_memmap or 0, c.solutions)
    return model_row(counter, c.predicted_memmap, c.observed_memmap, why, explained=c.best is not None)


def memmap_boot_row(i: Inputs, c: Memmap) -> ComparisonRow:
    counter = "nr_memmap_boot_pages"
    if c.observed_boot is None:
        return unavailable_row(i, counter, c.predicted_boot)
    if c.d_boot is None:  # observed_boot is known: the prediction is not
        return model_row(counter, None, c.observed_boot, text.SECTIONS_UNKNOWN, status="not compared")
    if c.d_boot == 0:
        agrees = text.boot_agreement(i.boot_vmemmap_pages, i.section_vmemmap_pages, c.freed)
        return model_row(counter, c.predicted_boot, c.observed_boot, agrees)
    why = text.boot_difference(c.d_boot, c.solutions, i.section_vmemmap_pages)
    return model_row(counter, c.predicted_boot, c.observed_boot, why, explained=c.best is not None)


def memory_rows(i: Inputs) -> list[ComparisonRow]:
    return memtotal_rows(i.found) + hugepage_rows(i)


def memtotal_rows(found: Collected) -> list[ComparisonRow]:
    """On a NUMA host: the nodes' MemTotal (the plan's node memory), summed, against the host's."""
    meminfo = found.meminfo
    if not (found.numa and meminfo and meminfo.mem_total_bytes is not None):
        return []
    nodes = [m.mem_total_bytes for m in found.node_meminfo.values() if m and m.mem_total_bytes is not None]
    if len(nodes) != len(found.node_ids):
        return []
    total = meminfo.mem_total_bytes
    return [row("MemTotal", "host", "bytes", "plan input", sum(nodes), total, text.MEMTOTAL, explained=False)]


def hugepage_rows(i: Inputs) -> list[ComparisonRow]:
    """HugePages_Total, _Free and _Surp of the default size, host-wide and per node: what
    sysfs gave the plan, against meminfo."""
    size, found = i.default_size, i.found
    if size is None:
        return []
    planned: dict[str, int] = {}
    for pool in i.plan.pools if i.plan else []:
        if pool.hugepage_bytes == size:
            scope = f"node{i.host_nodes[pool.node]}"
            planned[scope] = planned.get(scope, 0) + pool.hugepages
    planned["host"] = sum(planned.values())
    scopes: list[tuple[str, Counts | None, Meminfo | None]] = [("host", found.hugepages.get(size), found.meminfo)]
    if found.numa:
        scopes += [
            (f"node{n}", found.node_hugepages.get(n, {}).get(size), found.node_meminfo.get(n)) for n in found.node_ids
        ]
    return [
        r
        for scope, counts, info in scopes
        if info is not None
        for r in meminfo_rows(scope, size, planned.get(scope, 0), counts, info)
    ]


def meminfo_rows(scope: str, size: int, planned: int, counts: Counts | None, info: Meminfo) -> list[ComparisonRow]:
    """One scope's meminfo hugepage counts against the plan's and sysfs's."""
    rows: list[ComparisonRow] = []
    if (total := info.get("HugePages_Total")) is not None:
        why = text.HUGEPAGES_TOTAL
        rows.append(
            row("HugePages_Total", scope, "hugepages", "plan input", planned, total, why, explained=False, size=size)
        )
    for key, field, what in (
        ("HugePages_Free", "free", "free_hugepages"),
        ("HugePages_Surp", "surplus", "surplus_hugepages"),
    ):
        observed, value = info.get(key), getattr(counts, field) if counts else None
        if observed is not None and value is not None:
            why = text.sysfs_against_meminfo(what)
            rows.append(row(key, scope, "hugepages", "plan input", value, observed, why, explained=False, size=size))
    return rows


def boot_line_rows(i: Inputs) -> list[ComparisonRow]:
    dmesg = i.found.dmesg
    if dmesg is None:
        return []
    rows: list[ComparisonRow] = []
    for size, kib in sorted(dmesg.can_free_kib.items()):
        unit = next((u for u in i.units if u.size == size and not u.boot), None)
        predicted = unit.freed * i.page_bytes // 1024 if unit else 0
        rows.append(
            row(
                "hugetlb_boot_can_free_kib",
                "host",
                "KiB",
                "model",
                predicted,
                kib,
                text.can_free(size),
                explained=False,
                size=size,
            )
        )
    for size, count in sorted(dmesg.preallocated.items()):
        asked = i.boot_counts.get(size, 0)
        if not (asked or count):
            continue
        rows.append(
            row(
                "hugetlb_boot_preallocated",
                "host",
                "hugepages",
                "plan input",
                asked,
                count,
                text.preallocated(asked, count),
                explained=False,
                size=size,
            )
        )
    return rows
