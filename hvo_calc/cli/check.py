"""`hvo-calc check`: plan, print the report, and fail (exit 1) when a budget is broken."""

import click

from hvo_calc.cli import cli, say
from hvo_calc.cli.options import SingleValued, not_blank, plan_options, simulate
from hvo_calc.errors import BudgetError, InputError
from hvo_calc.output import emit, format_option, output_option
from hvo_calc.reports import MACHINE_FORMATS, RENDERERS
from hvo_calc.units import parse_size


class SizeType(click.ParamType):
    """A binary size: 64K, 2M, 1G, 16G, or bytes."""

    name = "SIZE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value), "size")
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class PercentType(click.ParamType):
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


@cli.command(cls=SingleValued)
@plan_options
@click.option(
    "--min-saved",
    type=SizeType(),
    default=None,
    help="Fail unless the total saving (freed minus page-table pages) is at least SIZE. Example: --min-saved 256M",
)
@click.option(
    "--max-vmemmap",
    type=SizeType(),
    default=None,
    help="Fail if the vmemmap kept after HVO (reserved + page-table pages) exceeds SIZE. Example: --max-vmemmap 32M",
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
    callback=not_blank,
    help="Do not fail on the known kernel issue ID (repeatable). Without it, a known issue that "
    "applies to the release and bites a pool (e.g. the shrink leak of 6.12.115-6.12.118) "
    "fails the check. Example: --allow-known-issue ID",
)
@format_option
@output_option
def check(
    fmt: str,
    output: str | None,
    min_saved: int | None,
    max_vmemmap: int | None,
    max_overhead: float | None,
    require_hvo: bool,
    allowed_issues: tuple[str, ...],
    **options: object,
) -> None:
    """Plan like `plan`, print the report, and check it against budgets (for CI).

    The report goes to stdout (or --output FILE) in --format; each failed budget is one
    line on stderr naming the budget, the figure and the limit. Sizes are binary.
    A known kernel issue that applies to the planned release and bites a pool fails
    too (one line naming it and the pools) unless --allow-known-issue ID accepts it;
    one that only may apply is a warning.

    \b
    Exit codes:
      0  every budget holds (or none was given)
      1  at least one budget failed (or a known issue bites)
      2  bad input (an option, a size, a plan that cannot exist)
      3  the simulation failed its own verification (a bug)

    \b
    Examples:
      hvo-calc check --huge 1G --count 16 --min-saved 200M --require-hvo
      hvo-calc check --max-vmemmap 32M --max-overhead 0.1 --format json -o plan.json
    """
    from hvo_calc.budgets import Budgets, evaluate, failed, known_issue_warnings, unknown_allowed

    budgets = Budgets(
        min_saved_bytes=min_saved,
        max_vmemmap_bytes=max_vmemmap,
        max_overhead_percent=max_overhead,
        require_hvo=require_hvo,
        allowed_issues=frozenset(allowed_issues),
    )
    report = simulate(options)
    emit(RENDERERS[fmt](report), output, human=fmt not in MACHINE_FORMATS)
    for line in known_issue_warnings(report):
        say(f"hvo-calc: warning: {line}")
    for issue in unknown_allowed(report, allowed_issues):
        say(f"hvo-calc: note: --allow-known-issue {issue}: no known issue of that id on this plan's kernel")
    if budgets.empty():
        say(
            "hvo-calc: note: no budgets given (--min-saved, --max-vmemmap, --max-overhead, "
            "--require-hvo); only known issues checked"
        )
    results = evaluate(report, budgets)
    for result in results:
        if result.passed and result.budget.startswith("known issue"):
            say(f"hvo-calc: note: {result.message}")
    broken = failed(results)
    for result in broken:
        say(f"hvo-calc: budget failed: {result.message}")
    if broken:
        raise BudgetError(
            f"{len(broken)} of {len(results)} budgets failed: " + ", ".join(result.budget for result in broken)
        )
