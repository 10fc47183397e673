"""Tables fit the width they are given (issue 19): at 80 and 100 columns the plan, inspect and
compare tables stay inside COLUMNS and cut no value ("…"); --wide shows every column."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOST = Path(__file__).parent / "fixtures" / "hosts" / "x86-64_7.3.4_2node_hvo-on"
COMMANDS = {
    "plan": ["plan", "--count", "2"],
    "inspect": ["inspect", "--root", str(HOST)],
    "compare": ["compare", "--kernel", "6.1,7.3", "--huge", "2M,1G", "--size", "700G", "--memory", "768G"],
}


def run(args: list[str], columns: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS=columns, NO_COLOR="1")
    out = subprocess.run([sys.executable, "-m", "hvo_calc", *args], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_tables_fit_and_cut_nothing(command, columns):
    text = run(COMMANDS[command], str(columns))
    lines = table_lines(text)
    assert lines and max(len(line) for line in lines) <= columns
    assert "…" not in text


def test_wide_shows_every_column_of_the_plan():
    narrow = run(COMMANDS["plan"], "80")
    wide = run([*COMMANDS["plan"], "--wide"], "80")
    assert "not shown at this width: vmemmap pages each, shared tail, page tables" in narrow
    header = next(line for line in table_lines(wide) if "pool" in line)
    for heading in ("vmemmap pages each", "page tables", "shared tail", "saved %"):
        assert heading in header
    assert "2M-node0 (2M, node 0)" in wide and "8, 7 freed" in wide and "not shown" not in wide
