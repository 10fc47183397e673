"""Drift: a host (live, or a captured tree) held against the plan it should follow.

`check --host --expect host.toml` reads the host with the inspector (its public API, read
only), plans the expected file at the host's own kernel release, and reports one finding per
thing compared: the architecture, HVO's state, each pool's hugepages per size and NUMA node
(all of them, and those allocated at boot), the release against its known issues (those that
bite the plan fail through the known-issue budget; one that bites nothing is a passed finding),
and the kernel's counters against the model (an unexplained difference is drift; one the
inspector accounts for, such as hugepages allocated before HVO was switched on, is a passed
finding that says why, so a plan written from a host checks clean against it).

Plan nodes are the host's nodes with memory, in order, as inspect plans them.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from hvo_calc.errors import InputError
from hvo_calc.host.models import ComparisonRow, HostFacts, InspectReport
from hvo_calc.kernels import behaviour
from hvo_calc.models import CheckResult, PlanReport
from hvo_calc.planner import PlanRequest, plan
from hvo_calc.record import replace
from hvo_calc.units import short_size

if TYPE_CHECKING:
    from hvo_calc.host.inspector import Inspection

Counts = dict[tuple[int, int], int]  # (hugepage bytes, plan node) -> hugepages


def finding(name: str, limit: int | str | None, value: int | str | None, passed: bool, message: str) -> CheckResult:
    return CheckResult(name=name, kind="drift", limit=limit, value=value, passed=passed, message=message)


def expected_hvo(request: PlanRequest, report: PlanReport) -> str:
    """HVO's state the plan expects: on, off, or not available (the kernel lacks it)."""
    if not behaviour(request.kernel, report.host.arch).hvo_available:
        return "not available"
    return "on" if request.hvo else "off"


def hvo_finding(request: PlanRequest, report: PlanReport, host: HostFacts) -> CheckResult:
    """On where the plan has it on, and not on where it has it off or cannot have it."""
    want, have = expected_hvo(request, report), host.hvo.state
    passed = have != "unknown" and (have == "on") == (want == "on")
    verb = "as the plan has it" if passed else f"the plan has it {want}"
    return finding("hvo", want, have, passed, f"hvo: {have} on the host, {verb}")


def arch_finding(report: PlanReport, host: HostFacts) -> CheckResult:
    want = f"{report.host.arch} {short_size(report.host.base_page_bytes)}"
    have = f"{host.arch} {short_size(host.base_page_bytes)}" if host.arch and host.base_page_bytes else "unknown"
    passed = have == want
    return finding("arch", want, have, passed, f"arch: {have} on the host{'' if passed else f', the plan has {want}'}")


def plan_counts(report: PlanReport, boot_only: bool) -> Counts:
    counts: Counts = {}
    for pool in report.pools:
        if pool.boot_time or not boot_only:
            key = (pool.hugepage_bytes, pool.node)
            counts[key] = counts.get(key, 0) + pool.hugepages
    return counts


def host_counts(host: HostFacts, boot_only: bool) -> Counts:
    """The host's hugepages per size and plan node (boot: as its command line allocated them)."""
    counts: Counts = {}
    for index, node in enumerate(n for n in host.nodes if n.memory_bytes):
        for size in node.hugepages:
            count = size.boot if boot_only else size.total
            if count:
                counts[(size.hugepage_bytes, index)] = count
    return counts


def pool_findings(report: PlanReport, host: HostFacts, boot_only: bool) -> list[CheckResult]:
    """One finding per size and node that the plan or the host has hugepages of."""
    want, have = plan_counts(report, boot_only), host_counts(host, boot_only)
    if boot_only and host.cmdline is None:
        return []  # the command line was not read: the boot counts are not known
    what = "boot pool" if boot_only else "pool"
    results = []
    for size, node in sorted(set(want) | set(have)):
        expected, found = want.get((size, node), 0), have.get((size, node), 0)
        name = f"{what} {short_size(size)} node {node}"
        tail = "as planned" if found == expected else f"the plan has {expected}"
        at = " at boot" if boot_only else ""
        results.append(finding(name, expected, found, found == expected, f"{name}: {found} hugepages{at}, {tail}"))
    return results


def known_issue_findings(report: PlanReport) -> list[CheckResult]:
    """The host's release in a known issue's range, where the issue bites no pool of the plan
    (one that bites fails as a known-issue budget)."""
    release = report.host.kernel_release or report.host.kernel
    return [
        CheckResult(
            name=f"known issue {issue.id}",
            kind="known_issue",
            limit=0,
            value=0,
            passed=True,
            message=f"known issue {issue.id}: Linux {release} is in its range ({issue.first} to {issue.last}); "
            "it bites no pool of the plan",
        )
        for issue in report.known_issues
        if issue.applies == "yes" and not issue.pools
    ]


def counter_findings(rows: Iterable[ComparisonRow]) -> list[CheckResult]:
    """The kernel's counters against the model: an unexplained difference is drift."""
    results = []
    for row in rows:
        if row.status not in ("agrees", "explained", "unexplained"):
            continue
        name = f"counter {row.counter} {row.scope}{f' {row.hugepage_size}' if row.hugepage_size else ''}"
        passed = row.status != "unexplained"
        why = f": {row.explanation}" if row.status != "agrees" and row.explanation else ""
        message = f"{name}: {row.observed} {row.unit} counted, the model has {row.predicted} ({row.status}{why})"
        results.append(finding(name, row.predicted, row.observed, passed, message))
    return results


def drift_findings(request: PlanRequest, report: PlanReport, inspected: InspectReport) -> list[CheckResult]:
    """Every finding of the host against the plan (`report`: the plan at the host's release)."""
    host = inspected.host
    return [
        arch_finding(report, host),
        hvo_finding(request, report, host),
        *pool_findings(report, host, boot_only=False),
        *pool_findings(report, host, boot_only=True),
        *known_issue_findings(report),
        *counter_findings(inspected.comparison),
    ]


def check_host(expected: PlanRequest, root: Path | None) -> tuple[PlanReport, list[CheckResult]]:
    """Read the host under `root` (the running host: None), plan `expected` at its kernel
    release, and compare. InputError where the host cannot be read or planned."""
    from hvo_calc.host.inspector import inspect_host
    from hvo_calc.host.resolve import CannotPlan

    try:
        inspection = inspect_host(root or Path("/"), live=root is None or root.resolve() == Path("/"))
    except CannotPlan as exc:
        problems = "; ".join(f"{p.source}: {p.message}" for p in exc.problems)
        raise InputError(f"--host: the host cannot be read: {problems}") from None
    return against(expected, inspection)


def against(expected: PlanRequest, inspection: "Inspection") -> tuple[PlanReport, list[CheckResult]]:
    """The plan `expected` at the inspected host's release, and the host's findings against it."""
    at_release = replace(expected, kernel=inspection.identity.kernel)
    report = plan(at_release)
    return report, drift_findings(at_release, report, inspection.report)


def expected_file(path: Path) -> PlanRequest:
    """The plan file the host should follow."""
    from hvo_calc.planfile import plan_request, read_plan_file

    return plan_request(read_plan_file(path), {}, path)
