"""`hvo-calc plan`: simulate HVO for a host's pools and print the report."""

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued, plan_options, simulate
from hvo_calc.cli.report_options import format_option, output_option, wide_option
from hvo_calc.output import emit
from hvo_calc.reports import MACHINE_FORMATS, render


@cli.command(cls=SingleValued)
@plan_options
@format_option("plan")
@output_option
@wide_option
def plan(fmt: str, output: str | None, wide: bool, **options: object) -> None:
    """Simulate HVO on a host's hugepage pools and report reserved, freed and saved vmemmap.

    \b
    Examples:
      hvo-calc plan
      hvo-calc plan --arch arm64 --page 64K --huge 512M --count 64
      hvo-calc plan --arch x86-64 --huge 1G --count 3 --kernel 5.14 --format json
    """
    report = simulate(options)
    emit(render("plan", fmt, report, wide=wide), output, human=fmt not in MACHINE_FORMATS)
