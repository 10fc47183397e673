"""What the model predicts against what the kernel counts.

Rows, each `predicted, observed, difference` and a status:

- `nr_memmap_pages` (/proc/vmstat, 6.11+): vmemmap pages from the buddy allocator.
  Predicted: the pools' `memmap_pages` (a head-page copy per hugepage optimized at run time
  on 6.2+, and restored tails).
- `nr_memmap_boot_pages` (6.11+): vmemmap pages from boot memory. Predicted: the vmemmap of
  every present section (see `resolve.present_sections`) less the pools'
  `memmap_boot_pages_freed`.
- `MemTotal` (plan input, NUMA hosts): the nodes' MemTotal the plan used, against the host's.
- `HugePages_Total/Free/Surp` (plan input; meminfo counts only the default hugepage size):
  what sysfs gave the plan, against meminfo, host-wide and per node.
- the HugeTLB boot lines, where the kernel log was read: "N KiB vmemmap can be freed" per
  size (model) and "pre-allocated N pages" against the command line (plan input).

A difference is *explained* only by arithmetic that checks: the two nr_memmap counters'
differences must be a whole number of hugepages times what one hugepage changes in each,
for one cause (or two) from `causes`, within what the host holds. Anything else is
*unexplained*, and a counter the kernel lacks is *not available*: never "agrees".
"""

import re
from dataclasses import dataclass
from itertools import combinations

from hvo_calc.host.collect import Collected, Counts
from hvo_calc.host.models import Basis, ComparisonRow, Status
from hvo_calc.host.readers import Meminfo
from hvo_calc.kernels import kernel_data
from hvo_calc.models import PlanReport, PoolReport
from hvo_calc.units import human_size, short_size


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


@dataclass(frozen=True)
class Cause:
    """k hugepages in some state the plan did not assume, each changing nr_memmap_pages by
    `memmap` and nr_memmap_boot_pages by `boot`; at most `limit` of them (None: any)."""

    memmap: int
    boot: int
    limit: int | None
    memmap_story: str  # formatted with k=, total=
    boot_story: str


def causes(plan: PlanReport | None, units: list[Unit], planned_on: bool) -> list[Cause]:
    """Every state of hugepages that the counters can show and the plan cannot know."""
    found: list[Cause] = []
    pools = plan.pools if plan else []
    if planned_on:
        for size, boot, group in pool_classes(pools, active=True):
            count = sum(p.hugepages for p in group)
            memmap = sum(p.memmap_pages for p in group)
            freed = sum(p.memmap_boot_pages_freed for p in group)
            if memmap % count or freed % count or not (memmap or freed):
                continue
            name = f"{short_size(size)}{' boot' if boot else ''}"
            found.append(
                Cause(
                    -(memmap // count),
                    freed // count,
                    count,
                    f"{{k}} of the {count} {name} hugepages {{were}} allocated while HVO was off and are not optimized "
                    f"(the sysctl is the current setting, not the pool's state): {{k}} x {memmap // count} "
                    f"head-page copies fewer = {{total}} pages",
                    f"the same {{k}} unoptimized {name} hugepage{{s}} keep{{s_verb}} their boot-memory vmemmap: "
                    f"{{k}} x {freed // count} = {{total}} pages",
                )
            )
    else:
        for size, boot, group in pool_classes(pools, active=False):
            unit = next((u for u in units if u.size == size and u.boot == boot), None)
            if unit is None or not (unit.memmap or unit.boot_freed):
                continue
            count = sum(p.hugepages for p in group)
            name = f"{short_size(size)}{' boot' if boot else ''}"
            found.append(
                Cause(
                    unit.memmap,
                    -unit.boot_freed,
                    count,
                    f"{{k}} of the {count} {name} hugepages {{were}} allocated while HVO was on and stay optimized "
                    f"(the sysctl now reads 0; it is the current setting, not the pool's state): {{k}} x "
                    f"{unit.memmap} head-page copies = {{total}} pages",
                    f"the same {{k}} optimized {name} hugepage{{s}} freed their boot-memory vmemmap: {{k}} x "
                    f"{unit.boot_freed} = {{total}} pages",
                )
            )
    sizes_with_pools = {p.hugepage_bytes for p in pools}
    ordered = sorted(units, key=lambda u: (u.size not in sizes_with_pools, u.boot, u.size))
    for unit in ordered:
        held = unit.memmap + unit.freed
        if not (held or unit.boot_freed):
            continue
        name = f"{short_size(unit.size)}{' boot' if unit.boot else ''}"
        found.append(
            Cause(
                held,
                -unit.boot_freed,
                None,
                f"{{k}} {name} hugepage{{s}} optimized earlier and since released keep{{s_verb}} their restored "
                f"vmemmap in buddy pages: {{k}} x ({unit.memmap} head copy + {unit.freed} restored) = {{total}} pages",
                f"the same {{k}} released {name} hugepage{{s}} freed their boot-memory vmemmap when they were "
                f"optimized: {{k}} x {unit.boot_freed} = {{total}} pages",
            )
        )
    return dedupe(found)


def dedupe(found: list[Cause]) -> list[Cause]:
    seen, kept = set(), []
    for cause in found:
        key = (cause.memmap, cause.boot, cause.limit, cause.memmap_story)
        if key not in seen:
            seen.add(key)
            kept.append(cause)
    return kept


def pool_classes(pools: list[PoolReport], active: bool) -> list[tuple[int, bool, list[PoolReport]]]:
    """Pools grouped by hugepage size and whether their vmemmap was pre-optimized at boot."""
    groups: dict[tuple[int, bool], list[PoolReport]] = {}
    for pool in pools:
        if pool.hvo_active == active:
            groups.setdefault((pool.hugepage_bytes, bool(pool.preoptimized)), []).append(pool)
    return [(size, boot, group) for (size, boot), group in sorted(groups.items())]


@dataclass(frozen=True)
class Solution:
    parts: tuple[tuple[Cause, int], ...]

    def memmap_text(self) -> str:
        return "; ".join(c.memmap_story.format(**words(k), total=abs(k * c.memmap)) for c, k in self.parts if c.memmap)

    def boot_text(self) -> str:
        return "; ".join(c.boot_story.format(**words(k), total=abs(k * c.boot)) for c, k in self.parts if c.boot)

    def short(self) -> str:
        """The causes without their arithmetic: "512 2M hugepages optimized earlier and since released"."""
        return " and ".join(
            re.split(r" keep| and are | and stay ", c.memmap_story)[0].format(**words(k)) for c, k in self.parts
        )


def words(k: int) -> dict[str, object]:
    """Number agreement for the stories: 1 hugepage was / keeps; 2 hugepages were / keep."""
    one = k == 1
    return {"k": k, "s": "" if one else "s", "were": "was" if one else "were", "s_verb": "s" if one else ""}


def solve(d_memmap: int | None, d_boot: int | None, found: list[Cause]) -> list[Solution]:
    """Every way one cause, or two, accounts exactly for the differences (in whole hugepages
    within each cause's limit), in the order of `found`."""
    solutions: list[Solution] = []

    def fits(cause: Cause, k: int) -> bool:
        return k >= 1 and (cause.limit is None or k <= cause.limit)

    for cause in found:
        ks: set[int] = set()  # the k each difference asks for (-1: none fits); a difference of 0 asks nothing
        for diff, per in ((d_memmap, cause.memmap), (d_boot, cause.boot)):
            if diff is None:
                continue
            if per == 0:
                if diff != 0:
                    ks.add(-1)
            else:
                ks.add(diff // per if diff % per == 0 else -1)
        if len(ks) == 1 and fits(cause, k := ks.pop()):
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
    planned_on: bool
    kernel_version: tuple[int, int] | None
    boot_vmemmap_pages: int | None  # vmemmap of all present sections
    section_vmemmap_pages: int | None
    default_size: int | None
    boot_counts: dict[int, int]  # size -> hugepages the command line allocates at boot
    page_bytes: int


def compare(inputs: Inputs) -> list[ComparisonRow]:
    return memmap_rows(inputs) + memory_rows(inputs) + boot_line_rows(inputs)


def memmap_rows(i: Inputs) -> list[ComparisonRow]:
    pools = i.plan.pools if i.plan else []
    vmstat = i.found.vmstat
    observed_memmap = vmstat.get("nr_memmap_pages") if vmstat else None
    observed_boot = vmstat.get("nr_memmap_boot_pages") if vmstat else None
    predicted_memmap = sum(p.memmap_pages for p in pools)
    freed = sum(p.memmap_boot_pages_freed for p in pools)
    predicted_boot = i.boot_vmemmap_pages - freed if i.boot_vmemmap_pages is not None else None

    def unavailable(counter: str) -> str:
        if vmstat is None:
            return "not compared: proc/vmstat was not read"
        release = f"Linux {i.kernel_version[0]}.{i.kernel_version[1]}" if i.kernel_version else "this kernel"
        return (
            f"not available on this kernel: {release} has no {counter} in /proc/vmstat "
            f"(it appeared in Linux {kernel_data().first_memmap_counters})"
        )

    d_memmap = observed_memmap - predicted_memmap if observed_memmap is not None else None
    d_boot = observed_boot - predicted_boot if observed_boot is not None and predicted_boot is not None else None
    solutions = [] if not (d_memmap or d_boot) else solve(d_memmap, d_boot, causes(i.plan, i.units, i.planned_on))
    best = solutions[0] if solutions else None
    also = f" (also fits: {'; '.join(s.short() for s in solutions[1:3])})" if len(solutions) > 1 else ""

    rows = []
    if observed_memmap is None:
        rows.append(
            row(
                "nr_memmap_pages",
                "host",
                "pages",
                "model",
                predicted_memmap,
                None,
                unavailable("nr_memmap_pages"),
                status="not available" if vmstat else "not compared",
            )
        )
    elif d_memmap == 0:
        rows.append(
            row("nr_memmap_pages", "host", "pages", "model", predicted_memmap, observed_memmap, memmap_agreement(pools))
        )
    else:
        text = (
            f"{d_memmap:+d} = {best.memmap_text()}{also}"
            if best
            else f"not accounted for by hugepages optimized, unoptimized or released: {d_memmap:+d} pages"
        )
        rows.append(
            row(
                "nr_memmap_pages",
                "host",
                "pages",
                "model",
                predicted_memmap,
                observed_memmap,
                text,
                explained=best is not None,
            )
        )
    if observed_boot is None:
        rows.append(
            row(
                "nr_memmap_boot_pages",
                "host",
                "pages",
                "model",
                predicted_boot,
                None,
                unavailable("nr_memmap_boot_pages"),
                status="not available" if vmstat else "not compared",
            )
        )
    elif d_boot is None:  # observed_boot is known: the prediction is not
        rows.append(
            row(
                "nr_memmap_boot_pages",
                "host",
                "pages",
                "model",
                None,
                observed_boot,
                "not compared: the present memory sections are not known (proc/zoneinfo not read, or no "
                "section size for this architecture)",
                status="not compared",
            )
        )
    elif d_boot == 0:
        rows.append(
            row(
                "nr_memmap_boot_pages",
                "host",
                "pages",
                "model",
                predicted_boot,
                observed_boot,
                boot_agreement(i, freed),
            )
        )
    else:
        if best and best.boot_text():
            text = f"{d_boot:+d} = {best.boot_text()}{also}"
        elif best:
            text = f"{d_boot:+d}: accounted for with nr_memmap_pages ({best.short()})"
        else:
            text = f"not accounted for: {d_boot:+d} pages"
            if i.section_vmemmap_pages and d_boot % i.section_vmemmap_pages == 0:
                text += (
                    f" = {d_boot // i.section_vmemmap_pages} section(s) of vmemmap: the estimate of present "
                    "sections (per node, present pages rounded up to whole sections) may miss sections "
                    "only partly present"
                )
        rows.append(
            row(
                "nr_memmap_boot_pages",
                "host",
                "pages",
                "model",
                predicted_boot,
                observed_boot,
                text,
                explained=best is not None,
            )
        )
    return rows


def memmap_agreement(pools: list[PoolReport]) -> str:
    parts = [f"{p.name} {p.memmap_pages}" for p in pools if p.memmap_pages]
    return "agrees: " + (" + ".join(parts) if parts else "no pool holds buddy vmemmap pages")


def boot_agreement(i: Inputs, freed: int) -> str:
    total, per_section = i.boot_vmemmap_pages, i.section_vmemmap_pages
    sections = total // per_section if total is not None and per_section else None
    whole = (
        f"{sections} present sections x {i.section_vmemmap_pages} = {i.boot_vmemmap_pages}"
        if sections
        else f"{i.boot_vmemmap_pages}"
    )
    return f"agrees: {whole} pages of boot vmemmap, less {freed} freed by the pools"


def memory_rows(i: Inputs) -> list[ComparisonRow]:
    found = i.found
    rows: list[ComparisonRow] = []
    meminfo = found.meminfo
    if found.numa and meminfo and meminfo.mem_total_bytes is not None:
        nodes = [m.mem_total_bytes for m in found.node_meminfo.values() if m and m.mem_total_bytes is not None]
        if len(nodes) == len(found.node_ids):
            rows.append(
                row(
                    "MemTotal",
                    "host",
                    "bytes",
                    "plan input",
                    sum(nodes),
                    meminfo.mem_total_bytes,
                    "the nodes' MemTotal (the plan's node memory), summed",
                    explained=False,
                )
            )
    size = i.default_size
    if size is None:
        return rows
    planned: dict[int, int] = {}
    for pool in i.plan.pools if i.plan else []:
        if pool.hugepage_bytes == size:
            planned[pool_host_node(pool)] = planned.get(pool_host_node(pool), 0) + pool.hugepages
    scopes: list[tuple[str, Counts | None, Meminfo | None]] = [("host", found.hugepages.get(size), meminfo)]
    if found.numa:
        scopes += [
            (f"node{n}", found.node_hugepages.get(n, {}).get(size), found.node_meminfo.get(n)) for n in found.node_ids
        ]
    for scope, counts, info in scopes:
        if info is None:
            continue
        total = sum(planned.values()) if scope == "host" else planned.get(int(scope[4:]), 0)
        observed = {key: info.get(key) for key in ("HugePages_Total", "HugePages_Free", "HugePages_Surp")}
        if observed["HugePages_Total"] is not None:
            rows.append(
                row(
                    "HugePages_Total",
                    scope,
                    "hugepages",
                    "plan input",
                    total,
                    observed["HugePages_Total"],
                    "the plan's hugepages (sysfs nr_hugepages), against meminfo",
                    explained=False,
                    size=size,
                )
            )
        for key, field, what in (
            ("HugePages_Free", "free", "free_hugepages"),
            ("HugePages_Surp", "surplus", "surplus_hugepages"),
        ):
            value = getattr(counts, field) if counts else None
            if observed[key] is not None and value is not None:
                rows.append(
                    row(
                        key,
                        scope,
                        "hugepages",
                        "plan input",
                        value,
                        observed[key],
                        f"sysfs {what}, against meminfo (the plan counts free, used and surplus hugepages alike)",
                        explained=False,
                        size=size,
                    )
                )
    return rows


def pool_host_node(pool: PoolReport) -> int:
    """The host node a pool's name carries ("2M-node1", "2M-node1-runtime")."""
    for part in pool.name.split("-"):
        if part.startswith("node") and part[4:].isdigit():
            return int(part[4:])
    return pool.node


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
                f"'N KiB vmemmap can be freed for a {human_size(size)} page': what HVO frees per hugepage "
                f"(printed whether HVO is on or off)",
                explained=False,
                size=size,
            )
        )
    for size, count in sorted(dmesg.preallocated.items()):
        asked = i.boot_counts.get(size, 0)
        if not (asked or count):
            continue
        text = "hugepages= of the command line, against 'pre-allocated N pages'"
        if count < asked:
            text += ": the kernel allocated fewer than asked (memory short or fragmented at boot)"
        rows.append(
            row(
                "hugetlb_boot_preallocated",
                "host",
                "hugepages",
                "plan input",
                asked,
                count,
                text,
                explained=False,
                size=size,
            )
        )
    return rows
