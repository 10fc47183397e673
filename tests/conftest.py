"""Shared fixtures: run the whole command line (exit codes included) in-process."""

import sys
from dataclasses import dataclass

import click.testing
import pytest

from hvo_calc.cli import main


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """`hvo-calc ARGS` through `main` (so errors end in their real exit codes)."""
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        runner = click.testing.CliRunner(mix_stderr=False)
    except TypeError:  # click 8.2+: stderr is always apart
        runner = click.testing.CliRunner()
    with runner.isolation(env=env) as streams:  # (stdout, stderr), plus the mixed output from 8.2
        out, err = streams[0], streams[1]
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # main always exits; keep the fixture honest if it stops doing so
            code = 0
        sys.stdout.flush()
        sys.stderr.flush()
        # read inside: click 8.1 to 8.3 close the streams when the isolation ends
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return Result(code, stdout, stderr)


@pytest.fixture
def run():
    return invoke


# What the terminal conventions read (hvo_calc.console): a user's or CI's own settings
# (FORCE_COLOR is set on many CI runners) must not change what the tests see.
TERMINAL_SETTINGS = ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
TEST_COLUMNS = "160"  # the tables' width when the tests were written; tests of the width set their own


@pytest.fixture(autouse=True)
def terminal_settings(monkeypatch):
    for name in TERMINAL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", TEST_COLUMNS)
