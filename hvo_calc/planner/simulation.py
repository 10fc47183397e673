"""From kernel behaviour to simulation options: whether HVO acts on a pool, how the engine
is to run it, and what a kernel with HVO would free where this one frees nothing."""

from hvo_calc.engine import Extent, HugepageGeometry, SimOptions, simulate_pool
from hvo_calc.kernels import KernelBehaviour, would_be_behaviour
from hvo_calc.models import (
    WouldFree,
)
from hvo_calc.planner.placement import new_model
from hvo_calc.planner.report import savings
from hvo_calc.planner.requests import PlanRequest, PoolRequest
from hvo_calc.profiles import ArchProfile
from hvo_calc.rules import pool_rules


def why_inactive(kernel: KernelBehaviour, geometry: HugepageGeometry, hvo_on: bool) -> str | None:
    """The one sentence saying why HVO frees nothing for this pool, or None."""
    if not kernel.hvo_available:
        return f"Linux {kernel.release} on {kernel.arch}: {kernel.why_unavailable}."
    if not hvo_on:
        return "HVO is switched off (hugetlb_free_vmemmap=off / vm.hugetlb_optimize_vmemmap=0)."
    reason = geometry.why_not_optimizable(kernel.reserve_pages)
    return f"{reason[0].upper()}{reason[1:]}." if reason else None


def is_preoptimized(profile: ArchProfile, kernel: KernelBehaviour, pool: PoolRequest, reason: str | None) -> bool:
    """Boot-time gigantic pages whose vmemmap the kernel populates already optimized (6.15+
    on x86-64: only those aligned to 128 MiB and the section size, which PUD-sized pages are)."""
    size = profile.hugepage_size(pool.size_bytes)
    return bool(pool.boot and kernel.boot_preoptimize and size and size.mapped_by == "pud" and reason is None)


def sim_options(
    kernel: KernelBehaviour,
    optimize: bool,
    request: PlanRequest,
    profile: ArchProfile,
    pool: PoolRequest,
    geometry: HugepageGeometry,
    preoptimized: bool = False,
    shrink: bool = True,
) -> SimOptions:
    """How the engine runs the pool, and the rules its verifier holds it to: those come from
    the kernel data, the pool and the profile (`rules.pool_rules`), not from these options."""
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
            profile,
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
    stats = simulate_pool(
        pt, frames, geometry, extent, sim_options(other, True, request, profile, pool, geometry, shrink=False)
    )
    return WouldFree(kernel=other.version, hypothetical=other.hypothetical, **savings(stats, profile.base_page))
