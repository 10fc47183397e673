"""`hvo-calc explain`: perform HVO on a few hugepages of the model and draw one hugepage's
vmemmap before and after, read from the model's page tables."""

import copy
from typing import Any

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import PLAN_OPTIONS, SingleValued
from hvo_calc.cli.report_options import format_option, output_option
from hvo_calc.output import emit

# The host options `plan` takes that describe one hugepage size on one kernel.
REUSED = ("arch", "base_page", "huge", "kernel", "struct_page_bytes", "hvo", "paging", "mmu")


def plan_params(names: tuple[str, ...]) -> list[click.Parameter]:
    """Fresh click options, as `plan` declares them, for each of `names` that it has."""

    def holder() -> None:
        """Collects the options."""

    for option in PLAN_OPTIONS:
        option(holder)
    declared = {p.name: p for p in getattr(holder, "__click_params__", [])}
    params = [declared[name] for name in names if name in declared]
    for i, param in enumerate(params):
        if param.name == "huge":  # explain draws one size: 2M unless told
            huge = copy.copy(param)
            huge.default = "2M"
            huge.show_default = True
            huge.help = "Hugepage size to explain. Example: --huge 1G"
            params[i] = huge
    return params


@cli.command(cls=SingleValued, params=plan_params(REUSED))
@format_option(
    "explain",
    "table: a drawing for people (plain text when piped or with NO_COLOR); json: the same "
    "facts as data (deterministic, never coloured). Example: --format json",
    sort=False,
)
@output_option
def explain(fmt: str, output: str | None, **options: Any) -> None:
    """Show what HVO does to one hugepage's vmemmap, page by page, before and after.

    Performs HVO on two hugepages of the model and reads its page tables: each vmemmap
    page with the frame it maps and whether read-write or read-only, the frames freed,
    the kept page (or the head copy), what the tails map (the head page, the second kept
    page on 5.14-5.17, or 7.1's shared tail page, which the second hugepage maps too)
    and each PMD split with the page-table page it cost. Where HVO does not apply it
    says why and draws what the kernel keeps.

    \b
    Examples:
      hvo-calc explain
      hvo-calc explain --huge 2M --kernel 6.1
      hvo-calc explain --huge 1G --kernel 7.3 --format json
      hvo-calc explain --arch arm64 --page 64K --huge 512M
    """
    from hvo_calc.explain import explain as run_explain
    from hvo_calc.reports import render

    hvo = options.pop("hvo", "on")
    explanation = run_explain(**options, hvo=hvo != "off")
    emit(render("explain", fmt, explanation), output, human=fmt != "json")
