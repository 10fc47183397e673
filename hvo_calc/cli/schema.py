"""`hvo-calc schema`: the JSON Schema of a command's `--format json` report.

The same text is committed at schema/NAME.schema.json for each command (`hvo_calc.schemas`);
a test fails when they drift. Regenerate with
`hvo-calc schema --command plan > schema/plan-report.schema.json` (and so on).
"""

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued
from hvo_calc.schemas import DIALECT, REPORTS, report_schema, schema_text

__all__ = ["DIALECT", "report_schema", "schema", "schema_text"]


@cli.command(cls=SingleValued)
@click.option(
    "--command",
    type=click.Choice(list(REPORTS)),
    default="plan",
    show_default=True,
    help="The command whose JSON report to describe (plan also covers check; each is committed at "
    "schema/COMMAND-report.schema.json). Example: --command inspect",
)
def schema(command: str) -> None:
    """Print the JSON Schema of a command's JSON report (`--format json`).

    Validate scripts' inputs against it: every field is described, and `$id` names the report
    and its schema version. `schema_version` in the report follows semver (a minor bump only
    adds fields).

    Example: hvo-calc schema --command inspect > inspect-report.schema.json
    """
    click.echo(schema_text(command), nl=False)
