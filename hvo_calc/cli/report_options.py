"""The options of every command that prints a report: `--format` (the kind's formats, from the
reports room's registry), `--output FILE` and `--wide`."""

from collections.abc import Callable
from typing import TypeVar

import click

from hvo_calc.cli import complete
from hvo_calc.cli.options import not_blank

Command = TypeVar("Command", bound=Callable[..., object])


def format_option(kind: str, help_text: str | None = None, *, sort: bool = True) -> Callable[[Command], Command]:
    """`--format` over the formats the reports room has for `kind`; the table is the default."""
    from hvo_calc.reports import formats

    names = formats(kind)
    machines = [name for name in names if name != "table"]
    example = "prometheus" if "prometheus" in machines else machines[0]
    help_text = help_text or (
        f"Output format: table for people; {', '.join(machines)} for machines (deterministic, never "
        f"coloured). Example: --format {example}"
    )
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(sorted(names) if sort else list(names)),
        shell_complete=complete.formats,
        default="table",
        show_default=True,
        help=help_text,
    )


def output_option(command: Command) -> Command:
    """`--output FILE`: a file replaced atomically; a device or FIFO written in place; "-" is stdout."""
    return click.option(
        "--output",
        "-o",
        metavar="FILE",
        default=None,
        callback=not_blank,
        help="Write the report to FILE atomically (temporary file in the same directory, then "
        "rename; a symlink's target is replaced, the link kept), e.g. for node_exporter's "
        "textfile collector. A device or FIFO (/dev/null, /dev/stdout) is written in place, "
        "never replaced. Default and -: stdout. "
        "Example: --output /var/lib/node_exporter/textfile/hvo.prom",
    )(command)


def wide_option(command: Command) -> Command:
    """`--wide`: every column of the tables, however wide they get."""
    return click.option(
        "--wide",
        is_flag=True,
        default=False,
        help="Tables with every column, however wide (by default a table fits the width, COLUMNS or "
        "the terminal's, 80 on a pipe, leaving out the columns it has no room for and naming them).",
    )(command)
