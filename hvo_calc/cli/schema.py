"""`hvo-calc schema`: the JSON Schema of `--format json` (the `PlanReport` model).

The same text is committed at schema/plan-report.schema.json; a test fails when they
drift. Regenerate with `hvo-calc schema > schema/plan-report.schema.json`.
"""

import json

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued
from hvo_calc.models import PlanReport

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def report_schema(command: str = "plan") -> dict[str, object]:
    """The JSON Schema of the JSON report of `command`, with its dialect."""
    if command == "compare":
        from hvo_calc.compare.models import CompareReport

        return {"$schema": DIALECT, **CompareReport.model_json_schema()}
    return {"$schema": DIALECT, **PlanReport.model_json_schema()}


def schema_text(command: str = "plan") -> str:
    """The schema as printed: sorted keys, two-space indent, a final newline (deterministic)."""
    return json.dumps(report_schema(command), indent=2, sort_keys=True) + "\n"


@cli.command(cls=SingleValued)
@click.option(
    "--command",
    type=click.Choice(["plan", "compare"]),
    default="plan",
    show_default=True,
    help="The command whose JSON report to describe (compare: committed at schema/compare-report.schema.json). "
    "Example: --command compare",
)
def schema(command: str) -> None:
    """Print the JSON Schema of the JSON report (`plan --format json`).

    Validate scripts' inputs against it; `schema_version` in the report follows semver
    (a minor bump only adds fields).

    Example: hvo-calc schema > plan-report.schema.json
    """
    click.echo(schema_text(command), nl=False)
