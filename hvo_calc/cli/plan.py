"""`hvo-calc plan`: simulate HVO for a host's pools and print the report."""

import click

from hvo_calc.cli import cli
from hvo_calc.planner import DEFAULT_ARCH, DEFAULT_POOLS, PlanRequest, PoolRequest, plan as run_plan
from hvo_calc.reports import RENDERERS


def _pools(huge: str | None, count: int | None) -> tuple[PoolRequest, ...]:
    if huge is None and count is None:
        return ()
    return (PoolRequest(hugepage_size=huge or DEFAULT_POOLS[0][0], count=count or 1),)


@cli.command()
@click.option("--arch", default=DEFAULT_ARCH, show_default=True, metavar="ARCH",
              help="Architecture, as `hvo-calc profiles` lists them. Example: --arch arm64")
@click.option("--page", "base_page", default=None, metavar="SIZE",
              help="Base page size (default: the architecture's smallest). Example: --page 64K")
@click.option("--huge", default=None, metavar="SIZE",
              help="Hugepage size of the pool. Example: --huge 1G. Without --huge and --count: "
                   "a default host with a 2M x 4096 and a 1G x 16 pool.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Hugepages in the pool (default 1 with --huge). Example: --count 64")
@click.option("--kernel", default="latest", show_default=True, metavar="VERSION",
              help="Mainline release whose HVO behaviour to model, MAJOR.MINOR or latest. Example: --kernel 5.14")
@click.option("--struct-page-size", "struct_page_bytes", type=click.IntRange(8, 4096), default=64,
              show_default=True, help="sizeof(struct page) in bytes (56 without memcg, 80 with KMSAN). "
                                      "Example: --struct-page-size 80")
@click.option("--hvo", type=click.Choice(["on", "off"]), default="on", show_default=True,
              help="Whether HVO is switched on (hugetlb_free_vmemmap=on). Example: --hvo off")
@click.option("--placement", type=click.Choice(["packed", "scattered"]), default="packed", show_default=True,
              help="packed: hugepages side by side; scattered: each hugepage's vmemmap in its own "
                   "vmemmap PMD (worst case of split cost). Example: --placement scattered")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="table", show_default=True,
              help="Output format. Example: --format json")
def plan(arch: str, base_page: str | None, huge: str | None, count: int | None, kernel: str,
         struct_page_bytes: int, hvo: str, placement: str, fmt: str) -> None:
    """Simulate HVO on a host's hugepage pools and report reserved, freed and saved vmemmap.

    \b
    Examples:
      hvo-calc plan
      hvo-calc plan --arch arm64 --page 64K --huge 512M --count 64
      hvo-calc plan --arch x86-64 --huge 1G --count 3 --kernel 5.14 --format json
    """
    request = PlanRequest(
        arch=arch, base_page=base_page, kernel=kernel, struct_page_bytes=struct_page_bytes,
        hvo=hvo == "on", placement=placement, pools=_pools(huge, count),
    )
    click.echo(RENDERERS[fmt](run_plan(request)), nl=False)
