"""The planner: from a plan (host + pools) to a report, by running the engine.

It resolves the profile and kernel behaviour, places the pools in physical memory,
simulates each pool on one page-table model of the host and turns what the simulation
counted into the report. Every number in the report comes from a `PoolStats`.
"""

from math import gcd, lcm
from typing import Callable, Literal

from pydantic import Field, field_validator

from hvo_calc import __version__
from hvo_calc.engine import DEFAULT_WINDOW_PTES, Extent, HugepageGeometry, PoolStats, SimOptions, simulate_pool
from hvo_calc.errors import InputError
from hvo_calc.frames import FrameAllocator
from hvo_calc.kernels import KernelBehaviour, behaviour, last_release_with_hvo, parse_version
from hvo_calc.models import (HostReport, MemoryBudget, NodeReport, PerHugepage, PlanReport, PoolReport,
                             ShrinkReport, Totals, WouldFree)
from hvo_calc.pagetable import PageTable
from hvo_calc.profiles import DEFAULT_ARCH, ArchProfile, Strict, find_profile
from hvo_calc.units import human_size, parse_size, short_size

FIRST_HVO_RELEASE = (5, 14)  # no hugetlb boot line about vmemmap before it
# `hvo-calc plan` with no pools: a typical VM host with a 2M and a 1G pool.
DEFAULT_POOLS = (("2M", 4096), ("1G", 16))


class PoolRequest(Strict):
    """One pool as asked for."""

    hugepage_size: int
    count: int = Field(ge=1)
    node: int = Field(default=0, ge=0)
    name: str | None = None
    boot: bool = False
    shrink_to: int | None = Field(default=None, ge=0)

    @field_validator("hugepage_size", mode="before")
    @classmethod
    def _size(cls, value: str | int) -> int:
        return parse_size(value, "hugepage size")


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


def default_pools() -> tuple[PoolRequest, ...]:
    return tuple(PoolRequest(hugepage_size=size, count=count) for size, count in DEFAULT_POOLS)


def planned_hugepages(request: PlanRequest) -> int:
    """Hugepages the plan will simulate (for progress)."""
    return sum(pool.count for pool in request.pools or default_pools())


def plan(request: PlanRequest, progress: Callable[[int], None] | None = None) -> PlanReport:
    """Simulate every pool of the plan and report what HVO reserves, frees and saves."""
    profile = find_profile(request.arch, request.base_page)
    kernel = behaviour(request.kernel, profile.arch)
    pools = request.pools or default_pools()
    for pool in pools:
        check_pool(profile, request, pool)
    check_names(pools)
    extents = place(profile, request, pools)
    frames, pt = new_model(profile, request.struct_page_bytes)
    reports = []
    for index, (pool, extent) in enumerate(zip(pools, extents)):
        geometry = HugepageGeometry(pool.hugepage_size, profile.base_page, request.struct_page_bytes)
        reason = why_inactive(kernel, geometry, request.hvo)
        options = sim_options(kernel, reason is None, request, pool.shrink_to)
        stats = simulate_pool(pt, frames, geometry, extent, options, progress)
        would = would_free(profile, request, geometry, extent, kernel, reason)
        reports.append(pool_report(profile, kernel, request, pool, index, geometry, stats, reason, would))
    reports = with_shrink_outcomes(request, kernel, reports)
    memory = sum(n.memory for n in request.nodes) if request.nodes else None
    host = HostReport(
        arch=profile.arch, base_page_bytes=profile.base_page, kernel=kernel.version,
        kernel_requested=request.kernel, struct_page_bytes=request.struct_page_bytes,
        hvo_enabled=request.hvo, placement=request.placement, memory_bytes=memory,
        notes=[kernel.note] if kernel.note else [],
    )
    return PlanReport(
        tool=f"hvo-calc {__version__}", host=host, pools=reports, nodes=node_reports(request, reports),
        totals=totals(profile, request, reports), memory=memory_budget(profile, request, reports),
    )


def check_pool(profile: ArchProfile, request: PlanRequest, pool: PoolRequest) -> None:
    check_hugepage_size(profile, pool.hugepage_size)
    if pool.node >= max(1, len(request.nodes)):
        nodes = f"nodes 0 to {len(request.nodes) - 1}" if request.nodes else "no [[node]] entries: accepted: node 0"
        raise InputError(f"a pool is on node {pool.node}, but the plan has {nodes}")
    if pool.shrink_to is not None and pool.shrink_to > pool.count:
        raise InputError(f"shrink_to {pool.shrink_to} is more than the pool's {pool.count} hugepages; "
                         f"accepted: 0 to {pool.count}")


def pool_name(pool: PoolRequest, index: int) -> str:
    return pool.name or f"{short_size(pool.hugepage_size)}-{index}"


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
    `scattered` gives each hugepage a PMD block of its own.

    A node's size limits how much memory its pools take, not where the model puts them:
    the alignment gaps are the model's, not memory the pools use (on arm64 with 64K pages
    a vmemmap PMD block describes 512 GiB)."""
    limit = profile.max_memory_bytes(request.struct_page_bytes)
    memory = [n.memory for n in request.nodes] or [limit]
    if sum(memory) > limit:
        raise InputError(f"the nodes hold {human_size(sum(memory))}; {profile.name} can address at most "
                         f"{human_size(limit)}")
    block_pfns = vmemmap_block_pfns(profile, request.struct_page_bytes)
    # Scattered: each hugepage's vmemmap in a block of its own; only PMD leaves get split.
    page = profile.base_page
    scatter_pfns = block_pfns if profile.vmemmap_leaf == "pmd" else page // gcd(page, request.struct_page_bytes)
    used_pfns = [0] * len(memory)
    next_pfn, extents = 0, []
    for pool in pools:
        pages = pool.hugepage_size // page
        start = -(-next_pfn // lcm(pages, block_pfns)) * lcm(pages, block_pfns)
        stride = pages if request.placement == "packed" else -(-pages // scatter_pfns) * scatter_pfns
        extents.append(Extent(start, stride, pool.count))
        next_pfn = start + stride * pool.count
        used_pfns[pool.node] += stride * pool.count
    for node, used in enumerate(used_pfns):
        if used > memory[node] // page:
            where = f"node {node} has {human_size(memory[node])}" if request.nodes else \
                f"{profile.name} can address at most {human_size(limit)}"
            raise InputError(f"the pools need {human_size(used * page)} of physical memory "
                             f"({request.placement} placement); {where}")
    if next_pfn * page > limit:
        raise InputError(f"with each pool starting on a vmemmap PMD block ({human_size(block_pfns * page)} of "
                         f"physical memory), the pools span {human_size(next_pfn * page)}; {profile.name} can "
                         f"address at most {human_size(limit)}: plan fewer pools")
    return extents


def vmemmap_block_pfns(profile: ArchProfile, struct_page_bytes: int) -> int:
    """Base pages whose struct pages fill one vmemmap PMD block: every pool starts on one,
    so no two pools share a PMD block (or, where the vmemmap is PTE-mapped, a PTE table)."""
    block_bytes = 1 << profile.level_shift("pmd")
    return block_bytes // gcd(block_bytes, struct_page_bytes)


def why_inactive(kernel: KernelBehaviour, geometry: HugepageGeometry, hvo_on: bool) -> str | None:
    """The one sentence saying why HVO frees nothing for this pool, or None."""
    if not kernel.hvo_available:
        return f"Linux {kernel.version} on {kernel.arch}: {kernel.why_unavailable}."
    if not hvo_on:
        return "HVO is switched off (hugetlb_free_vmemmap=off / vm.hugetlb_optimize_vmemmap=0)."
    reason = geometry.why_not_optimizable(kernel.reserve_pages)
    return f"{reason[0].upper()}{reason[1:]}." if reason else None


def sim_options(kernel: KernelBehaviour, optimize: bool, request: PlanRequest,
                keep_hugepages: int | None = None) -> SimOptions:
    return SimOptions(
        keep_hugepages=keep_hugepages,
        optimize=optimize,
        reserve_pages=kernel.reserve_pages,
        copy_reuse=kernel.head_page_copy,
        populate_basepages=kernel.vmemmap_pmd == "populate-basepages",
        tlb_per_batch=kernel.tlb_flush == "per-batch",
        window_ptes=request.window_ptes,
    )


def would_free(profile: ArchProfile, request: PlanRequest, geometry: HugepageGeometry, extent: Extent,
               kernel: KernelBehaviour, reason: str | None) -> WouldFree | None:
    """Where this kernel has no HVO (or it is off), what a kernel with it would free."""
    if reason is None:
        return None
    release = kernel.version if kernel.hvo_available else last_release_with_hvo(profile.arch)
    if release is None:
        return None
    other = behaviour(release, profile.arch)
    if geometry.why_not_optimizable(other.reserve_pages):
        return None
    frames, pt = new_model(profile, request.struct_page_bytes)
    stats = simulate_pool(pt, frames, geometry, extent, sim_options(other, True, request))
    return WouldFree(kernel=release, **savings(stats, profile.base_page))


def savings(stats: PoolStats, page_bytes: int) -> dict[str, int]:
    saved = stats.freed_pages - stats.pagetable_pages
    return dict(freed_pages=stats.freed_pages, pagetable_pages=stats.pagetable_pages,
                saved_pages=saved, saved_bytes=saved * page_bytes)


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


def pool_report(profile: ArchProfile, kernel: KernelBehaviour, request: PlanRequest, pool: PoolRequest,
                index: int, geometry: HugepageGeometry, stats: PoolStats, reason: str | None,
                would: WouldFree | None) -> PoolReport:
    if stats.freed_pages % stats.hugepages:
        raise AssertionError("hugepages of one pool were freed unequally")
    freed_each = stats.freed_pages // stats.hugepages
    size = profile.hugepage_size(pool.hugepage_size)
    pool_bytes = pool.count * pool.hugepage_size
    money = savings(stats, profile.base_page)
    kept_bytes = (stats.reserved_pages + stats.pagetable_pages) * profile.base_page
    # The whole vmemmap exists before the tails are freed, split tables included; on
    # kernels that optimize boot-time gigantic pages before populating them, it never does.
    preoptimized = pool.boot and kernel.boot_preoptimize and size.mapped_by == "pud" and reason is None
    peak = kept_bytes if preoptimized else (stats.vmemmap_pages + stats.pagetable_pages) * profile.base_page
    return PoolReport(
        name=pool_name(pool, index),
        arch=profile.arch, node=pool.node, base_page_bytes=profile.base_page,
        hugepage_bytes=pool.hugepage_size, hugepage_size=short_size(pool.hugepage_size),
        mapped_by=size.mapping, hugepages=stats.hugepages, pool_bytes=pool_bytes,
        struct_page_bytes=geometry.struct_page_bytes, kernel=kernel.version,
        hvo_active=reason is None, reason=reason,
        per_hugepage=PerHugepage(
            struct_pages=geometry.struct_pages, vmemmap_bytes=geometry.vmemmap_bytes,
            vmemmap_pages=geometry.vmemmap_pages, reserved_pages=geometry.vmemmap_pages - freed_each,
            freed_pages=freed_each,
        ),
        vmemmap_pages=stats.vmemmap_pages, vmemmap_bytes=stats.vmemmap_pages * profile.base_page,
        reserved_pages=stats.reserved_pages, **money,
        saved_percent=percent(money["saved_bytes"], pool_bytes),
        split_pmds=stats.split_pmds, tlb_flushes=stats.tlb_flushes,
        boot_line=boot_line(kernel, geometry, freed_each), would_free=would,
        boot_time=pool.boot, memtotal_gain_bytes=stats.boot_pages_freed * profile.base_page,
        memfree_gain_bytes=money["saved_bytes"], peak_vmemmap_bytes=peak, transient_bytes=peak - kept_bytes,
        shrink=shrink_needs(kernel, pool, stats, profile.base_page),
    )


def totals(profile: ArchProfile, request: PlanRequest, pools: list[PoolReport]) -> Totals:
    sizes = {p.hugepage_bytes for p in pools}
    pool_bytes = _sum(pools, "pool_bytes")
    return Totals(
        arch=profile.arch, base_page_bytes=profile.base_page, struct_page_bytes=request.struct_page_bytes,
        hugepage_bytes=pool_bytes, hvo_active=all(p.hvo_active for p in pools),
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
        shrink_to=pool.shrink_to, hugepages_released=pool.count - pool.shrink_to,
        restore_pages=stats.restore_pages_allocated, restore_bytes=restore, policy=kernel.restore_policy,
        available_bytes=None, succeeds=None, surplus_hugepages=0, missing_bytes=0,
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
        free.append(spec.memory - sum(p.pool_bytes for p in on_node) - struct_pages
                    + sum(p.saved_bytes for p in on_node))
    return free


def with_shrink_outcomes(request: PlanRequest, kernel: KernelBehaviour, pools: list[PoolReport]) -> list[PoolReport]:
    """Decide each shrink under the restore policy: its node's free memory before 6.7,
    any node's from 6.7. Shrinks draw on the same free memory in pool order; the
    hugepages they release are not counted (each is freed only after its restore)."""
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
        nodes = [pool.node] if shrink.policy == "same-node" else list(range(len(free)))
        available = sum(max(free[n], 0) for n in nodes)
        restorable = min(shrink.hugepages_released, available // per_hugepage if per_hugepage else shrink.hugepages_released)
        need = restorable * per_hugepage
        for n in nodes:  # take from the pool's own node first
            take = min(need, max(free[n], 0))
            free[n] -= take
            need -= take
        surplus = shrink.hugepages_released - restorable
        outcome = shrink.model_copy(update=dict(
            available_bytes=available, succeeds=surplus == 0, surplus_hugepages=surplus,
            missing_bytes=max(0, shrink.restore_bytes - available),
        ))
        decided.append(pool.model_copy(update=dict(shrink=outcome)))
    return decided


# What pools add up to, per node and for the host.
SUMMED = ("hugepages", "pool_bytes", "vmemmap_pages", "reserved_pages", "freed_pages", "pagetable_pages",
          "saved_pages", "saved_bytes")


def _sum(items: list, field: str) -> int:
    return sum(getattr(item, field) for item in items)


def node_reports(request: PlanRequest, pools: list[PoolReport]) -> list[NodeReport]:
    free = node_free_bytes(request, pools) if request.nodes else []
    ids = range(len(request.nodes)) if request.nodes else sorted({p.node for p in pools})
    reports = []
    for node in ids:
        on_node = [p for p in pools if p.node == node]
        reports.append(NodeReport(
            node=node, memory_bytes=request.nodes[node].memory if request.nodes else None,
            free_bytes=free[node] if request.nodes else None, pools=len(on_node),
            **{field: _sum(on_node, field) for field in SUMMED},
        ))
    return reports


def memory_budget(profile: ArchProfile, request: PlanRequest, pools: list[PoolReport]) -> MemoryBudget | None:
    """Struct pages as a share of RAM before and after HVO, and what /proc/meminfo gains."""
    if not request.nodes:
        return None
    memory = sum(n.memory for n in request.nodes)
    before = memory // profile.base_page * request.struct_page_bytes
    after = before - _sum(pools, "saved_bytes")
    return MemoryBudget(
        memory_bytes=memory, vmemmap_bytes_before=before, vmemmap_bytes_after=after,
        vmemmap_percent_before=percent(before, memory), vmemmap_percent_after=percent(after, memory),
        memtotal_gain_bytes=_sum(pools, "memtotal_gain_bytes"), memfree_gain_bytes=_sum(pools, "memfree_gain_bytes"),
        peak_transient_bytes=max((p.transient_bytes for p in pools), default=0),
    )
