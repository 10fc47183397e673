"""Options shared by the commands that take a plan (`plan`, `check`), in one place."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from hvo_calc.cli import complete
from hvo_calc.errors import InputError
from hvo_calc.profiles import DEFAULT_ARCH
from hvo_calc.record import RecordError, build, replace
from hvo_calc.units import parse_size

if TYPE_CHECKING:
    from hvo_calc.hostshape import PoolSpec
    from hvo_calc.models import PlanReport
    from hvo_calc.planner import PlanRequest


def not_blank(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Refuse an empty or blank value (`--huge ''`): it would otherwise mean the default."""
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if item is not None and not str(item).strip():
            raise click.BadParameter("must not be empty; give a value or leave the option out", ctx=ctx, param=param)
    return value


def path_option(flag: str, help: str, *, directory: bool = False) -> Callable[[Any], Any]:
    """An option naming a file (FILE) or a directory (DIR), as a `Path`; None when not given."""
    kind = click.Path(file_okay=not directory, dir_okay=directory, path_type=Path)
    return click.option(flag, type=kind, default=None, metavar="DIR" if directory else "FILE", help=help)


def _paging(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else int(value)


class DataChoice(click.Choice):  # type: ignore[type-arg]
    """A choice whose values come from the profiles, read when first needed (help, parsing),
    not when the CLI is imported."""

    def __init__(self, values: Callable[[], Sequence[str]]) -> None:
        self._values = values
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return tuple(self._values())

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        """click's __init__ sets the choices; ours are the data's."""


def _paging_choices() -> tuple[str, ...]:
    from hvo_calc.profiles import paging_levels

    return tuple(str(levels) for levels in paging_levels())


def _mmu_choices() -> tuple[str, ...]:
    from hvo_calc.profiles import mmu_names

    return mmu_names()


PLAN_OPTIONS: tuple[Callable[[Any], Any], ...] = (
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
        type=DataChoice(_paging_choices),
        default=None,
        callback=_paging,
        help="Page-table levels of the kernel's address space, where the architecture has "
        "several paging modes (x86-64: 4, or 5 with la57; riscv64: 3 for Sv39, 5 for Sv57) "
        "(default: the architecture's). Example: --paging 5",
    ),
    click.option(
        "--mmu",
        type=DataChoice(_mmu_choices),
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
HOST_SHAPE_OPTIONS = (
    click.option(
        "--memory",
        default=None,
        metavar="SIZE",
        callback=not_blank,
        help="Host RAM, split evenly over --nodes (default 1 node). Example: --memory 768G",
    ),
    click.option(
        "--nodes",
        "node_count",
        type=click.IntRange(min=1, max=1024),
        default=None,
        metavar="N",
        help="NUMA nodes sharing --memory evenly. Example: --memory 768G --nodes 2",
    ),
    click.option(
        "--node-memory",
        default=None,
        metavar="SIZE,SIZE",
        callback=not_blank,
        help="Each NUMA node's memory, in node order. Example: --node-memory 384G,384G",
    ),
    click.option(
        "--pool",
        "pool",
        multiple=True,
        metavar="POOL",
        callback=not_blank,
        help="A pool (repeatable), by total size or count, on a node, with settings: "
        "SIZE:AMOUNT[@NODE][,boot][,shrink-to=N][,zone=ZONE][,name=NAME]. "
        "Example: --pool 1G:700G --pool 2M:64G@1 --pool 1G:340@0,boot,name=guests",
    ),
    click.option(
        "--size",
        default=None,
        metavar="SIZE",
        callback=not_blank,
        help="Total size of the --huge pool, in place of --count (a whole number of hugepages). "
        "Example: --huge 1G --size 700G",
    ),
)
PLAN_OPTIONS = PLAN_OPTIONS + HOST_SHAPE_OPTIONS
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
    memory: str | None = None,
    node_count: int | None = None,
    node_memory: str | None = None,
    pool: tuple[str, ...] = (),
    size: str | None = None,
) -> "PlanRequest":
    """The plan the options describe: a plan file with host flags on top, or the flags alone."""
    from hvo_calc.planner import PlanRequest

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
    pool_flags = huge is not None or count is not None or shrink_to is not None or bool(pool) or size is not None
    try:
        if config is not None:
            if memory is not None or node_count is not None or node_memory is not None:
                raise InputError(
                    "--memory, --nodes and --node-memory describe the host; with --config, set [[node]] in the file"
                )
            host = host_from_file(Path(config), values)
            if not pool_flags:
                return host
            if host.pools:
                raise InputError(
                    "--huge, --count, --size, --shrink-to and --pool describe pools; "
                    f"{config} has [[pool]] tables: set pools in the plan file"
                )
        else:
            from hvo_calc import hostshape

            nodes = hostshape.nodes(parse_size(memory, "--memory") if memory else None, node_count, node_memory)
            host = build(PlanRequest, {**values, "nodes": nodes})
        # A pool by count without --huge leaves its size to the planner (the profile's default);
        # a pool by size is counted in that default size here.
        return with_pools(host, pool_specs(pool, huge, count, size, shrink_to))
    except RecordError as exc:  # what the options' own types let through: still one line
        option = "--" + (exc.where.rsplit(".", 1)[-1] or "option").replace("_", "-")
        raise InputError(f"{option}: {exc.problem}") from None


def host_from_file(config: Path, values: dict[str, object]) -> "PlanRequest":
    """The plan file's request, with the host flags given on the command line on top."""
    from hvo_calc.planfile import plan_request, read_plan_file

    context = click.get_current_context()
    given = {
        name: values[name]
        for name in HOST_FLAGS
        if name in values and context.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    return plan_request(read_plan_file(config), given, config)


def with_pools(host: "PlanRequest", specs: "tuple[PoolSpec, ...]") -> "PlanRequest":
    """The host with the pools the flags give (each resolved against its memory)."""
    from hvo_calc import hostshape

    pools = tuple(hostshape.resolve(spec, host) for spec in specs)
    return replace(host, pools=pools, host_only=False)


def pool_specs(
    pool: tuple[str, ...], huge: str | None, count: int | None, size: str | None, shrink_to: int | None
) -> "tuple[PoolSpec, ...]":
    """The pools the flags give: `--pool` (repeatable), or the one of `--huge` with `--count` or `--size`."""
    from hvo_calc import hostshape

    huge_bytes = parse_size(huge, "hugepage size") if huge is not None else None
    if pool:
        if huge is not None or count is not None or size is not None or shrink_to is not None:
            raise InputError(
                "--pool gives each pool's size and amount; give --huge, --count, --size and --shrink-to "
                "without it (shrink-to=N goes in the --pool value)"
            )
        return tuple(hostshape.parse_pool(text) for text in pool)
    if huge is None and count is None and size is None and shrink_to is None:
        return ()
    total = parse_size(size, "--size") if size is not None else None
    return (hostshape.single_pool(huge_bytes, count, total, shrink_to),)


def simulate(options: dict[str, Any]) -> "PlanReport":
    """Run the plan the options describe, with a progress bar on a terminal."""
    from hvo_calc.cli.progress import simulation_progress
    from hvo_calc.heap import keep_freed_memory
    from hvo_calc.planner import plan, planned_hugepages

    request = request_from_options(**options)
    keep_freed_memory()
    with simulation_progress(planned_hugepages(request)) as progress:
        return plan(request, progress)


def repeated_option(command: click.Command, ctx: click.Context, args: list[str]) -> str | None:
    """The first single-valued option given more than once, as typed (`--kernel`), or None.
    Click keeps the last value silently; a script that says `--kernel` twice means something else."""
    try:
        _, _, order = command.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError:
        return None  # the real parse reports it
    seen: set[str] = set()
    for param in order:
        if not isinstance(param, click.Option) or param.multiple or param.is_flag or param.count:
            continue
        if param.name in seen:
            return max(param.opts, key=len)
        seen.add(str(param.name))
    return None


class SingleValued(click.Command):
    """A command that refuses a single-valued option given twice (exit 2, naming it)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        option = repeated_option(self, ctx, args)
        if option is not None:
            raise click.UsageError(f"{option} is given more than once; it takes one value: give it once", ctx=ctx)
        return super().parse_args(ctx, args)


def option_name(option: Callable[..., Any]) -> str:
    """The parameter name of one of the option decorators above."""

    def holder() -> None:
        """Only collects the option's parameter."""

    option(holder)
    return str(holder.__click_params__[0].name)  # type: ignore[attr-defined]


def plan_options_except(names: frozenset[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`plan_options` without the options named (another command gives them its own meaning)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(PLAN_OPTIONS):
            if option_name(option) not in names:
                command = option(command)
        return command

    return decorate
