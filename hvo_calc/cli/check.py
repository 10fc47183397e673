"""`hvo-calc check`: plan, print the report, and fail (exit 1) when a budget is broken or, with
`--host --expect FILE`, when the host drifted from the plan."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from hvo_calc.cli import cli, complete, say
from hvo_calc.cli.options import SingleValued, not_blank, path_option, plan_options, simulate
from hvo_calc.cli.report_options import format_option, output_option, wide_option
from hvo_calc.errors import BudgetError, InputError
from hvo_calc.output import emit
from hvo_calc.record import replace
from hvo_calc.reports import MACHINE_FORMATS, render
from hvo_calc.units import parse_size

if TYPE_CHECKING:
    from hvo_calc.budgets import BudgetResult, Budgets
    from hvo_calc.models import CheckResult, PlanReport


if TYPE_CHECKING:  # generic from click 8.2; the floor's ParamType takes no argument at run time
    IntParam = click.ParamType[int]
    FloatParam = click.ParamType[float]
else:
    IntParam = FloatParam = click.ParamType


class SizeType(IntParam):
    """A binary size: 64K, 2M, 1G, 16G, or bytes."""

    name = "SIZE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value), "size")
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class PercentType(FloatParam):
    """A percentage, 0 or more, with or without a trailing %: 0.5, 1.5%."""

    name = "PERCENT"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip().removesuffix("%").strip()
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if not number >= 0 or number == float("inf"):
            self.fail(f"{value!r} is not a percentage: use a number >= 0, e.g. 0.5 or 1.5%", param, ctx)
        return number


def _host_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--host`, `--expect FILE`, `--root DIR`: hold a host against a plan instead of budgets alone."""
    for option in reversed(
        (
            click.option(
                "--host",
                is_flag=True,
                default=False,
                help="Check this host (or --root DIR) against the plan file --expect FILE: HVO's state, "
                "each pool's size and count per node, the release's known issues, the kernel's counters "
                "against the model. Example: --host --expect host.toml",
            ),
            path_option(
                "--expect",
                "With --host: the plan file the host should follow (as inspect --write-config "
                "writes it). Example: --expect host.toml",
            ),
            path_option(
                "--root",
                "With --host: a captured tree instead of the running host (as inspect --capture "
                "writes it). Example: --root captures/db-host",
                directory=True,
            ),
        )
    ):
        command = option(command)
    return command


COMMANDLINE = ParameterSource.COMMANDLINE


@cli.command(cls=SingleValued)
@plan_options
@click.option(
    "--min-saved",
    type=SizeType(),
    default=None,
    help="Fail unless the total saving (freed minus page-table and shared tail pages) is at least SIZE. "
    "Example: --min-saved 256M",
)
@click.option(
    "--max-vmemmap",
    type=SizeType(),
    default=None,
    help="Fail if the vmemmap kept after HVO (reserved + page-table + shared tail pages) exceeds SIZE. "
    "Example: --max-vmemmap 32M",
)
@click.option(
    "--max-overhead",
    type=PercentType(),
    default=None,
    help="Fail if the vmemmap kept after HVO exceeds PERCENT of host RAM (when the plan "
    "gives it) or else of the pools' hugepage memory. Example: --max-overhead 0.1",
)
@click.option(
    "--require-hvo",
    is_flag=True,
    default=False,
    help="Fail if any pool is not optimized by HVO (the kernel lacks it, it is off, or the hugepage is too small).",
)
@click.option(
    "--allow-known-issue",
    "allowed_issues",
    multiple=True,
    metavar="ID",
    shell_complete=complete.known_issues,
    callback=not_blank,
    help="Do not fail on the known kernel issue ID (repeatable). Without it, a known issue that "
    "applies to the release and bites a pool (e.g. the shrink leak of 6.12.115-6.12.118) "
    "fails the check. Example: --allow-known-issue ID",
)
@_host_options
@format_option("plan")
@output_option
@wide_option
def check(
    fmt: str,
    output: str | None,
    wide: bool,
    min_saved: int | None,
    max_vmemmap: int | None,
    max_overhead: float | None,
    require_hvo: bool,
    allowed_issues: tuple[str, ...],
    host: bool,
    expect: Path | None,
    root: Path | None,
    **options: Any,
) -> None:
    """Plan like `plan`, print the report, and check it against budgets (for CI); with
    --host --expect FILE, hold this host (or --root DIR) against that plan.

    The report goes to stdout (or --output FILE) in --format, with every check in its
    `checks` (JSON); each failed budget is one line on stderr naming the budget, the figure
    and the limit. Sizes are binary. A known kernel issue that applies to the planned
    release and bites a pool fails too (one line naming it and the pools) unless
    --allow-known-issue ID accepts it; one that only may apply is a warning. With --host
    each drift finding (HVO's state, a pool's count on a node, an unexplained kernel
    counter) is one line; the plan is run at the host's kernel release.

    \b
    Exit codes:
      0  every budget holds (or none was given), and the host matches the plan
      1  at least one budget failed (or a known issue bites), or the host drifted
      2  bad input (an option, a size, a plan that cannot exist, a host that cannot be read)
      3  the simulation failed its own verification (a bug)

    \b
    Examples:
      hvo-calc check --huge 1G --count 16 --min-saved 200M --require-hvo
      hvo-calc check --max-vmemmap 32M --max-overhead 0.1 --format json -o plan.json
      hvo-calc check --host --expect host.toml --format json
    """
    from hvo_calc.budgets import Budgets, as_checks, evaluate

    budgets = Budgets(
        min_saved_bytes=min_saved,
        max_vmemmap_bytes=max_vmemmap,
        max_overhead_percent=max_overhead,
        require_hvo=require_hvo,
        allowed_issues=frozenset(allowed_issues),
    )
    report, drift = _host_report(host, expect, root, options) if host or expect or root else (simulate(options), [])
    results = evaluate(report, budgets)
    report = replace(report, checks=as_checks(results) + drift)
    emit(render("plan", fmt, report, wide=wide), output, human=fmt not in MACHINE_FORMATS)
    _say_results(report, budgets, allowed_issues, drift)
    _fail(budgets, results, drift)


def _host_report(
    host: bool, expect: Path | None, root: Path | None, options: dict[str, Any]
) -> "tuple[PlanReport, list[CheckResult]]":
    """The plan at the host's release and the drift findings; bad combinations refused."""
    from hvo_calc.drift import check_host, expected_file

    if not host:
        raise InputError("--expect and --root go with --host (check this host against a plan file)")
    if expect is None:
        raise InputError("--host needs --expect FILE: the plan file the host should follow (inspect --write-config)")
    context = click.get_current_context()
    given = [
        p.opts[0]
        for p in context.command.params
        if p.name in options and context.get_parameter_source(p.name) == COMMANDLINE
    ]
    if given:
        raise InputError(
            f"with --host the plan is --expect FILE (at the host's release): {', '.join(given)} not for it"
        )
    if root is not None and not root.is_dir():
        raise InputError(f"--root {str(root)!r} is not a directory")
    return check_host(expected_file(expect), root)


def _say_results(
    report: "PlanReport", budgets: "Budgets", allowed_issues: tuple[str, ...], drift: "list[CheckResult]"
) -> None:
    """Warnings, notes, and one line per failed check, on stderr."""
    from hvo_calc.budgets import known_issue_warnings, unknown_allowed

    for line in known_issue_warnings(report):
        say(f"hvo-calc: warning: {line}")
    for issue in unknown_allowed(report, allowed_issues):
        say(f"hvo-calc: note: --allow-known-issue {issue}: no known issue of that id on this plan's kernel")
    if budgets.empty() and not drift:
        say(
            "hvo-calc: note: no budgets given (--min-saved, --max-vmemmap, --max-overhead, "
            "--require-hvo); only known issues checked"
        )
    for result in report.checks:
        if result.kind == "known_issue" and result.passed and "allowed" in result.message:
            say(f"hvo-calc: note: {result.message}")
    if drift and all(d.passed for d in drift):
        say(f"hvo-calc: note: the host matches the plan: all {len(drift)} findings hold")
    for result in report.checks:
        if not result.passed:
            say(f"hvo-calc: {'drift' if result.kind == 'drift' else 'budget failed'}: {result.message}")


def _fail(budgets: "Budgets", results: "list[BudgetResult]", drift: "list[CheckResult]") -> None:
    """Exit 1 with one summary line when a check failed: budgets counted only where given."""
    from hvo_calc.budgets import failed

    broken, drifted = failed(results), [d for d in drift if not d.passed]
    parts = []
    if broken and not budgets.empty():
        parts.append(f"{len(broken)} of {len(results)} budgets failed: " + ", ".join(r.budget for r in broken))
    elif broken:
        parts.append("the check failed: " + ", ".join(r.budget for r in broken))
    if drifted:
        parts.append(
            f"the host drifted from the plan: {len(drifted)} of {len(drift)} findings: "
            + ", ".join(d.name for d in drifted)
        )
    if parts:
        raise BudgetError("; ".join(parts))
