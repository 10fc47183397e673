"""A progress bar for long simulations: rich, on stderr, only where animations may run there
(a terminal, or as TTY_INTERACTIVE says: `hvo_calc.console`), and never for a machine format.

It appears once a simulation has run for about a second, so short plans never show it.
"""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SHOW_AFTER_SECONDS = 1.0


def _wanted() -> bool:
    """Whether a bar may be drawn: stderr takes animations and the command's --format (the
    running click command's `fmt`) is not a machine format."""
    import click

    from hvo_calc.console import interactive, is_terminal
    from hvo_calc.reports import MACHINE_FORMATS

    context = click.get_current_context(silent=True)
    fmt = None if context is None else context.params.get("fmt")
    return fmt not in MACHINE_FORMATS and interactive(sys.stderr) and is_terminal(sys.stderr)


@contextmanager
def simulation_progress(total_hugepages: int) -> Iterator[Callable[[int], None] | None]:
    """A callback the engine calls with the hugepages each window finished, or None."""
    if not _wanted():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from hvo_calc.console import make_console

    started, done = time.monotonic(), 0
    shown: tuple[Progress, TaskID] | None = None  # the bar and its task, once shown

    def advance(hugepages: int) -> None:
        nonlocal shown, done
        done += hugepages
        if shown is None and time.monotonic() - started > SHOW_AFTER_SECONDS:
            bar = Progress(
                TextColumn("remap-and-free, verify"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("hugepages, ETA"),
                TimeRemainingColumn(),
                console=make_console(sys.stderr, stream=sys.stderr),
                transient=True,
            )
            bar.start()
            shown = bar, bar.add_task("simulate", total=total_hugepages, completed=done)
        elif shown is not None:
            bar, task = shown
            bar.update(task, completed=done)

    try:
        yield advance
    finally:
        if shown is not None:
            shown[0].stop()
