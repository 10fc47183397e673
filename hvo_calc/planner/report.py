"""Report assembly: what the simulation counted, per pool, per node and for the host, as
the report's models; every figure comes from a `PoolStats`."""

from collections.abc import Sequence

from hvo_calc import __version__
from hvo_calc.advice import plan_advice
from hvo_calc.engine import HugepageGeometry, PoolStats
from hvo_calc.errors import VerificationError
from hvo_calc.kernels import KernelBehaviour
from hvo_calc.models import (
    CountFigures,
    HostReport,
    KnownIssueReport,
    MemoryBudget,
    NodeReport,
    PerHugepage,
    PlanReport,
    PoolReport,
    ShrinkReport,
    Totals,
    WouldFree,
)
from hvo_calc.planner.requests import PlanRequest, PoolRequest
from hvo_calc.profiles import ArchProfile
from hvo_calc.record import field_names, replace, values
from hvo_calc.units import kernel_size_text, short_size


def known_issues(kernel: KernelBehaviour, request: PlanRequest, pools: list[PoolReport]) -> list[KnownIssueReport]:
    """The known problems of the planned release, each with the pools it bites."""
    found = []
    for issue in kernel.known_issues:
        bitten = [p.name for p in pools if issue_bites(issue.condition, p)]
        fields = values(issue, set(field_names(KnownIssueReport)) - {"pools"})
        found.append(KnownIssueReport(**fields, pools=bitten))
    return found


def issue_bites(condition: str, pool: PoolReport) -> bool:
    """Whether a known issue's condition holds for this pool."""
    if condition == "hvo-on-shrink":
        return pool.hvo_active and pool.shrink is not None and pool.shrink.hugepages_released > 0
    return pool.hvo_active


def savings(stats: PoolStats, page_bytes: int) -> dict[str, int]:
    """Net saving: what was freed, less split page tables and any shared tail page allocated."""
    saved = stats.freed_pages - stats.pagetable_pages - stats.shared_tail_pages
    return dict(
        freed_pages=stats.freed_pages,
        pagetable_pages=stats.pagetable_pages,
        saved_pages=saved,
        saved_bytes=saved * page_bytes,
    )


def boot_line_pages(kernel: KernelBehaviour, stats: PoolStats, would: WouldFree | None) -> int:
    """What the boot line says can be freed per hugepage: printed whether HVO is on or off
    (real 7.3 kernels with it off print 28 KiB per 2M page), 0 where the kernel has no HVO."""
    if would is not None and kernel.hvo_available:
        return would.freed_pages // stats.hugepages
    return stats.freed_pages // stats.hugepages


def boot_line(kernel: KernelBehaviour, geometry: HugepageGeometry, freed_per_hugepage: int) -> str | None:
    """What hugetlb prints at boot for this size (None before HVO existed)."""
    if not kernel.hvo_released:
        return None
    return kernel.boot_line.format(
        pages=freed_per_hugepage,
        kib=freed_per_hugepage * geometry.base_page_bytes // 1024,
        size=kernel_size_text(geometry.hugepage_bytes),
        size_kib=geometry.hugepage_bytes // 1024,
    )


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


def pool_report(
    profile: ArchProfile,
    kernel: KernelBehaviour,
    pool: PoolRequest,
    name: str,
    geometry: HugepageGeometry,
    stats: PoolStats,
    reason: str | None,
    would: WouldFree | None,
    preoptimized: bool,
) -> PoolReport:
    if stats.freed_pages % stats.hugepages:
        raise VerificationError("hugepages of one pool were freed unequally")
    freed_each = stats.freed_pages // stats.hugepages
    size = profile.hugepage_size(pool.size_bytes)
    page = profile.base_page
    pool_bytes = pool.count * pool.size_bytes
    money = savings(stats, page)
    kept_bytes = (stats.reserved_pages + stats.pagetable_pages + stats.shared_tail_pages) * page
    # The whole vmemmap exists before the tails are freed, split tables included; for
    # boot pages the kernel populates already optimized, it never does.
    peak = (
        kept_bytes if preoptimized else (stats.vmemmap_pages + stats.pagetable_pages + stats.shared_tail_pages) * page
    )
    return PoolReport(
        name=name,
        arch=profile.arch,
        node=pool.node,
        zone=pool.zone,
        base_page_bytes=page,
        hugepage_bytes=pool.size_bytes,
        hugepage_size=short_size(pool.size_bytes),
        mapped_by=size.mapping if size else "",
        hugepages=stats.hugepages,
        pool_bytes=pool_bytes,
        struct_page_bytes=geometry.struct_page_bytes,
        kernel=kernel.version,
        hvo_active=reason is None,
        reason=reason,
        per_hugepage=PerHugepage(
            struct_pages=geometry.struct_pages,
            vmemmap_bytes=geometry.vmemmap_bytes,
            vmemmap_pages=geometry.vmemmap_pages,
            reserved_pages=geometry.vmemmap_pages - freed_each,
            freed_pages=freed_each,
        ),
        vmemmap_pages=stats.vmemmap_pages,
        vmemmap_bytes=stats.vmemmap_pages * page,
        reserved_pages=stats.reserved_pages,
        **money,
        shared_tail_pages=stats.shared_tail_pages,
        saved_percent=percent(money["saved_bytes"], pool_bytes),
        split_pmds=stats.split_pmds,
        tlb_flushes=stats.tlb_flushes,
        boot_line=boot_line(kernel, geometry, boot_line_pages(kernel, stats, would)),
        would_free=would,
        boot_time=pool.boot,
        preoptimized=preoptimized,
        # MemTotal counts boot memory handed to the buddy allocator: the boot frames freed,
        # less what boot memory had to give for pages populated already optimized.
        memtotal_gain_bytes=(stats.boot_pages_freed - stats.boot_pages_allocated) * page,
        memfree_gain_bytes=money["saved_bytes"],
        peak_vmemmap_bytes=peak,
        transient_bytes=peak - kept_bytes,
        memmap_pages=stats.memmap_pages,
        memmap_boot_freed_pages=stats.boot_pages_freed,
        shrink=shrink_needs(kernel, pool, stats, page),
    )


def totals(profile: ArchProfile, request: PlanRequest, pools: list[PoolReport]) -> Totals:
    sizes = {p.hugepage_bytes for p in pools}
    pool_bytes = _sum(pools, "pool_bytes")
    return Totals(
        arch=profile.arch,
        base_page_bytes=profile.base_page,
        struct_page_bytes=request.struct_page_bytes,
        hugepage_bytes=pool_bytes,
        hvo_active=all(p.hvo_active for p in pools),
        reason=next((p.reason for p in pools if p.reason), None),
        per_hugepage=pools[0].per_hugepage if len(sizes) == 1 else None,
        vmemmap_bytes=_sum(pools, "vmemmap_bytes"),
        saved_percent=percent(_sum(pools, "saved_bytes"), pool_bytes),
        **{field: _sum(pools, field) for field in SUMMED},
    )


def shrink_needs(kernel: KernelBehaviour, pool: PoolRequest, stats: PoolStats, page_bytes: int) -> ShrinkReport | None:
    """What giving hugepages back needs; whether it succeeds is decided per node later."""
    if pool.shrink_to is None:
        return None
    restore = stats.restore_pages_allocated * page_bytes
    return ShrinkReport(
        shrink_to=pool.shrink_to,
        hugepages_released=pool.count - pool.shrink_to,
        restore_pages=stats.restore_pages_allocated,
        restore_bytes=restore,
        policy=kernel.restore_policy,
        available_bytes=None,
        succeeds=None,
        surplus_hugepages=0,
        missing_bytes=0,
        pagetable_pages_kept=stats.pagetable_pages,
    )


def node_free_bytes(request: PlanRequest, pools: list[PoolReport], base_page_bytes: int) -> list[int]:
    """Free memory per node when pools shrink: as given, else what the plan leaves free
    (node memory less its hugepages and the struct pages still mapped for all of it)."""
    free = []
    for node, spec in enumerate(request.nodes):
        if spec.free is not None:
            free.append(spec.free)
            continue
        on_node = [p for p in pools if p.node == node]
        struct_pages = spec.memory // base_page_bytes * request.struct_page_bytes
        saved = sum(saved_before_shrink(p) for p in on_node)
        free.append(spec.memory - sum(p.pool_bytes for p in on_node) - struct_pages + saved)
    return free


def saved_before_shrink(pool: PoolReport) -> int:
    """What the pool saved at its full count: what the node has free when it shrinks."""
    return pool.shrink.at_count.saved_bytes if pool.shrink and pool.shrink.at_count else pool.saved_bytes


def after_shrink(pool: PoolReport) -> PoolReport:
    """The pool as the host has it once the shrink is done: the reserved, freed and saved of
    the hugepages it keeps optimized (shrink_to and any surplus), its split tables (and a
    shared tail page) still spent; the figures at the full count kept in `shrink.at_count`."""
    shrink = pool.shrink
    if shrink is None or shrink.at_count is not None:
        return pool
    kept = shrink.shrink_to + shrink.surplus_hugepages
    page = pool.base_page_bytes
    vmemmap = pool.vmemmap_pages * kept // pool.hugepages
    freed = pool.per_hugepage.freed_pages * kept
    saved = freed - pool.pagetable_pages - pool.shared_tail_pages
    # The engine's reserved count ends after the restore; before the shrink it was the rest of the vmemmap.
    at_count = CountFigures(
        **values(pool, set(field_names(CountFigures)) - {"reserved_pages"}),
        reserved_pages=pool.vmemmap_pages - pool.freed_pages,
    )
    return replace(
        pool,
        vmemmap_pages=vmemmap,
        vmemmap_bytes=vmemmap * page,
        reserved_pages=vmemmap - freed,
        freed_pages=freed,
        saved_pages=saved,
        saved_bytes=saved * page,
        saved_percent=percent(saved * page, pool.pool_bytes),
        memfree_gain_bytes=saved * page,
        shrink=replace(shrink, hugepages_kept=kept, at_count=at_count),
    )


def with_shrink_outcomes(request: PlanRequest, kernel: KernelBehaviour, pools: list[PoolReport]) -> list[PoolReport]:
    """Each shrink decided (`decide_shrinks`), and each shrunk pool's figures as the host has
    them once it is done (`after_shrink`)."""
    return [after_shrink(pool) for pool in decide_shrinks(request, kernel, pools)]


def decide_shrinks(request: PlanRequest, kernel: KernelBehaviour, pools: list[PoolReport]) -> list[PoolReport]:
    """Decide each shrink under the restore policy: its node's free memory before 6.7
    (5.14-6.3 without retrying, 6.4-6.6 retrying harder), any node's from 6.7. Shrinks draw
    on the same free memory in pool order; the hugepages they release are not counted (each
    is freed only after its restore)."""
    if not request.nodes:
        return pools
    free = node_free_bytes(request, pools, pools[0].base_page_bytes if pools else 1)
    decided = []
    for pool in pools:
        shrink = pool.shrink
        if shrink is None or shrink.hugepages_released == 0:
            decided.append(pool)
            continue
        per_hugepage = shrink.restore_bytes // shrink.hugepages_released
        nodes = [pool.node] if kernel.restore_same_node else list(range(len(free)))
        available = sum(max(free[n], 0) for n in nodes)
        restorable = min(
            shrink.hugepages_released, available // per_hugepage if per_hugepage else shrink.hugepages_released
        )
        need = restorable * per_hugepage
        for n in nodes:  # take from the pool's own node first
            take = min(need, max(free[n], 0))
            free[n] -= take
            need -= take
        surplus = shrink.hugepages_released - restorable
        outcome = replace(
            shrink,
            available_bytes=available,
            succeeds=surplus == 0,
            surplus_hugepages=surplus,
            missing_bytes=max(0, shrink.restore_bytes - available),
        )
        decided.append(replace(pool, shrink=outcome))
    return decided


# What pools add up to, per node and for the host.
SUMMED = (
    "hugepages",
    "pool_bytes",
    "vmemmap_pages",
    "reserved_pages",
    "freed_pages",
    "pagetable_pages",
    "saved_pages",
    "saved_bytes",
    "shared_tail_pages",
)


def _sum(items: Sequence[object], field: str) -> int:
    return sum(getattr(item, field) for item in items)


def node_reports(request: PlanRequest, pools: list[PoolReport], base_page_bytes: int) -> list[NodeReport]:
    free = node_free_bytes(request, pools, base_page_bytes) if request.nodes else []
    ids = range(len(request.nodes)) if request.nodes else sorted({p.node for p in pools})
    reports = []
    for node in ids:
        on_node = [p for p in pools if p.node == node]
        reports.append(
            NodeReport(
                node=node,
                memory_bytes=request.nodes[node].memory if request.nodes else None,
                free_bytes=free[node] if request.nodes else None,
                pools=len(on_node),
                **{field: _sum(on_node, field) for field in SUMMED},
            )
        )
    return reports


def memory_budget(profile: ArchProfile, request: PlanRequest, pools: list[PoolReport]) -> MemoryBudget | None:
    """Struct pages as a share of RAM before and after HVO, and what /proc/meminfo gains."""
    if not request.nodes:
        return None
    memory = sum(n.memory for n in request.nodes)
    before = memory // profile.base_page * request.struct_page_bytes
    after = before - _sum(pools, "saved_bytes")
    return MemoryBudget(
        memory_bytes=memory,
        vmemmap_bytes_before=before,
        vmemmap_bytes_after=after,
        vmemmap_percent_before=percent(before, memory),
        vmemmap_percent_after=percent(after, memory),
        memtotal_gain_bytes=_sum(pools, "memtotal_gain_bytes"),
        memfree_gain_bytes=_sum(pools, "memfree_gain_bytes"),
        peak_transient_bytes=max((p.transient_bytes for p in pools), default=0),
    )


def host_report(
    request: PlanRequest, profile: ArchProfile, kernel: KernelBehaviour, pools: Sequence[PoolReport]
) -> HostReport:
    """The host as planned: architecture, kernel, what the request said of HVO, the advice."""
    return HostReport(
        arch=profile.arch,
        base_page_bytes=profile.base_page,
        kernel=kernel.version,
        kernel_requested=request.kernel,
        kernel_release=kernel.release,
        struct_page_bytes=request.struct_page_bytes,
        hvo_enabled=request.hvo,
        placement=request.placement,
        memory_bytes=sum(n.memory for n in request.nodes) if request.nodes else None,
        notes=[kernel.note] if kernel.note else [],
        head_copy_mandatory=kernel.head_copy_mandatory and kernel.hvo_available and request.hvo,
        hvo_enable_hint=plan_advice(request.hvo, kernel, pools),
    )


def plan_report(
    request: PlanRequest, profile: ArchProfile, kernel: KernelBehaviour, pools: list[PoolReport]
) -> PlanReport:
    """The whole report, from the pools' reports in request order (shrinks decided here)."""
    in_order = with_shrink_outcomes(request, kernel, pools)
    return PlanReport(
        tool=f"hvo-calc {__version__}",
        host=host_report(request, profile, kernel, in_order),
        pools=in_order,
        nodes=node_reports(request, in_order, profile.base_page),
        totals=totals(profile, request, in_order),
        memory=memory_budget(profile, request, in_order),
        known_issues=known_issues(kernel, request, in_order),
    )
