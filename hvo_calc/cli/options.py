"""Options shared by the commands that take a plan (`plan`, `check`), in one place."""

from typing import Any, Callable

import click

from hvo_calc.planner import DEFAULT_ARCH, DEFAULT_POOLS, PlanRequest, PoolRequest

PLAN_OPTIONS = (
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
)


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command with every option that describes a plan."""
    for option in reversed(PLAN_OPTIONS):
        command = option(command)
    return command


def request_from_options(arch: str, base_page: str | None, huge: str | None, count: int | None,
                         kernel: str, struct_page_bytes: int, hvo: str, placement: str) -> PlanRequest:
    """The plan the options describe."""
    pools: tuple[PoolRequest, ...] = ()
    if huge is not None or count is not None:
        pools = (PoolRequest(hugepage_size=huge or DEFAULT_POOLS[0][0], count=count or 1),)
    return PlanRequest(arch=arch, base_page=base_page, kernel=kernel, struct_page_bytes=struct_page_bytes,
                       hvo=hvo == "on", placement=placement, pools=pools)
