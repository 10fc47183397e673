"""Recommend a layout: for each hugepage size (and release) that can hold the need, the pools
that hold it, planned by `plan()`, ranked by the memory HVO returns; the impossible ones with why."""

from collections.abc import Sequence

from hvo_calc.compare.models import Impossible, Layout, RecommendReport
from hvo_calc.compare.scenarios import figures
from hvo_calc.errors import InputError
from hvo_calc.kernel_cmdline import cmdline_for
from hvo_calc.planner import PlanRequest, PoolRequest, plan
from hvo_calc.profiles import find_profile
from hvo_calc.record import RecordError, build, values
from hvo_calc.units import short_size


def pools_for(need_bytes: int, size_bytes: int, nodes: int, boot: bool) -> tuple[PoolRequest, ...]:
    """Whole hugepages holding the need, spread evenly over the nodes (each node's share rounded up)."""
    share = -(-need_bytes // nodes)
    count = -(-share // size_bytes)
    return tuple(PoolRequest(hugepage_size=size_bytes, count=count, node=node, boot=boot) for node in range(nodes))


def _reason(exc: InputError | RecordError) -> str:
    return str(exc) if isinstance(exc, InputError) else exc.problem


def _layout(request: PlanRequest, need_bytes: int, boot: bool) -> Layout:
    report = plan(request)
    pool = report.pools[0]
    return Layout(
        rank=0,
        kernel=report.host.kernel,
        hugepage_size=pool.hugepage_size,
        hugepage_bytes=pool.hugepage_bytes,
        boot=boot,
        nodes=len(report.pools),
        extra_bytes=report.totals.pool_bytes - need_bytes,
        hvo_active=report.totals.hvo_active,
        reason=report.totals.reason,
        figures=figures(report),
        cmdline=cmdline_for(request, report),
    )


def recommend(
    host: PlanRequest, need_bytes: int, kernels: Sequence[str], sizes: Sequence[int] | None, boot: bool
) -> RecommendReport:
    """Every (release, hugepage size) planned; the layouts ranked, the impossible ones with why."""
    profile = find_profile(host.arch, host.base_page, host.paging, host.mmu)
    candidates = list(sizes) if sizes else [h.size for h in profile.hugepage]
    nodes = max(1, len(host.nodes))
    layouts, impossible = [], []
    for kernel in kernels:
        for size in candidates:
            try:
                pools = pools_for(need_bytes, size, nodes, boot)
                request = build(PlanRequest, {**values(host), "kernel": kernel, "pools": pools})
                layouts.append(_layout(request, need_bytes, boot))
            except (InputError, RecordError) as exc:
                impossible.append(Impossible(kernel=kernel, hugepage_size=short_size(size), reason=_reason(exc)))
    if not layouts:
        first = impossible[0]
        raise InputError(
            f"no layout can hold {short_size(need_bytes)}; {first.hugepage_size} on {first.kernel}: {first.reason}"
        )
    layouts.sort(key=lambda item: (-item.figures.saved_bytes, item.extra_bytes))
    ranked = [layout.model_copy(update={"rank": rank}) for rank, layout in enumerate(layouts, 1)]
    return RecommendReport(
        need_bytes=need_bytes,
        arch=profile.arch,
        base_page_bytes=profile.base_page,
        layouts=ranked,
        impossible=impossible,
    )
