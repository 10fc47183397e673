"""Shared fixtures: run the whole command line (exit codes included) in-process."""

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
    runner = click.testing.CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # main always exits; keep the fixture honest if it stops doing so
            code = 0
    return Result(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def run():
    return invoke
