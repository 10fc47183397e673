"""The planner: from a plan (host + pools) to a report, by running the engine.

It resolves the profile and kernel behaviour, places the pools in physical memory,
simulates each pool on one page-table model of the host and turns what the simulation
counted into the report. Every number in the report comes from a `PoolStats`.
"""

from collections.abc import Callable
from math import gcd, lcm
from typing import Literal

from pydantic import Field, field_validator

from hvo_calc import __version__
from hvo_calc.advice import plan_advice
from hvo_calc.engine import DEFAULT_WINDOW_PTES, Extent, HugepageGeometry, PoolStats, SimOptions, simulate_pool
from hvo_calc.errors import InputError, VerificationError
from hvo_calc.frames import FrameAllocator
from hvo_calc.kernels import KernelBehaviour, behaviour, parse_version, would_be_behaviour
from hvo_calc.models import (
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
from hvo_calc.pagetable import PageTable
from hvo_calc.profiles import DEFAULT_ARCH, ArchProfile, Strict, find_profile
from hvo_calc.rules import pool_rules
from hvo_calc.units import human_size, parse_size, short_size

FIRST_HVO_RELEASE = (5, 14)  # no hugetlb boot line about vmemmap before it
# `hvo-calc plan` with no pools: a typical VM host, with many hugepages of the size the PMD
# maps (2M on x86-64) and a few of the largest (1G): counts of each.
DEFAULT_COUNTS = (4096, 16)


class PoolRequest(Strict):
    """One pool as asked for."""

    hugepage_size: int | None = None  # None: the profile's default size (the one its PMD maps)
    count: int = Field(ge=1)
    node: int = Field(default=0, ge=0)
    name: str | None = None
    boot: bool = False
    shrink_to: int | None = Field(default=None, ge=0)
    zone: str = "normal"

    @field_validator("hugepage_size", mode="before")
    @classmethod
    def _size(cls, value: str | int | None) -> int | None:
        return None if value is None else parse_size(value, "hugepage size")

    @property
    def size_bytes(self) -> int:
        """The hugepage size, once `with_sizes` has settled it."""
        if self.hugepage_size is None:
            raise InputError("a pool has no hugepage size")
        return self.hugepage_size


class NodeRequest(Strict):
    """A NUMA node: its memory, and optionally what is free when a pool shrinks."""

    memory: int = Field(gt=0)
    free: int | None = Field(default=None, ge=0)

    @field_validator("memory", "free", mode="before")
    @classmethod
    def _size(cls, value: str | int | None) -> int | None:
        return None if value is None else parse_size(value, "node memory")


class PlanRequest(Strict):
    """A host and its pools, as asked for (flags or a plan file)."""

    arch: str = DEFAULT_ARCH
    base_page: int | None = None
    paging: int | None = None  # page-table levels, where an architecture has two (x86-64: 4 or 5)
    mmu: str | None = None  # powerpc64: radix or hash
    kernel: str = "latest"
    struct_page_bytes: int = Field(default=64, ge=8, le=4096)
    hvo: bool = True
    placement: Literal["packed", "scattered"] = "packed"
    nodes: tuple[NodeRequest, ...] = ()
    pools: tuple[PoolRequest, ...] = ()
    window_ptes: int = Field(default=DEFAULT_WINDOW_PTES, ge=1)

    @field_validator("base_page", mode="before")
    @classmethod
    def _page(cls, value: str | int | None) -> int | None:
        return None if value is None else parse_size(value, "base page")


def default_hugepage_size(profile: ArchProfile) -> int:
    """The size a pool has when none is given: the one a PMD maps (2M on x86-64)."""
    return next(
        (h.size for h in profile.hugepage if h.mapped_by == "pmd" and h.contiguous == 1), profile.hugepage[0].size
    )


def default_pools(profile: ArchProfile) -> tuple[PoolRequest, ...]:
    """The default host's pools: many of the PMD size, a few of the largest."""
    sizes = dict.fromkeys((default_hugepage_size(profile), max(h.size for h in profile.hugepage)))
    return tuple(PoolRequest(hugepage_size=size, count=count) for size, count in zip(sizes, DEFAULT_COUNTS))


def with_sizes(profile: ArchProfile, pools: tuple[PoolRequest, ...]) -> tuple[PoolRequest, ...]:
    """The pools asked for, a pool without a size taking the profile's default; none: the default host."""
    if not pools:
        return default_pools(profile)
    size = default_hugepage_size(profile)
    return tuple(p if p.hugepage_size is not None else p.model_copy(update={"hugepage_size": size}) for p in pools)


def planned_hugepages(request: PlanRequest) -> int:
    """Hugepages the plan will simulate (for progress)."""
    return sum(pool.count for pool in request.pools) or sum(DEFAULT_COUNTS)


def plan(request: PlanRequest, progress: Callable[[int], None] | None = None) -> PlanReport:
    """Simulate every pool of the plan and report what HVO reserves, frees and saves."""
    profile = find_profile(request.arch, request.base_page, request.paging, request.mmu)
    kernel = behaviour(request.kernel, profile.arch)
    check_struct_page(profile, request.struct_page_bytes)
    pools = with_sizes(profile, request.pools)
    for pool in pools:
        check_pool(profile, request, pool)
    check_names(pools)
    extents = place(profile, request, pools)
    frames, pt = new_model(profile, request.struct_page_bytes)
    reports: dict[int, PoolReport] = {}
    # Boot-time pools are optimized at boot, before any run-time pool: on 7.1+ the first of
    # them in a zone is the one whose shared tail page that zone keeps.
    for index in sorted(range(len(pools)), key=lambda i: not pools[i].boot):
        pool, extent = pools[index], extents[index]
        geometry = HugepageGeometry(pool.size_bytes, profile.base_page, request.struct_page_bytes)
        reason = why_inactive(kernel, geometry, request.hvo)
        preoptimized = is_preoptimized(profile, kernel, pool, reason)
        options = sim_options(kernel, reason is None, request, pool, geometry, preoptimized)
        stats = simulate_pool(pt, frames, geometry, extent, options, progress)
        would = would_free(profile, request, geometry, extent, pool, kernel, reason)
        reports[index] = pool_report(profile, kernel, pool, index, geometry, stats, reason, would, preoptimized)
    in_order = with_shrink_outcomes(request, kernel, [reports[i] for i in range(len(pools))])
    memory = sum(n.memory for n in request.nodes) if request.nodes else None
    host = HostReport(
        arch=profile.arch,
        base_page_bytes=profile.base_page,
        kernel=kernel.version,
        kernel_requested=request.kernel,
        kernel_release=kernel.release,
        struct_page_bytes=request.struct_page_bytes,
        hvo_enabled=request.hvo,
        placement=request.placement,
        memory_bytes=memory,
        notes=[kernel.note] if kernel.note else [],
        head_copy_mandatory=kernel.head_copy_mandatory and kernel.hvo_available and request.hvo,
        hvo_enable_hint=plan_advice(request.hvo, kernel, in_order),
    )
    return PlanReport(
        tool=f"hvo-calc {__version__}",
        host=host,
        pools=in_order,
        nodes=node_reports(request, in_order),
        totals=totals(profile, request, in_order),
        memory=memory_budget(profile, request, in_order),
        known_issues=known_issues(kernel, request, in_order),
    )


def check_struct_page(profile: ArchProfile, struct_page_bytes: int) -> None:
    """The kernel refuses to build (BUILD_BUG_ON) with a struct page over a third of a page."""
    most = profile.base_page // 3
    if struct_page_bytes > most:
        raise InputError(
            f"--struct-page-size {struct_page_bytes} is more than a third of a "
            f"{short_size(profile.base_page)} page; the kernel cannot be built so: accepted: 8 to {most}"
        )


def is_preoptimized(profile: ArchProfile, kernel: KernelBehaviour, pool: PoolRequest, reason: str | None) -> bool:
    """Boot-time gigantic pages whose vmemmap the kernel populates already optimized (6.15+
    on x86-64: only those aligned to 128 MiB and the section size, which PUD-sized pages are)."""
    size = profile.hugepage_size(pool.size_bytes)
    return bool(pool.boot and kernel.boot_preoptimize and size and size.mapped_by == "pud" and reason is None)


def known_issues(kernel: KernelBehaviour, request: PlanRequest, pools: list[PoolReport]) -> list[KnownIssueReport]:
    """The known problems of the planned release, each with the pools it bites."""
    found = []
    for issue in kernel.known_issues:
        bitten = [p.name for p in pools if issue_bites(issue.condition, p)]
        fields = issue.model_dump(include=set(KnownIssueReport.model_fields) - {"pools"})
        found.append(KnownIssueReport(**fields, pools=bitten))
    return found


def issue_bites(condition: str, pool: PoolReport) -> bool:
    """Whether a known issue's condition holds for this pool."""
    if condition == "hvo-on-shrink":
        return pool.hvo_active and pool.shrink is not None and pool.shrink.hugepages_released > 0
    return pool.hvo_active


def check_pool(profile: ArchProfile, request: PlanRequest, pool: PoolRequest) -> None:
    check_hugepage_size(profile, pool.size_bytes)
    if pool.node >= max(1, len(request.nodes)):
        nodes = f"nodes 0 to {len(request.nodes) - 1}" if request.nodes else "no [[node]] entries: accepted: node 0"
        raise InputError(f"a pool is on node {pool.node}, but the plan has {nodes}")
    zones = profile.zones
    if pool.zone not in zones:
        raise InputError(f"{profile.name} has no zone {pool.zone!r} for hugepages; accepted: {', '.join(zones)}")
    if pool.shrink_to is not None and pool.shrink_to > pool.count:
        raise InputError(
            f"shrink_to {pool.shrink_to} is more than the pool's {pool.count} hugepages; accepted: 0 to {pool.count}"
        )


def pool_name(pool: PoolRequest, index: int) -> str:
    return pool.name or f"{short_size(pool.size_bytes)}-{index}"


def check_names(pools: tuple[PoolRequest, ...]) -> None:
    """Pools are told apart by name in every report (a Prometheus series each)."""
    names = [pool_name(pool, index) for index, pool in enumerate(pools)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InputError(f"pool name {twice[0]!r} is given to more than one pool; each pool needs a name of its own")


def check_hugepage_size(profile: ArchProfile, size_bytes: int) -> None:
    if profile.hugepage_size(size_bytes) is None:
        sizes = ", ".join(short_size(h.size) for h in profile.hugepage)
        raise InputError(f"{profile.name} has no {short_size(size_bytes)} hugepages; accepted: {sizes}")


def new_model(profile: ArchProfile, struct_page_bytes: int) -> tuple[FrameAllocator, PageTable]:
    """An empty host: frames numbered above any memory the pools can occupy."""
    first_model_pfn = (1 << profile.max_physmem_bits) // profile.base_page
    frames = FrameAllocator(first_model_pfn, boot_span_pages=first_model_pfn)
    return frames, PageTable(profile, frames)


def place(profile: ArchProfile, request: PlanRequest, pools: tuple[PoolRequest, ...]) -> list[Extent]:
    """Lay the pools out in the model's physical address space, one after another, each
    starting where its vmemmap starts a PMD block, so no two pools share a page table.

    What a user may plan is bounded by real memory: each node's size, and the physical
    addresses the architecture has. The model's own layout is not: its alignment gaps
    (on arm64 with 64K pages a vmemmap PMD block describes 512 GiB) live in an address
    space as large as the model's vmemmap addresses reach. `scattered` gives each
    hugepage a PMD block of its own where its node's memory has room for that, and
    otherwise spreads the node's hugepages, of all its pools, evenly over that memory (so
    however a node's hugepages are cut into pools, they split no more blocks than it has)."""
    limit = profile.max_memory_bytes(request.struct_page_bytes)
    memory = [n.memory for n in request.nodes] or [limit]
    if sum(memory) > limit:
        raise InputError(
            f"the nodes hold {human_size(sum(memory))}; {profile.name} can address at most "
            f"{human_size(limit)} of physical memory"
        )
    check_fits(profile, request, pools, memory, limit)
    page = profile.base_page
    block_pfns = vmemmap_block_pfns(profile, request.struct_page_bytes)
    # Scattered hugepages start their vmemmap on a page; where it is PMD-mapped, each in a block of its own.
    page_pfns = page // gcd(page, request.struct_page_bytes)
    scatter_pfns = block_pfns if profile.vmemmap_leaf == "pmd" else page_pfns
    # Scattered pools of a node share its memory: hugepages spread over it, all pools' alike.
    on_node = [sum(p.count for p in pools if p.node == node) for node in range(len(memory))]
    next_pfn, extents = 0, []
    for pool in pools:
        pages = pool.size_bytes // page
        start = -(-next_pfn // lcm(pages, block_pfns)) * lcm(pages, block_pfns)
        stride = pages
        if request.placement == "scattered":
            align = lcm(pages, page_pfns)
            spread = max(align, memory[pool.node] // page // on_node[pool.node] // align * align)
            stride = min(-(-pages // scatter_pfns) * scatter_pfns, spread)
        extents.append(Extent(start, stride, pool.count))
        next_pfn = start + stride * pool.count
    if next_pfn > model_span_pfns(profile, request.struct_page_bytes):
        raise VerificationError("the model's layout of the pools runs past the top of its vmemmap addresses")
    return extents


def check_fits(
    profile: ArchProfile, request: PlanRequest, pools: tuple[PoolRequest, ...], memory: list[int], limit: int
) -> None:
    """The hugepages of each node fit in its memory (or in what the architecture can address)."""
    for node, room in enumerate(memory):
        need = sum(p.count * p.size_bytes for p in pools if p.node == node)
        if need > room:
            need_text, room_text = human_size(need), human_size(room)
            if need_text == room_text:  # apart by less than the rounding: say it in bytes
                need_text, room_text = f"{need:,} bytes", f"{room:,} bytes"
            where = (
                f"node {node} has {room_text}"
                if request.nodes
                else f"{profile.name} can address at most {room_text} of physical memory "
                f"({profile.max_physmem_bits}-bit physical addresses)"
            )
            raise InputError(f"the pools need {need_text} of hugepages; {where}")


def model_span_pfns(profile: ArchProfile, struct_page_bytes: int) -> int:
    """Pages whose struct pages the model can address: from the vmemmap's start to the top
    of the 64-bit address space (the real window is smaller; the model only indexes it)."""
    return ((1 << 64) - profile.vmemmap_start) // struct_page_bytes


def vmemmap_block_pfns(profile: ArchProfile, struct_page_bytes: int) -> int:
    """Base pages whose struct pages fill one vmemmap PMD block: every pool starts on one,
    so no two pools share a PMD block (or, where the vmemmap is PTE-mapped, a PTE table)."""
    block_bytes = 1 << profile.level_shift("pmd")
    return block_bytes // gcd(block_bytes, struct_page_bytes)


def why_inactive(kernel: KernelBehaviour, geometry: HugepageGeometry, hvo_on: bool) -> str | None:
    """The one sentence saying why HVO frees nothing for this pool, or None."""
    if not kernel.hvo_available:
        return f"Linux {kernel.release} on {kernel.arch}: {kernel.why_unavailable}."
    if not hvo_on:
        return "HVO is switched off (hugetlb_free_vmemmap=off / vm.hugetlb_optimize_vmemmap=0)."
    reason = geometry.why_not_optimizable(kernel.reserve_pages)
    return f"{reason[0].upper()}{reason[1:]}." if reason else None


def sim_options(
    kernel: KernelBehaviour,
    optimize: bool,
    request: PlanRequest,
    pool: PoolRequest,
    geometry: HugepageGeometry,
    preoptimized: bool = False,
    shrink: bool = True,
) -> SimOptions:
    order = geometry.struct_pages.bit_length() - 1  # the hugepage's order, as zone->vmemmap_tails[] is indexed
    return SimOptions(
        keep_hugepages=pool.shrink_to if shrink else None,
        optimize=optimize,
        reserve_pages=kernel.reserve_pages,
        copy_reuse=kernel.head_page_copy,
        tlb_per_batch=kernel.tlb_flush == "per-batch",
        shared_tail=(pool.node, pool.zone, order) if kernel.shared_tail_page else None,
        preoptimized=preoptimized,
        window_ptes=request.window_ptes,
        rules=pool_rules(
            kernel,
            pool,
            find_profile(request.arch, request.base_page, request.paging, request.mmu),
            geometry.hugepage_bytes,
            geometry.struct_page_bytes,
            hvo_on=optimize,
            what_if=not shrink,
        ),
    )


def would_free(
    profile: ArchProfile,
    request: PlanRequest,
    geometry: HugepageGeometry,
    extent: Extent,
    pool: PoolRequest,
    kernel: KernelBehaviour,
    reason: str | None,
) -> WouldFree | None:
    """Where this kernel has no HVO (or it is off), what a kernel with it would free."""
    if reason is None:
        return None
    other = kernel if kernel.hvo_available else would_be_behaviour(profile.arch)
    if other is None or geometry.why_not_optimizable(other.reserve_pages):
        return None
    frames, pt = new_model(profile, request.struct_page_bytes)
    stats = simulate_pool(pt, frames, geometry, extent, sim_options(other, True, request, pool, geometry, shrink=False))
    return WouldFree(kernel=other.version, hypothetical=other.hypothetical, **savings(stats, profile.base_page))


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
    if parse_version(kernel.version) < FIRST_HVO_RELEASE:
        return None
    return kernel.boot_line.format(
        pages=freed_per_hugepage,
        kib=freed_per_hugepage * geometry.base_page_bytes // 1024,
        size=human_size(geometry.hugepage_bytes),
        size_kib=geometry.hugepage_bytes // 1024,
    )


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


def pool_report(
    profile: ArchProfile,
    kernel: KernelBehaviour,
    pool: PoolRequest,
    index: int,
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
        name=pool_name(pool, index),
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
        memmap_boot_pages_freed=stats.boot_pages_freed,
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


def node_free_bytes(request: PlanRequest, pools: list[PoolReport]) -> list[int]:
    """Free memory per node when pools shrink: as given, else what the plan leaves free
    (node memory less its hugepages and the struct pages still mapped for all of it)."""
    free = []
    for node, spec in enumerate(request.nodes):
        if spec.free is not None:
            free.append(spec.free)
            continue
        on_node = [p for p in pools if p.node == node]
        struct_pages = spec.memory // pools[0].base_page_bytes * request.struct_page_bytes
        free.append(
            spec.memory - sum(p.pool_bytes for p in on_node) - struct_pages + sum(p.saved_bytes for p in on_node)
        )
    return free


def with_shrink_outcomes(request: PlanRequest, kernel: KernelBehaviour, pools: list[PoolReport]) -> list[PoolReport]:
    """Decide each shrink under the restore policy: its node's free memory before 6.7
    (5.14-6.3 without retrying, 6.4-6.6 retrying harder), any node's from 6.7. Shrinks draw
    on the same free memory in pool order; the hugepages they release are not counted (each
    is freed only after its restore)."""
    if not request.nodes:
        return pools
    free = node_free_bytes(request, pools)
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
        outcome = shrink.model_copy(
            update=dict(
                available_bytes=available,
                succeeds=surplus == 0,
                surplus_hugepages=surplus,
                missing_bytes=max(0, shrink.restore_bytes - available),
            )
        )
        decided.append(pool.model_copy(update=dict(shrink=outcome)))
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


def _sum(items: list, field: str) -> int:
    return sum(getattr(item, field) for item in items)


def node_reports(request: PlanRequest, pools: list[PoolReport]) -> list[NodeReport]:
    free = node_free_bytes(request, pools) if request.nodes else []
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
