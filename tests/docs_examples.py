"""The examples in README.md and docs/*.md that show output, run for real.

An example is a fenced block with the info string `console`: each command on a line starting
with `$ ` (a line ending in a backslash continues it), followed by its exact output. Each
command runs in bash from the repository root (in a scratch directory linked to it, so a
command that writes a file writes it there), with `COLUMNS=100` and `NO_COLOR=1` and none of the
other terminal settings; `hvo-calc` is this checkout's command line (`python -m hvo_calc`).
Output is stdout and stderr as a terminal shows them (stderr merged into stdout), with each
line's trailing blanks removed, as Markdown keeps them.

    python tests/docs_examples.py            # check: name every example whose output drifted
    python tests/docs_examples.py --update   # rewrite the shown output from real runs

`tests/test_docs.py` runs the check in the test suite.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_REMOVED = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "HVO_CALC_DEBUG")
ENV_SET = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
FENCE = re.compile(r"^(`{3,})console[ \t]*$")
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Example:
    """One `$ command` of a console block and the output shown under it."""

    path: Path
    line: int  # 1-based line of the `$ ` in the file
    command: str
    shown: str  # the lines under it, joined with newlines, each ending in one

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every docs/*.md, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(lines: list[str]) -> Iterator[tuple[int, int]]:
    """(first, end) line indexes of each console block's body."""
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == match[1]), None)
        if end is None:
            raise ValueError(f"line {i + 1}: a console block is never closed")
        yield i + 1, end
        i = end + 1


def _commands(body: list[str], first: int) -> Iterator[tuple[int, int, int, str]]:
    """(line of the `$`, first output line, end of output, command) for each command of a block body
    (indexes into the file, `first` being the body's first line)."""
    starts = [k for k, line in enumerate(body) if line.startswith("$ ")]
    if body and not starts:
        raise ValueError(f"line {first + 1}: a console block without a `$ ` command")
    if starts and starts[0] != 0:
        raise ValueError(f"line {first + 1}: a console block must start with a `$ ` command")
    for n, k in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(body)
        parts, out = [body[k][2:]], k + 1
        while parts[-1].endswith("\\") and out < end:
            parts.append(body[out])
            out += 1
        yield first + k, first + out, first + end, "\n".join(parts)


def examples(path: Path) -> list[Example]:
    """Every example in one Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for first, end in _blocks(lines):
        for dollar, out, stop, command in _commands(lines[first:end], first):
            shown = "".join(line + "\n" for line in lines[out:stop])
            found.append(Example(path, dollar + 1, command, shown))
    return found


def _scratch_root() -> tempfile.TemporaryDirectory[str]:
    """A directory that looks like the repository root (each entry a link to it), so examples
    read `tests/fixtures/...` and `configs/...` as they are, and what they write stays here."""
    scratch = tempfile.TemporaryDirectory(prefix="hvo-calc-docs-")
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            os.symlink(entry, Path(scratch.name) / entry.name)
    return scratch


def run(command: str, cwd: str) -> str:
    """What `command` prints, as the docs show it."""
    if not re.match(r"(\S+=\S*\s+)*hvo-calc(\s|$)", command):
        raise ValueError(f"an example command must start with hvo-calc: {command!r}")
    env = {k: v for k, v in os.environ.items() if k not in ENV_REMOVED}
    env.update(ENV_SET)
    program = f'hvo-calc() {{ {shlex.quote(sys.executable)} -m hvo_calc "$@"; }}\n'
    result = subprocess.run(
        ["bash", "-c", program + command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    return "".join(line.rstrip() + "\n" for line in result.stdout.splitlines())


def drifted(paths: list[Path] | None = None) -> list[tuple[Example, str]]:
    """Each example whose real output differs from what it shows, with the real output."""
    found = []
    with _scratch_root() as cwd:
        for path in paths or documents():
            for example in examples(path):
                real = run(example.command, cwd)
                if real != example.shown:
                    found.append((example, real))
    return found


def update(path: Path, cwd: str) -> int:
    """Rewrite the shown output of every example in `path` from a real run; the examples changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    changes = []
    for first, end in _blocks(lines):
        for _, out, stop, command in _commands(lines[first:end], first):
            real = run(command, cwd).splitlines()
            if real != lines[out:stop]:
                changes.append((out, stop, real))
    for out, stop, real in reversed(changes):
        lines[out:stop] = real
    if changes:
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(changes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="rewrite the shown output from real runs")
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: README.md and docs/*.md)")
    options = parser.parse_args()
    paths = [p.resolve() for p in options.files] or documents()
    if options.update:
        with _scratch_root() as cwd:
            for path in paths:
                print(f"{path.relative_to(ROOT)}: {update(path, cwd)} example(s) rewritten")
        return 0
    bad = drifted(paths)
    for example, _ in bad:
        print(f"{example.where}: the output of `{example.command}` has drifted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
