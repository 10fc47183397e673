"""`hvo-calc compare` of N scenarios against N plans' engine time plus one start-up.

The floor, measured in the same run: each scenario's `plan()` timed in this process (its
median over the rounds, summed over the scenarios: N times one plan's engine time) plus the
start-up of one trivial plan (`hvo-calc plan --count 1 --format json` in a fresh process:
interpreter, imports, a one-hugepage plan, rendering). The ratio is the compare command's
wall time (a fresh process) over that floor; at most 1.0 means compare adds nothing per
scenario beyond the plan itself.

    python benchmarks/bench_compare.py             # 5 rounds
    python benchmarks/bench_compare.py --runs 9 -- --kernel 6.1,7.3 --huge 2M,1G --size 16G
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from hvo_calc.compare.scenarios import Base, expand, request_for
from hvo_calc.planner import PlanRequest, plan

DEFAULT = ["--kernel", "6.1,6.12,7.3", "--huge", "2M,1G", "--size", "64G", "--memory", "256G"]


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def requests(args: list[str]) -> list[PlanRequest]:
    """The scenarios' requests, as compare builds them (only --kernel, --huge, --size, --memory read here)."""
    from hvo_calc.hostshape import nodes, single_pool
    from hvo_calc.units import parse_size

    given = dict(zip(args[::2], args[1::2]))
    axes = {name.removeprefix("--"): given[name].split(",") for name in ("--kernel", "--huge") if name in given}
    host = PlanRequest(nodes=nodes(parse_size(given["--memory"]), None, None) if "--memory" in given else ())
    spec = single_pool(None, None, parse_size(given.get("--size", "1G")), None)
    base = Base(None, host, (spec,))
    return [request_for(base, setting) for _, _, _, setting in expand([base], axes)]


def engine_seconds(request: PlanRequest) -> float:
    start = time.perf_counter()
    plan(request)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("args", nargs="*", help="compare's options (default: %(default)s)", default=DEFAULT)
    options = parser.parse_args()
    program = ["hvo-calc"] if shutil.which("hvo-calc") else [sys.executable, "-m", "hvo_calc"]
    compare = [*program, "compare", *options.args, "--format", "json"]
    startup = [*program, "plan", "--count", "1", "--format", "json"]
    scenarios = requests(options.args)
    wall(startup)  # warm the file cache
    compares, startups, engines = [], [], [[] for _ in scenarios]
    for _ in range(options.runs):
        compares.append(wall(compare))
        startups.append(wall(startup))
        for times, request in zip(engines, scenarios):
            times.append(engine_seconds(request))
    engine = sum(statistics.median(times) for times in engines)
    floor = engine + statistics.median(startups)
    measured = statistics.median(compares)
    print(f"command:   {' '.join(compare)}")
    print(f"scenarios: {len(scenarios)}; runs: {options.runs} of each, in turns")
    print(f"compare:   median {measured:.3f} s (min {min(compares):.3f}, max {max(compares):.3f})")
    print(f"engine:    {engine:.3f} s (each scenario's plan() median, summed)")
    print(f"start-up:  median {statistics.median(startups):.3f} s ({' '.join(startup)})")
    print(f"ratio:     {measured / floor:.2f} (compare over N engine times plus one start-up; target at most 1.00)")


if __name__ == "__main__":
    main()
