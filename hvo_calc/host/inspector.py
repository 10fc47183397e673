"""`inspect` end to end: read a host, plan its pools with the engine, compare.

    read (collect) -> identify (profile, kernel) -> facts -> PlanRequest -> plan()
                   -> units (one-hugepage plans) -> compare -> summary -> InspectReport

The plan is the same `plan()` that `hvo-calc plan` runs: one pool per hugepage size and
NUMA node with hugepages, split into a boot part and a run-time part where the command
line allocated fewer at boot than the node holds now.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from hvo_calc import __version__
from hvo_calc.advice import with_host_advice
from hvo_calc.errors import InputError
from hvo_calc.host.collect import Collected, Counts, collect
from hvo_calc.host.compare import Inputs, Unit, compare
from hvo_calc.host.fs import HostFS, Problem
from hvo_calc.host.models import (
    BootHugepagesFact,
    BootLineFact,
    HostFacts,
    HugepageCounts,
    HvoFacts,
    HvoState,
    InspectReport,
    MeminfoHugepages,
    NodeFacts,
    ProblemReport,
)
from hvo_calc.host.readers import Meminfo, release_major_minor
from hvo_calc.host.resolve import (
    CannotPlan,
    Identity,
    boot_on_node,
    boot_requests,
    boot_vmemmap_pages,
    default_hugepage_bytes,
    hvo_state,
    identify,
    node_counts,
    node_memory,
    present_sections,
    section_bytes,
)
from hvo_calc.models import PlanReport
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest, plan, planned_hugepages
from hvo_calc.reports.inspect_summary import summary_lines
from hvo_calc.units import short_size


@dataclass
class Inspection:
    """Everything one run produced: the report, the request the plan ran, and the files read."""

    report: InspectReport
    request: PlanRequest  # the host and its pools (none on a host without hugepages)
    fs: HostFS
    found: Collected
    identity: Identity


@contextmanager
def no_progress(hugepages: int) -> Iterator[None]:
    yield None


@dataclass(frozen=True)
class HostPool:
    name: str
    size: int
    host_node: int
    count: int
    boot: bool


Progress = Callable[[int], AbstractContextManager[Callable[[int], None] | None]]


def inspect_host(
    root: str | Path = "/", live: bool | None = None, dmesg: Path | None = None, progress: Progress | None = None
) -> Inspection:
    """Inspect the host under `root` (live when root is `/` unless told otherwise).
    Raises CannotPlan (one problem per line, with the files read) when nothing can be
    planned. `progress(hugepages)` gives the engine's progress callback, as `plan` has it."""
    fs = HostFS(root, live=Path(root).resolve() == Path("/") if live is None else live)
    found = collect(fs, dmesg)
    try:
        return inspect_collected(fs, found, progress)
    except CannotPlan as exc:
        exc.fs, exc.found = fs, found
        raise


def inspect_collected(fs: HostFS, found: Collected, progress: Progress | None) -> Inspection:
    identity, notes = identify(found)
    notes = found.notes + notes
    profile, rules = identity.profile, identity.behaviour
    state, hvo_enabled, hvo_notes = hvo_state(found, rules)
    notes += hvo_notes
    requests = boot_requests(found)
    pools, node_index, plan_nodes = host_pools(found, identity, requests)
    check_sizes(found, identity)
    report: PlanReport | None = None
    request = host_request(
        identity,
        hvo_enabled,
        tuple(
            PoolRequest(hugepage_size=p.size, count=p.count, node=node_index[p.host_node], name=p.name, boot=p.boot)
            for p in pools
        ),
        tuple(NodeRequest(memory=m) for m in plan_nodes),
    )
    if pools:
        try:
            with (progress or no_progress)(planned_hugepages(request)) as callback:
                report = with_host_advice(plan(request, callback), state, rules)
        except InputError as exc:
            raise CannotPlan(found.problems + [Problem("plan", str(exc))]) from None
    elif not found.hugepages and not any(node_counts(found).values()):
        raise CannotPlan(
            found.problems + [Problem("hugepages", "no hugepage sizes could be read (sysfs): nothing to plan")]
        )
    else:
        notes.append("no hugepages are allocated: nothing to plan; the counters are still compared")
    units = unit_figures(identity, sorted(set(found.hugepages) | {s for c in node_counts(found).values() for s in c}))
    sections = present_sections(found, profile)
    section = section_bytes(profile)
    boot_total = boot_vmemmap_pages(sections, section, profile) if sections and section else None
    per_section = boot_vmemmap_pages(1, section, profile) if section else None
    boot_counts = {size: count for size, (count, _) in requests.items()}
    inputs = Inputs(
        found=found,
        plan=report,
        units=units,
        hvo_enabled=hvo_enabled,
        kernel_version=release_major_minor(identity.version or identity.release),
        boot_vmemmap_pages=boot_total,
        section_vmemmap_pages=per_section,
        default_size=default_hugepage_bytes(found),
        boot_counts=boot_counts,
        page_bytes=profile.base_page,
        host_nodes=tuple(sorted(node_index, key=node_index.__getitem__)),
    )
    rows = compare(inputs)
    facts = host_facts(found, identity, state, hvo_enabled, requests, sections, section)
    report_model = InspectReport(
        tool=f"hvo-calc {__version__}",
        summary=summary_lines(facts, report, rows),
        host=facts,
        plan=report,
        comparison=rows,
        notes=notes,
        problems=[ProblemReport(source=p.source, message=p.message) for p in found.problems],
    )
    return Inspection(report=report_model, request=request, fs=fs, found=found, identity=identity)


BootRequests = dict[int, tuple[int, dict[int, int] | None]]


def host_pools(
    found: Collected, identity: Identity, requests: BootRequests
) -> tuple[list[HostPool], dict[int, int], list[int]]:
    """The pools to plan, the host node -> plan node index map, and the plan's node memory."""
    memory = node_memory(found)
    known = [(n, m) for n in found.node_ids if (m := memory.get(n))]
    with_memory = [n for n, _ in known]
    index = {node: i for i, node in enumerate(with_memory)}
    profile = identity.profile
    pools: list[HostPool] = []
    for node, sizes in sorted(node_counts(found).items()):
        for size, counts in sizes.items():
            if not counts.total:
                continue
            if profile.hugepage_size(size) is None:
                continue  # reported once by check_sizes
            if node not in index:
                found.problems.append(
                    Problem(
                        f"node{node}",
                        f"{counts.total} x {short_size(size)} hugepages not planned: the node's memory is not known",
                    )
                )
                continue
            boot = min(counts.total, boot_on_node(requests, size, node, with_memory))
            name = f"{short_size(size)}-node{node}"
            if boot and boot < counts.total:
                pools.append(HostPool(f"{name}-boot", size, node, boot, True))
                pools.append(HostPool(f"{name}-runtime", size, node, counts.total - boot, False))
            else:
                pools.append(HostPool(name, size, node, counts.total, bool(boot)))
    return pools, index, [m for _, m in known]


def check_sizes(found: Collected, identity: Identity) -> None:
    """Hugepage sizes the host has but the profile does not: reported, their pools skipped."""
    profile = identity.profile
    sizes = set(found.hugepages) | {s for c in node_counts(found).values() for s in c}
    for size in sorted(sizes):
        if profile.hugepage_size(size) is None:
            held = sum((c[size].total or 0) for c in node_counts(found).values() if size in c)
            known = ", ".join(short_size(h.size) for h in profile.hugepage)
            found.problems.append(
                Problem(
                    f"hugepages-{size // 1024}kB",
                    f"{profile.name} has no {short_size(size)} hugepages in hvo-calc's "
                    f"profile (accepted: {known}){f'; {held} hugepages not planned' if held else ''}",
                )
            )


def host_request(
    identity: Identity, hvo: bool, pools: tuple[PoolRequest, ...], nodes: tuple[NodeRequest, ...] = ()
) -> PlanRequest:
    """A plan of `pools` on the host as identified: its architecture, base page, paging and kernel."""
    profile = identity.profile
    return PlanRequest(
        arch=profile.arch,
        base_page=profile.base_page,
        paging=identity.paging,
        kernel=identity.kernel,
        hvo=hvo,
        nodes=nodes,
        pools=pools,
    )


def unit_figures(identity: Identity, sizes: list[int]) -> list[Unit]:
    """Per hugepage size (run time, and boot time), what one hugepage optimized by HVO does
    to the counters on this kernel: a one-hugepage plan each, with HVO on."""
    profile, rules = identity.profile, identity.behaviour
    if not rules.hvo_available:
        return []
    units = []
    for size in sizes:
        if profile.hugepage_size(size) is None:
            continue
        for boot in (False, True):
            request = host_request(identity, True, (PoolRequest(hugepage_size=size, count=1, boot=boot, name="unit"),))
            try:
                pool = plan(request).pools[0]
            except InputError:
                continue
            if not pool.hvo_active:
                continue
            units.append(
                Unit(
                    size=size,
                    boot=bool(pool.preoptimized),
                    memmap=pool.memmap_pages,
                    boot_freed=pool.memmap_boot_freed_pages,
                    freed=pool.freed_pages,
                    vmemmap=pool.vmemmap_pages,
                )
            )
    unique = {(u.size, u.boot): u for u in units}
    return list(unique.values())


# -- facts ------------------------------------------------------------------------------------


def meminfo_hugepages(info: Meminfo | None) -> MeminfoHugepages | None:
    if info is None or info.get("HugePages_Total") is None:
        return None
    return MeminfoHugepages(
        total=info.get("HugePages_Total"),
        free=info.get("HugePages_Free"),
        surplus=info.get("HugePages_Surp"),
        reserved=info.get("HugePages_Rsvd"),
    )


def hugepage_counts(size: int, c: Counts, boot: int | None) -> HugepageCounts:
    """One size's sysfs counts as the report has them (reserved and overcommit: host-wide only)."""
    return HugepageCounts(
        hugepage_size=short_size(size),
        hugepage_bytes=size,
        total=c.total,
        free=c.free,
        surplus=c.surplus,
        reserved=c.reserved,
        overcommit=c.overcommit,
        boot=boot,
    )


def host_facts(
    found: Collected,
    identity: Identity,
    state: HvoState,
    hvo_enabled: bool,
    requests: dict[int, tuple[int, dict[int, int] | None]],
    sections: int | None,
    section: int | None,
) -> HostFacts:
    memory = node_memory(found)
    with_memory = [n for n in found.node_ids if memory.get(n)]
    counts = node_counts(found)
    nodes = []
    for node in found.node_ids:
        zones = found.zones.get(node) if found.zones else None
        sizes = [
            hugepage_counts(size, c, boot_on_node(requests, size, node, with_memory) if found.cmdline else None)
            for size, c in counts.get(node, {}).items()
        ]
        nodes.append(
            NodeFacts(
                node=node,
                memory_bytes=memory.get(node),
                present_pages=zones.present if zones else None,
                managed_pages=zones.managed if zones else None,
                hugepages=sizes,
                meminfo_hugepages=meminfo_hugepages(found.node_meminfo.get(node))
                if found.numa
                else meminfo_hugepages(found.meminfo),
            )
        )
    host_wide = [
        hugepage_counts(size, c, requests[size][0] if size in requests else (0 if found.cmdline else None))
        for size, c in found.hugepages.items()
    ]
    boot = [
        BootHugepagesFact(hugepage_size=short_size(size), hugepage_bytes=size, count=count, per_node=per_node)
        for size, (count, per_node) in sorted(requests.items())
    ]
    dmesg = found.dmesg
    lines = []
    if dmesg:
        for size in sorted(set(dmesg.preallocated) | set(dmesg.can_free_kib)):
            lines.append(
                BootLineFact(
                    hugepage_size=short_size(size),
                    hugepage_bytes=size,
                    preallocated=dmesg.preallocated.get(size),
                    can_free_kib=dmesg.can_free_kib.get(size),
                )
            )
    default = default_hugepage_bytes(found)
    vmstat = found.vmstat or {}
    return HostFacts(
        machine=identity.machine,
        machine_source=identity.machine_source,
        arch=identity.profile.arch,
        base_page_bytes=identity.profile.base_page,
        base_page_source=identity.base_page_source,
        paging=identity.paging,
        kernel_release=identity.release,
        kernel_version=identity.version,
        kernel_modelled=identity.behaviour.version,
        cmdline=found.cmdline.text if found.cmdline else None,
        hvo=HvoFacts(
            built=found.hvo_built,
            sysctl=found.hvo_sysctl,
            cmdline=found.cmdline.hvo if found.cmdline else None,
            available=identity.behaviour.hvo_available,
            state=state,
            hvo_enabled=hvo_enabled,
            unavailable_reason=None if identity.behaviour.hvo_available else identity.behaviour.why_unavailable,
        ),
        default_hugepage_size=short_size(default) if default else None,
        boot_hugepages=boot,
        memory_bytes=found.meminfo.mem_total_bytes if found.meminfo else None,
        meminfo_hugepages=meminfo_hugepages(found.meminfo),
        hugepages=host_wide,
        nodes=nodes,
        nr_memmap_pages=vmstat.get("nr_memmap_pages"),
        nr_memmap_boot_pages=vmstat.get("nr_memmap_boot_pages"),
        memory_block_bytes=found.block_bytes,
        section_bytes=section,
        present_sections=sections,
        boot_lines=lines,
        dmesg=list(dmesg.lines) if dmesg else [],
        unknown_parameters=list(dmesg.unknown_parameters) if dmesg else [],
    )
