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
from hvo_calc.models import HostReport, PerHugepage, PlanReport, PoolReport, Totals, WouldFree
from hvo_calc.pagetable import PageTable
from hvo_calc.profiles import ArchProfile, Strict, find_profile
from hvo_calc.units import human_size, parse_size, short_size

DEFAULT_ARCH = "x86-64"
FIRST_HVO_RELEASE = (5, 14)  # no hugetlb boot line about vmemmap before it
# `hvo-calc plan` with no pools: a typical VM host with a 2M and a 1G pool.
DEFAULT_POOLS = (("2M", 4096), ("1G", 16))


class PoolRequest(Strict):
    """One pool as asked for."""

    hugepage_size: int
    count: int = Field(ge=1)
    node: int = Field(default=0, ge=0)
    name: str | None = None

    @field_validator("hugepage_size", mode="before")
    @classmethod
    def _size(cls, value: str | int) -> int:
        return parse_size(value, "hugepage size")


class PlanRequest(Strict):
    """A host and its pools, as asked for (flags or a plan file)."""

    arch: str = DEFAULT_ARCH
    base_page: int | None = None
    kernel: str = "latest"
    struct_page_bytes: int = Field(default=64, ge=8, le=4096)
    hvo: bool = True
    placement: Literal["packed", "scattered"] = "packed"
    pools: tuple[PoolRequest, ...] = ()
    window_ptes: int = Field(default=DEFAULT_WINDOW_PTES, ge=1)

    @field_validator("base_page", mode="before")
    @classmethod
    def _page(cls, value: str | int | None) -> int | None:
        return None if value is None else parse_size(value, "base page")


def default_pools() -> tuple[PoolRequest, ...]:
    return tuple(PoolRequest(hugepage_size=size, count=count) for size, count in DEFAULT_POOLS)


def plan(request: PlanRequest, progress: Callable[[int], None] | None = None) -> PlanReport:
    """Simulate every pool of the plan and report what HVO reserves, frees and saves."""
    profile = find_profile(request.arch, request.base_page)
    kernel = behaviour(request.kernel, profile.arch)
    pools = request.pools or default_pools()
    for pool in pools:
        check_hugepage_size(profile, pool.hugepage_size)
    extents = place(profile, request, pools)
    frames, pt = new_model(profile, request.struct_page_bytes)
    reports = []
    for index, (pool, extent) in enumerate(zip(pools, extents)):
        geometry = HugepageGeometry(pool.hugepage_size, profile.base_page, request.struct_page_bytes)
        reason = why_inactive(kernel, geometry, request.hvo)
        stats = simulate_pool(pt, frames, geometry, extent, sim_options(kernel, reason is None, request), progress)
        would = would_free(profile, request, geometry, extent, kernel, reason)
        reports.append(pool_report(profile, kernel, request, pool, index, geometry, stats, reason, would))
    host = HostReport(
        arch=profile.arch, base_page_bytes=profile.base_page, kernel=kernel.version,
        kernel_requested=request.kernel, struct_page_bytes=request.struct_page_bytes,
        hvo_enabled=request.hvo, placement=request.placement, notes=[kernel.note] if kernel.note else [],
    )
    return PlanReport(tool=f"hvo-calc {__version__}", host=host, pools=reports, totals=totals(profile, request, reports))


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
    """Put the pools in physical memory, one after another, each starting where its
    vmemmap starts a PMD block. `scattered` gives each hugepage a PMD block of its own."""
    block_pfns = vmemmap_block_pfns(profile, request.struct_page_bytes)
    extents, next_pfn = [], 0
    for pool in pools:
        pages = pool.hugepage_size // profile.base_page
        start = -(-next_pfn // lcm(pages, block_pfns)) * lcm(pages, block_pfns)
        stride = pages if request.placement == "packed" else -(-pages // block_pfns) * block_pfns
        extents.append(Extent(start, stride, pool.count))
        next_pfn = start + stride * pool.count
    limit = profile.max_memory_bytes(request.struct_page_bytes)
    if next_pfn * profile.base_page > limit:
        raise InputError(
            f"the pools need {human_size(next_pfn * profile.base_page)} of physical address space "
            f"({request.placement} placement); {profile.name} can address at most {human_size(limit)}"
        )
    return extents


def vmemmap_block_pfns(profile: ArchProfile, struct_page_bytes: int) -> int:
    """Base pages whose struct pages start each vmemmap PMD block (PTE page if PTE-mapped)."""
    block_bytes = 1 << profile.level_shift(profile.vmemmap_leaf)
    if profile.vmemmap_leaf == "pte":
        block_bytes = profile.base_page
    return block_bytes // gcd(block_bytes, struct_page_bytes)


def why_inactive(kernel: KernelBehaviour, geometry: HugepageGeometry, hvo_on: bool) -> str | None:
    """The one sentence saying why HVO frees nothing for this pool, or None."""
    if not kernel.hvo_available:
        return f"Linux {kernel.version} on {kernel.arch}: {kernel.why_unavailable}."
    if not hvo_on:
        return "HVO is switched off (hugetlb_free_vmemmap=off / vm.hugetlb_optimize_vmemmap=0)."
    reason = geometry.why_not_optimizable(kernel.reserve_pages)
    return f"{reason[0].upper()}{reason[1:]}." if reason else None


def sim_options(kernel: KernelBehaviour, optimize: bool, request: PlanRequest) -> SimOptions:
    return SimOptions(
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
    return PoolReport(
        name=pool.name or f"{short_size(pool.hugepage_size)}-{index}",
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
    )


def totals(profile: ArchProfile, request: PlanRequest, pools: list[PoolReport]) -> Totals:
    def total(field: str) -> int:
        return sum(getattr(p, field) for p in pools)

    sizes = {p.hugepage_bytes for p in pools}
    pool_bytes = total("pool_bytes")
    return Totals(
        arch=profile.arch, base_page_bytes=profile.base_page, struct_page_bytes=request.struct_page_bytes,
        hugepages=total("hugepages"), hugepage_bytes=pool_bytes, pool_bytes=pool_bytes,
        hvo_active=all(p.hvo_active for p in pools),
        reason=next((p.reason for p in pools if p.reason), None),
        per_hugepage=pools[0].per_hugepage if len(sizes) == 1 else None,
        vmemmap_pages=total("vmemmap_pages"), vmemmap_bytes=total("vmemmap_bytes"),
        reserved_pages=total("reserved_pages"), freed_pages=total("freed_pages"),
        pagetable_pages=total("pagetable_pages"), saved_pages=total("saved_pages"),
        saved_bytes=total("saved_bytes"), saved_percent=percent(total("saved_bytes"), pool_bytes),
    )
