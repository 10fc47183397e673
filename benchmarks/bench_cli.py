"""Start-up cost of the command line, beside the imports it cannot avoid, measured in one run.

Each command is timed against a floor, a bare `python -c "import ..."` of the libraries that
path needs, in the same interpreter:

* `plan --count 1 --format json` (one pool) against `import numpy, click, pydantic`
  (target: at most 1.3 times);
* `--version` and `--help` against `import click` (target: at most 1.2 times).

pydantic 2's `import pydantic` is lazy: a model class built later loads its schema machinery
(and importlib.metadata, for plugins). The floor with one model class built is printed too,
for reference. Every command and floor runs once per round, in turns, in fresh processes,
so a busy machine slows them alike; the figures are medians:

    python benchmarks/bench_cli.py              # 15 rounds
    python benchmarks/bench_cli.py --runs 31
    python benchmarks/bench_cli.py --module     # python -m hvo_calc instead of the hvo-calc script
    python benchmarks/bench_cli.py --phases     # and where a plan's time goes, stage by stage

Run it in a clean virtual environment: site-wide .pth files of a busy interpreter add to
every start-up.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PLAN = ["plan", "--count", "1", "--format", "json"]
FLOORS = {
    "numpy, click, pydantic": [sys.executable, "-c", "import numpy, click, pydantic"],
    "click": [sys.executable, "-c", "import click"],
    "numpy, click, one pydantic model": [
        sys.executable,
        "-c",
        "import numpy, click\nfrom pydantic import BaseModel\nclass M(BaseModel): x: int",
    ],
}
# (what is measured, its arguments, the floor it is held to, the target ratio or None)
CASES = (
    ("plan, one pool, json", PLAN, "numpy, click, pydantic", 1.3),
    ("--version", ["--version"], "click", 1.2),
    ("--help", ["--help"], "click", 1.2),
    ("plan, one pool, json", PLAN, "numpy, click, one pydantic model", None),
)


# `--phases`: one plan, in one fresh process, timed stage by stage (milliseconds to stderr)
PHASES = """
import time, io, contextlib, sys
t0 = time.perf_counter()
import numpy, click, pydantic
t1 = time.perf_counter()
import hvo_calc.cli, hvo_calc.cli.plan, hvo_calc.cli.options, hvo_calc.planner, hvo_calc.reports.json_report
t2 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    try:
        hvo_calc.cli.main(["plan", "--count", "1", "--format", "json"])
    except SystemExit:
        pass
t3 = time.perf_counter()
print(*(round(1000 * (b - a), 1) for a, b in ((t0, t1), (t1, t2), (t2, t3))), file=sys.stderr)
print("pydantic.main" in sys.modules, file=sys.stderr)
"""
PHASE_NAMES = (
    "import numpy, click, pydantic (the floor)",
    "hvo-calc's modules on the plan path",
    "the plan: data, engine, JSON",
)


def phases(runs: int) -> None:
    """Where a one-pool plan's time above the floor goes, stage by stage, medians of `runs`."""
    stages: list[list[float]] = [[] for _ in PHASE_NAMES]
    models = False
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", PHASES], check=True, capture_output=True, text=True, env=ENV)
        words = done.stderr.split()
        for stage, value in zip(stages, words[-len(PHASE_NAMES) - 1 : -1]):
            stage.append(float(value))
        models = models or words[-1] == "True"
    print(f"one-pool plan --format json in one process, stage by stage; medians of {runs}")
    for name, values in zip(PHASE_NAMES, stages):
        print(f"  {statistics.median(values):6.1f} ms  {name}")
    print(f"  pydantic's model machinery (pydantic.main) loaded by the plan: {'yes' if models else 'no'}")


# As an installed package runs: from cached bytecode (pip compiles it at install time), which
# PYTHONDONTWRITEBYTECODE would leave unwritten for a checkout, compiling it on every start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def program(module: bool) -> list[str]:
    """This interpreter's `hvo-calc` script (beside it in the venv), or `python -m hvo_calc`."""
    script = Path(sys.executable).parent / "hvo-calc"
    return [sys.executable, "-m", "hvo_calc"] if module or not script.exists() else [str(script)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="rounds, each running every command once (default 15)")
    parser.add_argument("--module", action="store_true", help="run `python -m hvo_calc` instead of hvo-calc")
    parser.add_argument("--phases", action="store_true", help="also time a plan's stages in one process")
    options = parser.parse_args()
    if options.phases:
        phases(options.runs)
    hvo = program(options.module)
    commands = {" ".join(args): hvo + args for _, args, _, _ in CASES}
    runs = {**commands, **FLOORS}
    for command in runs.values():
        wall(command)  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(options.runs):
        for name, command in runs.items():
            times[name].append(wall(command))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"program: {' '.join(hvo)}; {options.runs} rounds, every command once a round, in turns; medians")
    for name, values in times.items():
        kind = "floor: import" if name in FLOORS else "hvo-calc"
        spread = f"min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f}"
        print(f"  {kind} {name}: {median[name] * 1000:.1f} ms ({spread})")
    for label, args, floor, target in CASES:
        ratio = median[" ".join(args)] / median[floor]
        verdict = "" if target is None else f" (target {target}: {'met' if ratio <= target else 'NOT met'})"
        print(f"ratio {label} / import {floor}: {ratio:.2f}{verdict}")


if __name__ == "__main__":
    main()
