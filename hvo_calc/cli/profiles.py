"""`hvo-calc profiles`: the architectures, base pages, paging modes and hugepage sizes the
tool knows, and in which mainline releases each architecture has HVO."""

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued
from hvo_calc.cli.report_options import format_option


@cli.command(cls=SingleValued)
@format_option("profiles", "table for people, json for scripts. Example: --format json", sort=False)
def profiles(fmt: str) -> None:
    """List architecture profiles: base page, paging variant, levels, vmemmap mapping,
    hugepage sizes, and the mainline releases with HVO on each architecture.

    The default profile of an architecture is the one --arch alone selects.

    Example: hvo-calc profiles
    """
    from hvo_calc.profile_report import profile_rows
    from hvo_calc.reports import render

    click.echo(render("profiles", fmt, profile_rows()), nl=False)
