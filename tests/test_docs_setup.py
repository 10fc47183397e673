"""docs/setup.md: every `console` example is a real run, and still gives what the page shows.

Each block holds commands (`$ hvo-calc ...`) each followed by its exact output (stdout, then
stderr), run from the repository root with COLUMNS=100 and NO_COLOR=1, as the guide says.
"""

import re
import shlex
from pathlib import Path

import pytest
from conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "docs" / "setup.md"]


def examples(page: Path) -> list[tuple[str, str]]:
    """(command, output) for every command of every console block of the page."""
    found = []
    for block in re.findall(r"^```console\n(.*?)^```$", page.read_text(encoding="utf-8"), re.S | re.M):
        for command in re.split(r"^(?=\$ )", block, flags=re.M):
            if command.strip():
                first, _, output = command.partition("\n")
                found.append((first.removeprefix("$ "), output))
    return found


CASES = [(page.name, command, output) for page in PAGES for command, output in examples(page)]


def test_the_pages_have_examples():
    assert len(CASES) >= 6
    assert any("config --emit cmdline" in c for _, c, _ in CASES) and any("check --host" in c for _, c, _ in CASES)


@pytest.mark.parametrize("page, command, output", CASES, ids=[f"{p}: {c}" for p, c, _ in CASES])
def test_example_output_is_what_the_command_prints(monkeypatch, page, command, output):
    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    assert words[0] == "hvo-calc"
    result = invoke(*words[1:], env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.stderr  # 1: the check that shows a drift
    assert result.stdout + result.stderr == output
