"""`hvo-calc inspect`: read the host it runs on (or a captured tree), plan its pools with
the same engine as `plan`, and compare the model with the kernel's own counters."""

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued, path_option
from hvo_calc.cli.report_options import format_option, output_option, wide_option
from hvo_calc.errors import InputError
from hvo_calc.host.fs import kind_of
from hvo_calc.output import emit, write_atomic
from hvo_calc.reports import MACHINE_FORMATS, render

if TYPE_CHECKING:
    from hvo_calc.host.inspector import Inspection


@cli.command(cls=SingleValued)
@path_option(
    "--root",
    "Read a captured tree instead of the running host: DIR/proc/..., DIR/sys/..., DIR/uname.txt "
    "(as --capture writes them). Example: --root captures/db-host",
    directory=True,
)
@path_option(
    "--dmesg",
    "Kernel log to take the HugeTLB boot lines from (a regular file of dmesg output, whole or "
    "grepped, or /dev/kmsg); by default /dev/kmsg when readable, or DIR/dmesg-hugetlb.txt with --root. "
    "Example: --dmesg boot.log",
)
@path_option(
    "--write-config",
    "Also write the host's plan as a plan file ([host], [[node]], [[pool]]) that "
    "`plan --config` and `check --config` read. Example: --write-config host.toml",
)
@path_option(
    "--capture",
    "Also copy the files inspect read into DIR, a new or empty directory (same paths, plus "
    "uname.txt, dmesg-hugetlb.txt and unreadable.txt, the files that could not be read), for --root "
    "elsewhere or a bug report; written whole or not at all. Example: --capture host-tree",
    directory=True,
)
@path_option(
    "--expect",
    "Also hold the host against the plan file it should follow: each drift finding one line on "
    "stderr, and with --format prometheus the hvo_calc_inspect_drift gauges (check --host --expect "
    "FILE fails on them). Example: --expect host.toml",
)
@format_option("inspect")
@output_option
@wide_option
def inspect(
    root: Path | None,
    dmesg: Path | None,
    write_config: Path | None,
    capture: Path | None,
    expect: Path | None,
    fmt: str,
    output: str | None,
    wide: bool,
) -> None:
    """Inspect this host: hugepage pools, HVO's state, the plan of its pools, and the
    model's figures against the kernel's counters (nr_memmap_pages, nr_memmap_boot_pages,
    MemTotal, HugePages_*). Needs no root; what it cannot read it says and goes on.

    \b
    Examples:
      hvo-calc inspect
      hvo-calc inspect --format json --capture /tmp/host-tree
      hvo-calc inspect --root /tmp/host-tree --write-config host.toml
      hvo-calc plan --config host.toml --kernel 7.3
    """
    from hvo_calc.cli.progress import simulation_progress
    from hvo_calc.heap import keep_freed_memory
    from hvo_calc.host.capture import write_capture
    from hvo_calc.host.inspector import inspect_host
    from hvo_calc.host.planfile import plan_file_text
    from hvo_calc.host.resolve import CannotPlan

    check_targets(root, capture, write_config)
    keep_freed_memory()
    try:
        live = root is None or root.resolve() == Path("/")
        inspection = inspect_host(root or Path("/"), live=live, dmesg=dmesg, progress=simulation_progress)
    except CannotPlan as exc:
        if capture is not None and exc.fs is not None and exc.found is not None:
            write_capture(exc.fs, exc.found, capture)
        for problem in exc.problems:
            click.echo(f"hvo-calc: error: {problem}", err=True)
        raise InputError("nothing can be planned from this host's files (one line above for each problem)") from None
    report = inspection.report
    config_text = None
    if write_config is not None:
        config_text = plan_file_text(inspection.request, report)  # before anything is printed
    if capture is not None:
        write_capture(inspection.fs, inspection.found, capture)
    drift_text, drifted = _drift(expect, inspection, fmt)
    emit(render("inspect", fmt, report, wide=wide) + drift_text, output, human=fmt not in MACHINE_FORMATS)
    _say_drift(drifted)
    if fmt in MACHINE_FORMATS or output not in (None, "-"):
        for reported in report.problems:
            click.echo(f"hvo-calc: warning: {reported.source}: {reported.message}", err=True)
    if write_config is not None and config_text is not None:
        write_atomic(write_config, config_text, option="--write-config")


def check_targets(root: Path | None, capture: Path | None, write_config: Path | None) -> None:
    """What the options name, checked before anything is read or printed."""
    from hvo_calc.host.capture import check_capture_target

    if root is not None and not root.is_dir():
        raise InputError(f"--root {str(root)!r} is not a directory")
    if capture is not None:
        check_capture_target(capture)
    if write_config is not None:
        check_write_config(write_config)


def check_write_config(path: Path) -> None:
    """--write-config FILE names a regular file, or a new one in a directory that exists:
    refused before anything is read or printed."""
    name = str(path)
    try:
        status = os.stat(path)  # follows a link, as the write does
    except FileNotFoundError:
        if not Path(os.path.realpath(path)).parent.is_dir():
            raise InputError(f"cannot write --write-config {name!r}: its directory does not exist") from None
        return
    except OSError as exc:
        raise InputError(f"cannot write --write-config {name!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(status.st_mode):
        raise InputError(
            f"cannot write --write-config {name!r}: it is {kind_of(status.st_mode)}, not a regular file; "
            "give a file name"
        )


def _say_drift(messages: list[str]) -> None:
    for message in messages:
        click.echo(f"hvo-calc: drift: {message}", err=True)


def _drift(expect: Path | None, inspection: "Inspection", fmt: str) -> tuple[str, list[str]]:
    """--expect FILE: the drift gauges (prometheus) and the failed findings' lines."""
    if expect is None:
        return "", []
    from hvo_calc.drift import against, expected_file
    from hvo_calc.reports.inspect import drift_prometheus

    findings = against(expected_file(expect), inspection)[1]
    text = drift_prometheus(inspection.report, findings) if fmt == "prometheus" else ""
    return text, [f.message for f in findings if not f.passed]
