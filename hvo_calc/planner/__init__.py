"""The planner: from a plan (host + pools) to a report, by running the engine.

Its rooms: `requests` (what is asked for, defaults and checks), `placement` (where pools
lie in the model's memory), `simulation` (kernel behaviour to the engine's options),
`prepare` (the one place that readies pools for the engine, for `plan`, `explain` and
`inspect`) and `report` (what the simulation counted, as the report). Every number in the
report comes from a `PoolStats`.
"""

from collections.abc import Callable

from hvo_calc.engine import simulate_pool
from hvo_calc.models import PlanReport, PoolReport
from hvo_calc.planner.placement import check_fits, model_span_pfns, new_model, place, vmemmap_block_pfns
from hvo_calc.planner.prepare import PreparedPlan, PreparedPool, prepare
from hvo_calc.planner.report import (
    SUMMED,
    boot_line,
    boot_line_pages,
    host_report,
    issue_bites,
    known_issues,
    memory_budget,
    node_free_bytes,
    node_reports,
    percent,
    plan_report,
    pool_report,
    savings,
    shrink_needs,
    totals,
    with_shrink_outcomes,
)
from hvo_calc.planner.requests import (
    DEFAULT_COUNTS,
    NodeRequest,
    PlanRequest,
    PoolRequest,
    check_hugepage_size,
    check_names,
    check_pool,
    check_struct_page,
    default_hugepage_size,
    default_pools,
    planned_hugepages,
    pool_names,
    with_sizes,
)
from hvo_calc.planner.simulation import is_preoptimized, sim_options, why_inactive, would_free

__all__ = [
    "DEFAULT_COUNTS",
    "SUMMED",
    "NodeRequest",
    "PlanRequest",
    "PoolRequest",
    "PreparedPlan",
    "PreparedPool",
    "boot_line",
    "boot_line_pages",
    "check_fits",
    "check_hugepage_size",
    "check_names",
    "check_pool",
    "check_struct_page",
    "default_hugepage_size",
    "default_pools",
    "host_report",
    "is_preoptimized",
    "issue_bites",
    "known_issues",
    "memory_budget",
    "model_span_pfns",
    "new_model",
    "node_free_bytes",
    "node_reports",
    "percent",
    "place",
    "plan",
    "plan_report",
    "planned_hugepages",
    "pool_names",
    "pool_report",
    "prepare",
    "savings",
    "shrink_needs",
    "sim_options",
    "simulate_pool",
    "totals",
    "vmemmap_block_pfns",
    "why_inactive",
    "with_shrink_outcomes",
    "with_sizes",
    "would_free",
]


def plan(request: PlanRequest, progress: Callable[[int], None] | None = None) -> PlanReport:
    """Simulate every pool of the plan and report what HVO reserves, frees and saves."""
    prepared = prepare(request)
    profile, kernel = prepared.profile, prepared.kernel
    frames, pt = new_model(profile, request.struct_page_bytes)
    reports: dict[int, PoolReport] = {}
    names = pool_names(tuple(p.pool for p in prepared.pools))
    for p in prepared.simulation_order():
        stats = simulate_pool(pt, frames, p.geometry, p.extent, p.options, progress)
        would = would_free(profile, request, p.geometry, p.extent, p.pool, kernel, p.reason)
        reports[p.index] = pool_report(
            profile, kernel, p.pool, names[p.index], p.geometry, stats, p.reason, would, p.preoptimized
        )
    return plan_report(request, profile, kernel, [reports[i] for i in range(len(prepared.pools))])
