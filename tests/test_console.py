"""Terminal conventions, as rich documents them, for every human output (`hvo_calc.console`):
COLUMNS on a pipe too (80 when nothing says), FORCE_COLOR, NO_COLOR, TTY_COMPATIBLE,
TTY_INTERACTIVE; machine formats and progress bars never take colour or animation."""

import os
import re
import subprocess
import sys

import click
import pytest

from hvo_calc import console
from hvo_calc.cli.progress import simulation_progress

ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|9[0-7])(?:;[0-9;]*)?m")  # a foreground colour


def hvo_calc(*args: str, **settings: str) -> str:
    """stdout of `hvo-calc ARGS` on a pipe, with only the given terminal settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", *settings}}
    env = {k: v for k, v in env.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env["TERM"] = "xterm-256color"
    out = subprocess.run(
        [sys.executable, "-m", "hvo_calc", *args], capture_output=True, text=True, env={**env, **settings}
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def widest(text: str) -> int:
    """The widest line of the tables in `text` (the one-line notes under them are never wrapped)."""
    return max(len(line) for line in ESCAPE.sub("", text).splitlines() if line[:1] in "┏┃┡│└")


@pytest.mark.parametrize("columns", [80, 100, 132])
def test_columns_is_the_width_on_a_pipe_too(columns):
    assert widest(hvo_calc("plan", "--huge", "2M", COLUMNS=str(columns))) == columns  # rich fills it


def test_a_pipe_is_80_columns_when_nothing_says():
    assert widest(hvo_calc("plan", "--huge", "2M")) == console.DEFAULT_WIDTH == 80


def test_piped_output_is_plain_unless_forced():
    assert not ESCAPE.search(hvo_calc("explain", "--huge", "2M"))
    forced = hvo_calc("explain", "--huge", "2M", FORCE_COLOR="1")
    assert COLOUR.search(forced)
    assert not ESCAPE.search(hvo_calc("explain", "--huge", "2M", FORCE_COLOR=""))  # empty: unset


def test_no_color_removes_colour_but_keeps_bold():
    assert not ESCAPE.search(hvo_calc("explain", "--huge", "2M", FORCE_COLOR="1", NO_COLOR="1"))  # plain text
    table = hvo_calc("plan", "--huge", "2M", FORCE_COLOR="1", NO_COLOR="1")
    assert not COLOUR.search(table) and "\x1b[1m" in table


def test_tty_compatible_wins_over_force_color():
    assert COLOUR.search(hvo_calc("explain", "--huge", "2M", TTY_COMPATIBLE="1"))
    assert not ESCAPE.search(hvo_calc("explain", "--huge", "2M", TTY_COMPATIBLE="0", FORCE_COLOR="1"))
    assert "\x1b[1m" in hvo_calc("plan", "--huge", "2M", TTY_COMPATIBLE="1")  # the bold total row


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown", "prometheus"])
def test_machine_formats_never_carry_escapes(fmt):
    assert not ESCAPE.search(hvo_calc("plan", "--huge", "2M", "--format", fmt, FORCE_COLOR="1", TTY_COMPATIBLE="1"))


@pytest.mark.parametrize("fmt, shown", [("table", True), ("json", False), ("prometheus", False)])
def test_progress_bar_only_for_people_and_only_where_animations_run(monkeypatch, fmt, shown):
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with click.Context(click.Command("plan"), info_name="plan") as ctx:
        ctx.params["fmt"] = fmt
        with simulation_progress(1) as progress:
            assert (progress is not None) == shown
    monkeypatch.setenv("TTY_INTERACTIVE", "0")
    with simulation_progress(1) as progress:
        assert progress is None


def test_settings_read_as_rich_documents_them(monkeypatch):
    monkeypatch.delenv("COLUMNS")
    assert console.width(None) == 80 and not console.is_terminal(None) and not console.interactive(None)
    for value, expected in (("100", 100), ("0", 80), ("wide", 80), (" 90 ", 90)):
        monkeypatch.setenv("COLUMNS", value)
        assert console.width(None) == expected
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert console.is_terminal(None) and console.colour(None)
    monkeypatch.setenv("NO_COLOR", "1")
    assert console.is_terminal(None) and not console.colour(None)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert not console.is_terminal(None)
