"""The command line: parse options, call the planner, print a renderer's output.

Exit codes come from one place, `main`: 0 success, 1 a budget failed, 2 bad input
(one line on stderr naming the problem and what is accepted), 3 the simulation failed
its own verification.
"""

import sys

import click

from hvo_calc import __version__
from hvo_calc.errors import HvoError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hvo-calc")
def cli() -> None:
    """Plan hugepage pools with HugeTLB Vmemmap Optimization (HVO).

    Simulates, on a model of the kernel's vmemmap page tables, how much struct-page
    memory HVO frees for each pool: reserved (kept mapped), freed, page-table pages
    spent on splits, and the net saving. Sizes are binary: 64K = 64 KiB, 2M = 2 MiB.

    Example: hvo-calc plan --arch arm64 --page 64K --huge 512M --count 64
    """


def _register() -> None:
    """Import every module of this package: each command module registers itself on `cli`,
    so a new command is a new file here and nothing else."""
    from importlib import import_module
    from pkgutil import iter_modules

    for module in iter_modules(__path__):
        import_module(f"{__name__}.{module.name}")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning every expected error into one stderr line and an exit code."""
    _register()
    try:
        cli.main(args=argv, prog_name="hvo-calc", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("hvo-calc: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"hvo-calc: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except HvoError as exc:
        click.echo(f"hvo-calc: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(0)
