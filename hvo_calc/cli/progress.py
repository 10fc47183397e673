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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

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
                console=Console(stderr=True),
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
