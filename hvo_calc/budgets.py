"""Budgets for `hvo-calc check`: pure checks of a report against limits.

Nothing here prints or exits; `evaluate` returns one `BudgetResult` per budget given,
and the CLI prints the failed ones. The figures come from the report's totals:

* saved: `totals.saved_bytes`: freed pages minus the page-table pages split off and the
  shared tail pages allocated (7.1+), in bytes;
* kept vmemmap: what stays mapped after HVO, `(totals.reserved_pages +
  totals.pagetable_pages + totals.shared_tail_pages) * totals.base_page_bytes`;
* a pool with shrink_to counts as the host has it once the shrink is done (the hugepages
  it keeps; its split tables and shared tail page still spent);
* overhead: kept vmemmap as a share of host RAM (`host.memory_bytes`) when the plan
  gives it, otherwise of the pools' bytes (`totals.pool_bytes`);
* known issues: each of `report.known_issues` that applies ("yes") to the planned release
  and bites pools of the plan fails, unless allowed by id (`--allow-known-issue ID`): on
  6.12.115-6.12.118 with HVO on, a pool with shrink_to leaks memory instead of saving it.
  Those that only may apply ("maybe") are warnings (`known_issue_warnings`), never failures.
"""

from collections.abc import Iterable

from pydantic import Field

from hvo_calc.base import Model
from hvo_calc.models import CheckResult, KnownIssueReport, PlanReport
from hvo_calc.units import human_size


class Budgets(Model):
    """The limits asked for; None means not checked."""

    min_saved_bytes: int | None = Field(default=None, ge=0)
    max_vmemmap_bytes: int | None = Field(default=None, ge=0)
    max_overhead_percent: float | None = Field(default=None, ge=0)
    require_hvo: bool = False
    allowed_issues: frozenset[str] = Field(default=frozenset(), description="known issues accepted, by id")

    def empty(self) -> bool:
        """No limit given (known issues are checked all the same)."""
        return (
            self.min_saved_bytes is None
            and self.max_vmemmap_bytes is None
            and self.max_overhead_percent is None
            and not self.require_hvo
        )


class BudgetResult(Model):
    """One budget checked: its option, whether it holds, the figure and the limit."""

    budget: str = Field(description="the option that set it, e.g. --min-saved")
    passed: bool
    value: float = Field(description="the figure, in bytes, percent or pools not optimized")
    limit: float
    message: str = Field(description="one line: the budget, the figure, the limit")


def kept_vmemmap_bytes(report: PlanReport) -> int:
    """Vmemmap still mapped after HVO: reserved pages, page-table pages spent on splits, and
    (7.1+) the shared tail pages."""
    totals = report.totals
    return (totals.reserved_pages + totals.pagetable_pages + totals.shared_tail_pages) * totals.base_page_bytes


def overhead(report: PlanReport) -> tuple[float, int, str]:
    """Kept vmemmap as a percent of host RAM (if known) or of the pools; the base and its name."""
    if report.host.memory_bytes:
        base, name = report.host.memory_bytes, "host RAM"
    else:
        base, name = report.totals.pool_bytes, "the pools' hugepages (the plan gives no host RAM)"
    return (100.0 * kept_vmemmap_bytes(report) / base if base else 0.0), base, name


def _size(size_bytes: int) -> str:
    return f"{human_size(size_bytes)} ({size_bytes:,} bytes)"


def min_saved(report: PlanReport, limit: int) -> BudgetResult:
    saved = report.totals.saved_bytes
    ok = saved >= limit
    line = f"saved {_size(saved)}, {'at least' if ok else 'less than'} the minimum {_size(limit)}"
    return BudgetResult(budget="--min-saved", passed=ok, value=saved, limit=limit, message=f"--min-saved: {line}")


def max_vmemmap(report: PlanReport, limit: int) -> BudgetResult:
    kept = kept_vmemmap_bytes(report)
    ok = kept <= limit
    line = (
        f"vmemmap kept after HVO (reserved + page tables + shared tail pages) {_size(kept)}, "
        f"{'within' if ok else 'over'} the maximum {_size(limit)}"
    )
    return BudgetResult(budget="--max-vmemmap", passed=ok, value=kept, limit=limit, message=f"--max-vmemmap: {line}")


def max_overhead(report: PlanReport, limit: float) -> BudgetResult:
    share, base, name = overhead(report)
    ok = share <= limit
    line = (
        f"vmemmap kept after HVO, {human_size(kept_vmemmap_bytes(report))}, is {share:.4f}% of "
        f"{human_size(base)} of {name}, {'within' if ok else 'over'} the maximum {limit:g}%"
    )
    return BudgetResult(budget="--max-overhead", passed=ok, value=share, limit=limit, message=f"--max-overhead: {line}")


def require_hvo(report: PlanReport) -> BudgetResult:
    off = [pool for pool in report.pools if not pool.hvo_active]
    details = "; ".join(f"pool {p.name} ({p.hugepage_size}, node {p.node}): {p.reason or 'not optimized'}" for p in off)
    line = (
        f"{len(off)} of {len(report.pools)} pools not optimized: {details}"
        if off
        else (f"all {len(report.pools)} pools optimized")
    )
    return BudgetResult(
        budget="--require-hvo", passed=not off, value=len(off), limit=0, message=f"--require-hvo: {line}"
    )


def evaluate(report: PlanReport, budgets: Budgets) -> list[BudgetResult]:
    """Every budget given, checked against the report, in option order."""
    results: list[BudgetResult] = []
    if budgets.min_saved_bytes is not None:
        results.append(min_saved(report, budgets.min_saved_bytes))
    if budgets.max_vmemmap_bytes is not None:
        results.append(max_vmemmap(report, budgets.max_vmemmap_bytes))
    if budgets.max_overhead_percent is not None:
        results.append(max_overhead(report, budgets.max_overhead_percent))
    if budgets.require_hvo:
        results.append(require_hvo(report))
    results.extend(known_issue_results(report, budgets.allowed_issues))
    return results


def _issues(report: PlanReport) -> list[KnownIssueReport]:
    return list(getattr(report, "known_issues", None) or [])


def _pools(issue: KnownIssueReport) -> str:
    return ", ".join(issue.pools)


def known_issue_results(report: PlanReport, allowed: Iterable[str] = ()) -> list[BudgetResult]:
    """One result per known issue that applies to the planned release and bites pools of the
    plan: failed, unless its id is allowed."""
    allowed = set(allowed)
    results = []
    for issue in _issues(report):
        if issue.applies != "yes" or not issue.pools:
            continue
        ok = issue.id in allowed
        where = f"pool{'s' if len(issue.pools) > 1 else ''} {_pools(issue)}"
        message = f"known issue {issue.id} on Linux {_release(report)}: {issue.summary}; it bites {where}; " + (
            "allowed by --allow-known-issue" if ok else f"to accept it: --allow-known-issue {issue.id}"
        )
        results.append(
            BudgetResult(budget=f"known issue {issue.id}", passed=ok, value=len(issue.pools), limit=0, message=message)
        )
    return results


def known_issue_warnings(report: PlanReport) -> list[str]:
    """One line per known issue that may apply (only the mainline release is known) and would
    bite pools of the plan."""
    lines = []
    for issue in _issues(report):
        if issue.applies != "maybe" or not issue.pools:
            continue
        span = f" (releases {issue.first} to {issue.last})" if getattr(issue, "first", None) else ""
        pools = f"; it would bite pool{'s' if len(issue.pools) > 1 else ''} {_pools(issue)}"
        lines.append(
            f"known issue {issue.id} may apply to Linux {_release(report)}{span}: {issue.summary}"
            f"{pools}; give the exact release (--kernel, e.g. uname -r) to know"
        )
    return lines


def unknown_allowed(report: PlanReport, allowed: Iterable[str]) -> list[str]:
    """Ids given to --allow-known-issue that no known issue of this plan has."""
    known = {issue.id for issue in _issues(report)}
    return sorted(set(allowed) - known)


def _release(report: PlanReport) -> str:
    return getattr(report.host, "kernel_release", "") or report.host.kernel


def failed(results: list[BudgetResult]) -> list[BudgetResult]:
    return [result for result in results if not result.passed]


def _figure(budget: str, figure: float) -> int | float:
    """Bytes and counts as whole numbers in JSON; a percentage (--max-overhead) as it is."""
    return figure if budget == "--max-overhead" else int(figure)


def as_checks(results: list[BudgetResult]) -> list[CheckResult]:
    """The results as the report's `checks` (kind `budget`, or `known_issue` for a known issue)."""
    return [
        CheckResult(
            name=r.budget,
            kind="known_issue" if r.budget.startswith("known issue") else "budget",
            limit=_figure(r.budget, r.limit),
            value=_figure(r.budget, r.value),
            passed=r.passed,
            message=r.message,
        )
        for r in results
    ]
