"""Options shared by the commands that take a plan (`plan`, `check`), in one place."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from pydantic import ValidationError

from hvo_calc.cli import complete
from hvo_calc.errors import InputError
from hvo_calc.profiles import DEFAULT_ARCH

if TYPE_CHECKING:
    from hvo_calc.models import PlanReport
    from hvo_calc.planner import PlanRequest


def not_blank(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse an empty or blank value (`--huge ''`): it would otherwise mean the default."""
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if item is not None and not str(item).strip():
            raise click.BadParameter("must not be empty; give a value or leave the option out", ctx=ctx, param=param)
    return value


def _paging(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else int(value)


PLAN_OPTIONS = (
    click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        default=None,
        callback=not_blank,
        metavar="FILE",
        help="A plan file: host, NUMA nodes and pools (see configs/examples/). "
        "Host flags given on the command line override it. Example: --config host.toml",
    ),
    click.option(
        "--arch",
        default=DEFAULT_ARCH,
        show_default=True,
        metavar="ARCH",
        shell_complete=complete.arches,
        callback=not_blank,
        help="Architecture, as `hvo-calc profiles` lists them or as `uname -m` prints it "
        "(x86_64, aarch64). Example: --arch arm64",
    ),
    click.option(
        "--page",
        "base_page",
        default=None,
        metavar="SIZE",
        shell_complete=complete.base_pages,
        callback=not_blank,
        help="Base page size (default: the architecture's smallest). Example: --page 64K",
    ),
    click.option(
        "--huge",
        default=None,
        metavar="SIZE",
        shell_complete=complete.hugepage_sizes,
        callback=not_blank,
        help="Hugepage size of the pool. Example: --huge 1G. Without --huge and --count: "
        "a default host with a 2M x 4096 and a 1G x 16 pool.",
    ),
    click.option(
        "--count",
        type=click.IntRange(min=1),
        default=None,
        help="Hugepages in the pool (default 1 with --huge). Example: --count 64",
    ),
    click.option(
        "--kernel",
        default="latest",
        show_default=True,
        metavar="RELEASE",
        shell_complete=complete.kernel_releases,
        callback=not_blank,
        help="Kernel release whose HVO behaviour to model; release: mainline MAJOR.MINOR (7.3), "
        "stable (6.12.58), uname -r (6.12.118+deb13-amd64) or latest. "
        "Example: --kernel 6.12.58",
    ),
    click.option(
        "--struct-page-size",
        "struct_page_bytes",
        type=click.IntRange(8, 4096),
        default=64,
        show_default=True,
        help="sizeof(struct page) in bytes (56 without memcg, 80 with KMSAN). Example: --struct-page-size 80",
    ),
    click.option(
        "--hvo",
        type=click.Choice(["on", "off"]),
        default="on",
        show_default=True,
        help="Whether HVO is switched on (hugetlb_free_vmemmap=on). Example: --hvo off",
    ),
    click.option(
        "--placement",
        type=click.Choice(["packed", "scattered"]),
        default="packed",
        show_default=True,
        help="packed: hugepages side by side; scattered: each hugepage's vmemmap in its own "
        "vmemmap PMD (worst case of split cost). Example: --placement scattered",
    ),
    click.option(
        "--paging",
        type=click.Choice(["4", "5"]),
        default=None,
        callback=_paging,
        help="Page-table levels of the kernel's address space (4, or 5 with la57) "
        "(default: the architecture's). Example: --paging 5",
    ),
    click.option(
        "--mmu",
        type=click.Choice(["radix", "hash"]),
        default=None,
        help="MMU mode where the architecture has two (powerpc: radix or hash page table) "
        "(default: the architecture's). Example: --mmu radix",
    ),
    click.option(
        "--shrink-to",
        type=click.IntRange(min=0),
        default=None,
        metavar="N",
        help="Model shrinking the pool to N hugepages (the restore path). Example: --shrink-to 2",
    ),
)
HOST_FLAGS = ("arch", "base_page", "kernel", "struct_page_bytes", "hvo", "placement", "paging", "mmu")
# Left out of the request when not given, so the profile's default applies.
OPTIONAL_HOST_FLAGS = ("paging", "mmu")


def plan_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a command with every option that describes a plan."""
    for option in reversed(PLAN_OPTIONS):
        command = option(command)
    return command


def request_from_options(
    config: str | Path | None,
    arch: str,
    base_page: str | None,
    huge: str | None,
    count: int | None,
    kernel: str,
    struct_page_bytes: int,
    hvo: str,
    placement: str,
    shrink_to: int | None,
    paging: int | None = None,
    mmu: str | None = None,
) -> "PlanRequest":
    """The plan the options describe: a plan file with host flags on top, or the flags alone."""
    from hvo_calc.planner import PlanRequest, PoolRequest

    values: dict[str, object] = dict(
        arch=arch,
        base_page=base_page,
        kernel=kernel,
        struct_page_bytes=struct_page_bytes,
        hvo=hvo == "on",
        placement=placement,
        paging=paging,
        mmu=mmu,
    )
    for name in OPTIONAL_HOST_FLAGS:
        if values[name] is None:
            del values[name]
    if config is not None:
        from hvo_calc.planfile import plan_request, read_plan_file

        if huge is not None or count is not None or shrink_to is not None:
            raise InputError(
                "--huge, --count and --shrink-to describe one pool; with --config, set pools in the plan file"
            )
        context = click.get_current_context()
        given = {
            name: values[name]
            for name in HOST_FLAGS
            if name in values and context.get_parameter_source(name) == ParameterSource.COMMANDLINE
        }
        return plan_request(read_plan_file(Path(config)), given, Path(config))
    try:
        pools: tuple[PoolRequest, ...] = ()
        if huge is not None or count is not None or shrink_to is not None:
            # No --huge: the profile's default size, which the planner knows.
            pools = (PoolRequest.model_validate({"hugepage_size": huge, "count": count or 1, "shrink_to": shrink_to}),)
        return PlanRequest.model_validate({**values, "pools": pools})
    except ValidationError as exc:  # what the options' own types let through: still one line
        err = exc.errors()[0]
        option = "--" + str(err["loc"][-1] if err["loc"] else "option").replace("_", "-")
        raise InputError(f"{option}: {err['msg']}") from None


def simulate(options: dict[str, Any]) -> "PlanReport":
    """Run the plan the options describe, with a progress bar on a terminal."""
    from hvo_calc.cli.progress import simulation_progress
    from hvo_calc.heap import keep_freed_memory
    from hvo_calc.planner import plan, planned_hugepages

    request = request_from_options(**options)
    keep_freed_memory()
    with simulation_progress(planned_hugepages(request)) as progress:
        return plan(request, progress)
