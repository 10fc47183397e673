"""One place that prepares pools for the engine: profile, kernel behaviour, the request's
checks, placement, each pool's geometry and simulation options. `plan`, `explain` and
`inspect` (through `plan`) prepare with it, so they run the same checks in the same order."""

from hvo_calc.engine import Extent, HugepageGeometry, SimOptions
from hvo_calc.kernels import KernelBehaviour, behaviour
from hvo_calc.planner.placement import place
from hvo_calc.planner.requests import (
    PlanRequest,
    PoolRequest,
    check_names,
    check_pool,
    check_struct_page,
    with_sizes,
)
from hvo_calc.planner.simulation import is_preoptimized, sim_options, why_inactive
from hvo_calc.profiles import ArchProfile, find_profile
from hvo_calc.record import frozen


@frozen
class PreparedPool:
    """One pool, ready for `simulate_pool`: where it lies, its geometry, whether HVO acts on
    it (and why not), and the engine's options."""

    index: int  # its place in the request (and in the report)
    pool: PoolRequest
    extent: Extent
    geometry: HugepageGeometry
    reason: str | None  # why HVO frees nothing for it; None when it acts
    preoptimized: bool
    options: SimOptions


@frozen
class PreparedPlan:
    request: PlanRequest
    profile: ArchProfile
    kernel: KernelBehaviour
    pools: tuple[PreparedPool, ...]  # in request order

    def simulation_order(self) -> tuple[PreparedPool, ...]:
        """Boot-time pools are optimized at boot, before any run-time pool: on 7.1+ the first
        of them in a zone is the one whose shared tail page that zone keeps."""
        return tuple(sorted(self.pools, key=lambda p: not p.pool.boot))


def prepare(request: PlanRequest, shrink: bool = True) -> PreparedPlan:
    """The request checked and its pools prepared (InputError for what cannot be planned).
    `shrink=False` leaves shrink_to out of the engine's options (explain shows the optimize path)."""
    profile = find_profile(request.arch, request.base_page, request.paging, request.mmu)
    kernel = behaviour(request.kernel, profile.arch)
    check_struct_page(profile, request.struct_page_bytes)
    pools = with_sizes(profile, request.pools, request.host_only)
    for pool in pools:
        check_pool(profile, request, pool)
    check_names(pools)
    extents = place(profile, request, pools)
    prepared = tuple(
        prepare_pool(request, profile, kernel, index, pool, extent, shrink)
        for index, (pool, extent) in enumerate(zip(pools, extents, strict=True))
    )
    return PreparedPlan(request=request, profile=profile, kernel=kernel, pools=prepared)


def prepare_pool(
    request: PlanRequest,
    profile: ArchProfile,
    kernel: KernelBehaviour,
    index: int,
    pool: PoolRequest,
    extent: Extent,
    shrink: bool,
) -> PreparedPool:
    geometry = HugepageGeometry(pool.size_bytes, profile.base_page, request.struct_page_bytes)
    reason = why_inactive(kernel, geometry, request.hvo)
    preoptimized = is_preoptimized(profile, kernel, pool, reason)
    # The verifier's window rules come with the options, from the kernel data, the pool and
    # the profile (rules.pool_rules), not from the engine's own choices.
    options = sim_options(kernel, reason is None, request, profile, pool, geometry, preoptimized, shrink=shrink)
    return PreparedPool(index, pool, extent, geometry, reason, preoptimized, options)
