"""The one place rich consoles are made, so every human output follows the same terminal
conventions, as rich documents them, on every rich the floors allow (13 lacks TTY_COMPATIBLE):

* `TTY_COMPATIBLE=1` writes escape sequences to a pipe or file, `TTY_COMPATIBLE=0` never;
  otherwise a non-empty `FORCE_COLOR` forces them; otherwise only a terminal gets them.
* a non-empty `NO_COLOR` removes colour (bold stays), whatever forced the terminal.
* `TTY_INTERACTIVE=1` or `0` says whether animations (the progress bar) may run; otherwise
  they run on a terminal only.
* `COLUMNS` is the width, on a terminal and on a pipe alike; without it a terminal's own
  width, else 80.

Machine formats never come here: they are text, not rich renderings.
"""

import os
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_WIDTH = 80


def _setting(name: str) -> str:
    return os.environ.get(name, "")


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether escape sequences may be written to `stream`."""
    compatible = _setting("TTY_COMPATIBLE")
    if compatible in ("0", "1"):
        return compatible == "1"
    return bool(_setting("FORCE_COLOR")) or _isatty(stream)


def colour(stream: IO[str] | None) -> bool:
    """Whether text for `stream` is styled with colour."""
    return is_terminal(stream) and not _setting("NO_COLOR")


def interactive(stream: IO[str] | None) -> bool:
    """Whether an animation (a progress bar redrawn in place) may run on `stream`."""
    setting = _setting("TTY_INTERACTIVE")
    if setting in ("0", "1"):
        return setting == "1"
    return _isatty(stream)


def width(stream: IO[str] | None) -> int:
    """The columns text for `stream` may use: COLUMNS, else the terminal's, else 80."""
    columns = _setting("COLUMNS").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if _isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):
            pass
    return DEFAULT_WIDTH


def make_console(file: IO[str], *, stream: IO[str] | None = None, **options: Any) -> "Console":
    """A rich console writing to `file` (a buffer, or the stream itself) for `stream` (default
    stdout): terminal, colour and width decided by the conventions above. Everything printed is
    taken literally (no markup, emoji codes or highlighting) unless `options` say otherwise;
    `options` may also fix the width."""
    from rich.console import Console

    target = sys.stdout if stream is None else stream
    settings: dict[str, Any] = {
        "force_terminal": is_terminal(target),
        "force_interactive": interactive(target),
        "no_color": not colour(target),
        "width": width(target),
        "markup": False,
        "emoji": False,
        "highlight": False,
        **options,
    }
    return Console(file=file, **settings)
