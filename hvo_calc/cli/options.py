"""Options shared by the commands that take a plan (`plan`, `check`), in one place."""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click
from click.core import ParameterSource

from hvo_calc.errors import InputError
from hvo_calc.profiles import DEFAULT_ARCH

if TYPE_CHECKING:
    from hvo_calc.models import PlanReport
    from hvo_calc.planner import PlanRequest


PLAN_OPTIONS = (
    click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 metavar="FILE", help="A plan file: host, NUMA nodes and pools (see configs/examples/). "
                 "Host flags given on the command line override it. Example: --config host.toml"),
    click.option("--arch", default=DEFAULT_ARCH, show_default=True, metavar="ARCH",
                 help="Architecture, as `hvo-calc profiles` lists them. Example: --arch arm64"),
    click.option("--page", "base_page", default=None, metavar="SIZE",
                 help="Base page size (default: the architecture's smallest). Example: --page 64K"),
    click.option("--huge", default=None, metavar="SIZE",
                 help="Hugepage size of the pool. Example: --huge 1G. Without --huge and --count: "
                      "a default host with a 2M x 4096 and a 1G x 16 pool."),
    click.option("--count", type=click.IntRange(min=1), default=None,
                 help="Hugepages in the pool (default 1 with --huge). Example: --count 64"),
    click.option("--kernel", default="latest", show_default=True, metavar="VERSION",
                 help="Mainline release whose HVO behaviour to model, MAJOR.MINOR or latest. "
                      "Example: --kernel 5.14"),
    click.option("--struct-page-size", "struct_page_bytes", type=click.IntRange(8, 4096), default=64,
                 show_default=True, help="sizeof(struct page) in bytes (56 without memcg, 80 with KMSAN). "
                                         "Example: --struct-page-size 80"),
    click.option("--hvo", type=click.Choice(["on", "off"]), default="on", show_default=True,
                 help="Whether HVO is switched on (hugetlb_free_vmemmap=on). Example: --hvo off"),
    click.option("--placement", type=click.Choice(["packed", "scattered"]), default="packed",
                 show_default=True,
                 help="packed: hugepages side by side; scattered: each hugepage's vmemmap in its own "
                      "vmemmap PMD (worst case of split cost). Example: --placement scattered"),
    click.option("--shrink-to", type=click.IntRange(min=0), default=None, metavar="N",
                 help="Model shrinking the pool to N hugepages (the restore path). Example: --shrink-to 2"),
)
HOST_FLAGS = {"arch": "arch", "base_page": "base_page", "kernel": "kernel",
              "struct_page_bytes": "struct_page_bytes", "hvo": "hvo", "placement": "placement"}


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command with every option that describes a plan."""
    for option in reversed(PLAN_OPTIONS):
        command = option(command)
    return command


def request_from_options(config: Path | None, arch: str, base_page: str | None, huge: str | None,
                         count: int | None, kernel: str, struct_page_bytes: int, hvo: str, placement: str,
                         shrink_to: int | None) -> "PlanRequest":
    """The plan the options describe: a plan file with host flags on top, or the flags alone."""
    from hvo_calc.planfile import plan_request, read_plan_file
    from hvo_calc.planner import DEFAULT_POOLS, PlanRequest, PoolRequest

    values = dict(arch=arch, base_page=base_page, kernel=kernel, struct_page_bytes=struct_page_bytes,
                  hvo=hvo == "on", placement=placement)
    if config is not None:
        if huge is not None or count is not None or shrink_to is not None:
            raise InputError("--huge, --count and --shrink-to describe one pool; with --config, "
                             "set pools in the plan file")
        context = click.get_current_context()
        given = {name: values[name] for name in HOST_FLAGS
                 if context.get_parameter_source(name) == ParameterSource.COMMANDLINE}
        return plan_request(read_plan_file(config), given)
    pools: tuple[PoolRequest, ...] = ()
    if huge is not None or count is not None or shrink_to is not None:
        pools = (PoolRequest(hugepage_size=huge or DEFAULT_POOLS[0][0], count=count or 1, shrink_to=shrink_to),)
    return PlanRequest(**values, pools=pools)


def simulate(options: dict[str, Any]) -> "PlanReport":
    """Run the plan the options describe, with a progress bar on a terminal."""
    from hvo_calc.cli.progress import simulation_progress
    from hvo_calc.heap import keep_freed_memory
    from hvo_calc.planner import plan, planned_hugepages

    request = request_from_options(**options)
    keep_freed_memory()
    with simulation_progress(planned_hugepages(request)) as progress:
        return plan(request, progress)
