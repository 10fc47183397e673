"""Scenarios from axes: every combination of the values given, each planned by `plan()`."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product
from typing import Literal

from hvo_calc.compare.models import CompareReport, Figures, Scenario
from hvo_calc.errors import InputError
from hvo_calc.hostshape import PoolSpec, resolve
from hvo_calc.kernels import parse_release
from hvo_calc.models import PlanReport
from hvo_calc.planner import PlanRequest, plan
from hvo_calc.profiles import resolve_arch
from hvo_calc.record import RecordError, build, values
from hvo_calc.units import parse_size

# Axis (as the option is spelled) -> the request field it sets, in the order scenarios vary.
AXES = {
    "arch": "arch",
    "page": "base_page",
    "kernel": "kernel",
    "huge": "hugepage_size",
    "hvo": "hvo",
    "placement": "placement",
    "struct-page-size": "struct_page_bytes",
}


def _size(what: str) -> Callable[[str], int]:
    return lambda text: parse_size(text, what)


# What each value of an option that takes a list must be on its own. A value no scenario can
# take (`--kernel x`) is bad input; one that only some cannot (3M beside x86-64) keeps its
# row with the reason.
WELL_FORMED: dict[str, Callable[[str], object]] = {
    "arch": resolve_arch,
    "page": _size("base page size"),
    "kernel": parse_release,
    "huge": _size("hugepage size"),
    "sizes": _size("hugepage size"),
}


@dataclass(frozen=True)
class Base:
    """Where scenarios start: a plan file's request, or the flags' host with pools still as specs."""

    name: str | None
    request: PlanRequest
    specs: tuple[PoolSpec, ...] | None = None  # None: the request's pools are final (a plan file)


def split_axis(option: str, text: str) -> list[str]:
    """`6.1,6.12,7.3` as its values, each once."""
    values = [value.strip() for value in text.split(",")]
    if not all(values):
        raise InputError(f"--{option} {text!r} has an empty value; accepted: a comma-separated list, e.g. 6.1,7.3")
    twice = sorted({value for value in values if values.count(value) > 1})
    if twice:
        raise InputError(f"--{option} lists {twice[0]!r} more than once; give each value once")
    check = WELL_FORMED.get(option, str)
    for value in values:
        try:
            check(value)
        except InputError as exc:
            raise InputError(f"--{option}: {exc}") from None
    return values


def _field_value(axis: str, value: str) -> object:
    if axis == "hvo":
        return value == "on"
    if axis == "struct-page-size":
        return int(value)
    return value


def request_for(base: Base, setting: Mapping[str, str]) -> PlanRequest:
    """The base's request with the axes' values in place; pools by size resolved for the hugepage
    size, pools by count (a plan file's) keeping their count."""
    fields = {AXES[axis]: _field_value(axis, value) for axis, value in setting.items() if axis != "huge"}
    host = build(PlanRequest, {**values(base.request), **fields})
    huge = setting.get("huge")
    size = parse_size(huge, "hugepage size") if huge is not None else None
    if base.specs is None:
        if size is None:
            return host
        return replace(host, pools=tuple(replace(p, hugepage_size=size) for p in host.pools))
    specs = tuple(replace(s, hugepage_size=size) for s in base.specs) if size is not None else base.specs
    return replace(host, pools=tuple(resolve(spec, host) for spec in specs))


def figures(report: PlanReport) -> Figures:
    """What a compare row shows, in bytes."""
    totals, page = report.totals, report.host.base_page_bytes
    memory = report.memory
    return Figures(
        hugepages=totals.hugepages,
        pool_bytes=totals.pool_bytes,
        vmemmap_bytes=totals.vmemmap_bytes,
        reserved_bytes=totals.reserved_pages * page,
        freed_bytes=totals.freed_pages * page,
        pagetable_bytes=totals.pagetable_pages * page,
        shared_tail_bytes=totals.shared_tail_pages * page,
        saved_bytes=totals.saved_bytes,
        memtotal_gain_bytes=sum(p.memtotal_gain_bytes for p in report.pools),
        memfree_gain_bytes=sum(p.memfree_gain_bytes for p in report.pools),
        vmemmap_percent_before=memory.vmemmap_percent_before if memory else None,
        vmemmap_percent_after=memory.vmemmap_percent_after if memory else None,
    )


def delta(figures: Figures, baseline: Figures) -> Figures:
    """Each figure less the baseline's (a share of RAM: null where either scenario has no RAM given)."""
    ours, theirs = figures.model_dump(), baseline.model_dump()
    diff: dict[str, object] = {}
    for name, value in ours.items():
        other = theirs[name]
        if value is None or other is None:
            diff[name] = None
        else:
            diff[name] = round(value - other, 4) if isinstance(value, float) else value - other
    return Figures.model_validate(diff)


def scenario_name(base: Base, setting: Mapping[str, str], varying: Sequence[str]) -> str:
    parts = [f"{axis}={setting[axis]}" for axis in varying]
    return " ".join(([base.name] if base.name else []) + parts)


def run_scenario(name: str, varies: dict[str, str], base: Base, setting: Mapping[str, str]) -> Scenario:
    """Plan one scenario; one that cannot exist keeps its row with the reason (a failed verification still fails)."""
    try:
        report = plan(request_for(base, setting))
    except (InputError, RecordError) as exc:
        reason = str(exc) if isinstance(exc, InputError) else f"{exc.where.rsplit('.', 1)[-1]}: {exc.problem}"
        return Scenario(name=name, varies=varies, report=None, figures=None, delta=None, reason=reason)
    return Scenario(
        name=name, varies=varies, report=report, figures=figures(report), delta=None, reason=None, no_hvo=no_hvo(report)
    )


def no_hvo(report: PlanReport) -> str | None:
    """Why HVO frees nothing in this scenario: the pools' reason, where every pool has one."""
    reasons = [pool.reason for pool in report.pools if pool.reason]
    if not report.pools or len(reasons) < len(report.pools):
        return None
    return "; ".join(dict.fromkeys(reasons))


def expand(
    bases: Sequence[Base], axes: Mapping[str, list[str]]
) -> list[tuple[str, dict[str, str], Base, dict[str, str]]]:
    """Every (base, combination of axis values), named by what varies."""
    ordered = [axis for axis in AXES if axis in axes]
    varying = [axis for axis in ordered if len(axes[axis]) > 1]
    out = []
    for base in bases:
        for chosen in product(*(axes[axis] for axis in ordered)):
            setting = dict(zip(ordered, chosen))
            varies = ({"plan": base.name} if base.name and len(bases) > 1 else {}) | {a: setting[a] for a in varying}
            out.append((scenario_name(base, setting, varying), varies, base, setting))
    return out


def pool_basis(bases: Sequence[Base], axes: Mapping[str, list[str]]) -> Literal["memory", "count"] | None:
    """When --huge varies: pools given by size keep their memory, pools given by count their count."""
    if len(axes.get("huge", ())) < 2:
        return None
    specs = [spec for base in bases for spec in base.specs or ()]
    return "memory" if any(spec.by_size for spec in specs) else "count"


def check_huge_axis(bases: Sequence[Base], axes: Mapping[str, list[str]]) -> None:
    """--huge varies the size of one pool: a plan file's only pool (keeping its count), or the flags' pool."""
    if "huge" not in axes:
        return
    for base in bases:
        pools = len(base.specs) if base.specs is not None else len(base.request.pools)
        if pools > 1:
            where = base.name or "the flags"
            raise InputError(
                f"--huge varies the size of one pool, and {where} gives {pools}; "
                "accepted: one --pool, --huge with --count or --size, or a plan file with one [[pool]]"
            )


def pick_baseline(scenarios: list[Scenario], baseline: int | None) -> Scenario:
    """The scenario deltas are taken from: --baseline N (1-based), else the first that was planned."""
    planned = [s for s in scenarios if s.report is not None]
    if not planned:
        first = scenarios[0]
        raise InputError(f"no scenario can be planned; {first.name or 'scenario 1'}: {first.reason}")
    if baseline is None:
        return planned[0]
    if baseline > len(scenarios):
        raise InputError(
            f"--baseline {baseline}: there are {len(scenarios)} scenarios; accepted: 1 to {len(scenarios)}"
        )
    chosen = scenarios[baseline - 1]
    if chosen.report is None:
        raise InputError(f"--baseline {baseline} ({chosen.name}) cannot be planned: {chosen.reason}")
    return chosen


def compare(bases: Sequence[Base], axes: Mapping[str, list[str]], baseline: int | None = None) -> CompareReport:
    """Plan every scenario, and each one's difference from the baseline."""
    check_huge_axis(bases, axes)
    planned = [run_scenario(*item) for item in expand(bases, axes)]
    if len(planned) < 2:
        raise InputError(
            "nothing to compare: give an axis two or more values (--kernel 6.1,7.3, --huge 2M,1G, --hvo on,off) "
            "or two plan files"
        )
    chosen = pick_baseline(planned, baseline)
    base_figures = chosen.figures
    assert base_figures is not None
    scenarios = [
        s if s.figures is None else s.model_copy(update={"delta": delta(s.figures, base_figures)}) for s in planned
    ]
    return CompareReport(baseline=chosen.name, pool_basis=pool_basis(bases, axes), scenarios=scenarios)
