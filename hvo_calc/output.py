"""Where a rendered report goes: stdout, or a file replaced atomically.

`write_atomic` writes the whole text to a temporary file in the target's directory and
then `os.replace`s it over the target, so a reader (node_exporter's textfile collector,
a dashboard poller) sees either the old file or the new one, never half of one. The
temporary name starts with a dot and ends in `.tmp`, which the textfile collector
ignores (it reads only `*.prom`).
"""

import os
import tempfile
from pathlib import Path

import click

from hvo_calc.errors import InputError

STDOUT = "-"


def _new_file_mode() -> int:
    """The mode `open()` would give a new file: 0o666 less the umask (mkstemp uses 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step; keep an existing file's mode."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode()
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(f"cannot write --output {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write --output {str(path)!r}: {exc.strerror or exc}") from exc
        raise


def emit(text: str, output: str | None, *, human: bool = False) -> None:
    """Print `text` to stdout, or write it atomically to `output` ("-" is stdout).

    A human format written to a file loses any colour codes: a file is not a terminal.
    """
    if output is None or output == STDOUT:
        click.echo(text, nl=False)
        return
    write_atomic(output, click.unstyle(text) if human else text)


def format_option(command):  # type: ignore[no-untyped-def]
    """`--format`, the same for every command that prints a report."""
    from hvo_calc.reports import RENDERERS

    return click.option(
        "--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="table", show_default=True,
        help="Output format: table for people; json, csv, markdown, prometheus for machines "
             "(deterministic, never coloured). Example: --format prometheus")(command)


def output_option(command):  # type: ignore[no-untyped-def]
    """`--output FILE`, written atomically (temp file + rename); "-" is stdout."""
    return click.option(
        "--output", "-o", metavar="FILE", default=None,
        help="Write the report to FILE atomically (temporary file in the same directory, then "
             "rename), e.g. for node_exporter's textfile collector. Default: stdout. "
             "Example: --output /var/lib/node_exporter/textfile/hvo.prom")(command)
