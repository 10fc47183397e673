"""`hvo-calc recommend`: which hugepage layout holds a need and returns the most memory, and its command line."""

from typing import Any

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued, not_blank, plan_options_except, request_from_options
from hvo_calc.cli.report_options import format_option, output_option
from hvo_calc.errors import InputError
from hvo_calc.output import emit
from hvo_calc.units import parse_size

# The plan's pool options and its single --kernel do not apply: recommend chooses the pools, over releases.
NOT_HERE = frozenset({"config", "huge", "count", "size", "pool", "shrink_to", "kernel"})


def _list(option: str, text: str | None) -> list[str]:
    from hvo_calc.compare.scenarios import split_axis

    return split_axis(option, text) if text else []


@cli.command(cls=SingleValued)
@click.option(
    "--need",
    required=True,
    metavar="SIZE",
    callback=not_blank,
    help="Hugepage memory the workload needs (guest memory, a database's buffers). Example: --need 700G",
)
@plan_options_except(NOT_HERE)
@click.option(
    "--kernel",
    "kernels",
    default="latest",
    show_default=True,
    metavar="LIST",
    callback=not_blank,
    help="Release, or a comma-separated list of releases, to recommend for. Example: --kernel 6.12,7.3",
)
@click.option(
    "--sizes",
    default=None,
    metavar="LIST",
    callback=not_blank,
    help="Only these hugepage sizes (default: every size the architecture offers). Example: --sizes 2M,1G",
)
@click.option(
    "--boot/--runtime",
    default=True,
    show_default=True,
    help="Allocate the pools at boot (hugepages= on the command line) or at run time (sysfs). Example: --runtime",
)
@format_option("recommend", sort=False)
@output_option
def recommend(
    need: str, kernels: str, sizes: str | None, boot: bool, fmt: str, output: str | None, **options: Any
) -> None:
    """Recommend hugepage layouts for a need: per hugepage size (and release), ranked by memory returned.

    Each layout is planned as `plan` plans it, spread evenly over the host's NUMA nodes
    (--memory with --nodes, or --node-memory), with the kernel command line that sets it
    up. Layouts that cannot exist are listed with why.

    \b
    Examples:
      hvo-calc recommend --need 700G
      hvo-calc recommend --need 700G --memory 768G --nodes 2 --kernel 6.12,7.3
      hvo-calc recommend --need 64G --arch arm64 --page 64K --kernel 6.2 --sizes 2M,512M
    """
    from hvo_calc.compare.recommend import recommend as run_recommend
    from hvo_calc.reports import render

    need_bytes = parse_size(need, "--need")
    if need_bytes <= 0:
        raise InputError("--need 0: the need must be positive; accepted: a size such as 64G or 700G")
    host = request_from_options(config=None, huge=None, count=None, shrink_to=None, kernel="latest", **options)
    size_list = [parse_size(size, "--sizes") for size in _list("sizes", sizes)]
    report = run_recommend(host, need_bytes, _list("kernel", kernels), size_list or None, boot)
    emit(render("recommend", fmt, report), output, human=fmt == "table")
