"""A progress bar for long simulations: rich, on stderr, only on a terminal.

It appears once a simulation has run for about a second, so short plans and every
piped or machine-readable run never show it.
"""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SHOW_AFTER_SECONDS = 1.0


@contextmanager
def simulation_progress(total_hugepages: int) -> Iterator[Callable[[int], None] | None]:
    """A callback the engine calls with the hugepages each window finished, or None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    started, done = time.monotonic(), 0
    bar: Progress | None = None
    task = None

    def advance(hugepages: int) -> None:
        nonlocal bar, task, done
        done += hugepages
        if bar is None and time.monotonic() - started > SHOW_AFTER_SECONDS:
            bar = Progress(
                TextColumn("remap-and-free, verify"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("hugepages, ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            bar.start()
            task = bar.add_task("simulate", total=total_hugepages, completed=done)
        elif bar is not None:
            bar.update(task, completed=done)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.stop()
