"""`hvo-calc compare`: plan what-if scenarios side by side, with each one's difference from a baseline."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued, not_blank, plan_options_except, pool_specs, request_from_options
from hvo_calc.cli.report_options import format_option, output_option, wide_option
from hvo_calc.errors import InputError
from hvo_calc.output import emit
from hvo_calc.profiles import DEFAULT_ARCH

if TYPE_CHECKING:
    from hvo_calc.compare.scenarios import Base

# Axis option -> (parameter name, the plan's default, accepted values where the CLI knows them).
AXIS_OPTIONS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "arch": ("arch", DEFAULT_ARCH, ()),
    "page": ("base_page", None, ()),
    "kernel": ("kernel", "latest", ()),
    "huge": ("huge", None, ()),
    "hvo": ("hvo", "on", ("on", "off")),
    "placement": ("placement", "packed", ("packed", "scattered")),
    "struct-page-size": ("struct_page_bytes", "64", ()),
}
EXAMPLES = {"kernel": "6.1,6.12,7.3", "huge": "2M,1G", "hvo": "on,off", "page": "4K,64K", "arch": "x86-64,arm64"}


def compare_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The plan's options, with each axis taking a comma-separated list."""
    command = plan_options_except(frozenset(name for name, _, _ in AXIS_OPTIONS.values()))(command)
    for axis, (name, default, choices) in reversed(AXIS_OPTIONS.items()):
        accepted = f" ({', '.join(choices)})" if choices else ""
        command = click.option(
            f"--{axis}",
            name,
            default=default,
            show_default=default is not None,
            metavar="LIST",
            callback=not_blank,
            help=f"Axis: one value or a comma-separated list{accepted}, every combination planned. "
            f"Example: --{axis} {EXAMPLES.get(axis, ','.join(choices) or '56,64')}",
        )(command)
    return command


def axis_values(options: dict[str, Any]) -> dict[str, list[str]]:
    """The axes given on the command line, as lists of values (checked where the CLI knows the choices)."""
    from hvo_calc.compare.scenarios import split_axis

    context = click.get_current_context()
    axes: dict[str, list[str]] = {}
    for axis, (name, _, choices) in AXIS_OPTIONS.items():
        if context.get_parameter_source(name) != ParameterSource.COMMANDLINE:
            continue
        values = split_axis(axis, str(options[name]))
        wrong = [
            v for v in values if (choices and v not in choices) or (axis == "struct-page-size" and not v.isdigit())
        ]
        if wrong:
            accepted = ", ".join(choices) if choices else "whole numbers of bytes from 8 to 4096"
            raise InputError(f"--{axis} {wrong[0]!r} is not a value of this axis; accepted: {accepted}")
        axes[axis] = values
    return axes


def _host_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options `request_from_options` takes, axes at the plan's defaults (scenarios set them)."""
    host = {k: v for k, v in options.items() if k not in ("huge", "count", "size", "pool", "shrink_to")}
    host.update(huge=None, count=None, shrink_to=None)
    host.update(arch=DEFAULT_ARCH, base_page=None, kernel="latest", hvo="on", placement="packed", struct_page_bytes=64)
    return host


def bases(files: tuple[str, ...], options: dict[str, Any], axes: dict[str, list[str]]) -> list["Base"]:
    """Plan files as given (named by file), or the host of the flags with its pools as specs."""
    from hvo_calc.compare.scenarios import Base

    pools = (options["huge"], options["count"], options["size"], options["shrink_to"])
    config = options.pop("config")
    paths = [*files, *([config] if config else [])]
    if paths:
        given = pools[1:] if "huge" in axes else pools  # --huge 2M,1G varies a plan file's one pool
        if options["pool"] or any(value is not None for value in given):
            raise InputError(
                "plan files hold their pools; give --count, --size, --pool without them "
                "(--huge only as an axis, e.g. --huge 2M,1G, for a file with one [[pool]])"
            )
        stems = [Path(p).stem for p in paths]
        names = stems if len(set(stems)) == len(stems) else paths
        host = _host_options(options)
        return [Base(name, request_from_options(config=path, **host)) for name, path in zip(names, paths)]
    huge = axes["huge"][0] if "huge" in axes else options["huge"]
    if "huge" in axes and options["pool"]:  # --huge varies the size of the --pool given
        from hvo_calc.hostshape import parse_pool

        if any(value is not None for value in pools[1:]):
            raise InputError("--pool gives the pool's size and amount; give --count, --size and --shrink-to without it")
        specs = tuple(parse_pool(text) for text in options["pool"])
    else:
        specs = pool_specs(options["pool"], huge, *pools[1:])
    return [Base(None, request_from_options(config=None, **_host_options(options)), specs)]


@cli.command(cls=SingleValued)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False), metavar="[PLAN.toml]...")
@compare_options
@click.option(
    "--baseline",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="The scenario (1 for the first) the differences are taken from (default: the first that can be planned). "
    "Example: --baseline 2",
)
@format_option("compare", sort=False)
@output_option
@wide_option
def compare(
    files: tuple[str, ...], baseline: int | None, fmt: str, output: str | None, wide: bool, **options: Any
) -> None:
    """Plan what-if scenarios side by side: every combination of the axes, or several plan files.

    Each scenario is planned as `plan` plans it (same engine, same verification). A row per
    scenario: what varies, vmemmap, reserved, freed, page tables, shared tail, saved, MemTotal
    and MemFree gain, struct pages as a share of RAM before and after HVO, and each figure's
    difference from the baseline. A scenario that cannot exist keeps its row with the reason;
    the exit code is 2 only when none can be planned.

    \b
    Examples:
      hvo-calc compare --kernel 6.1,7.3 --huge 1G --size 700G --memory 768G
      hvo-calc compare --huge 2M,1G --size 700G --memory 768G
      hvo-calc compare --arch arm64 --page 4K,64K --kernel 6.2 --huge 2M --size 64G
      hvo-calc compare a.toml b.toml --format json
    """
    from hvo_calc.compare.scenarios import compare as run_compare
    from hvo_calc.heap import keep_freed_memory
    from hvo_calc.reports import render

    axes = axis_values(options)
    starts = bases(files, options, axes)
    keep_freed_memory()
    report = run_compare(starts, axes, baseline)
    emit(render("compare", fmt, report, wide=wide), output, human=fmt == "table")
