"""Start-up cost of `hvo-calc plan --count 1 --format json`, beside the imports it cannot avoid.

The baseline is the time Python takes to start and import numpy, click and pydantic, the
libraries every plan needs; the ratio is the command's wall time over it. pydantic 2's
`import pydantic` is lazy: it loads almost nothing until a model class is made, which then
loads its schema machinery (and importlib.metadata, for plugins), about 80 ms here. So the
baseline imports pydantic as a user of it does: `from pydantic import BaseModel` and one model
class. The ratio to a bare `import pydantic` is printed too. All commands run in turns, in fresh
processes, with the same interpreter, so a busy machine slows them alike:

    python benchmarks/bench_cli.py              # 15 rounds
    python benchmarks/bench_cli.py --runs 31

Run it in a clean virtual environment: site-wide .pth files of a busy interpreter add to
every start-up.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time

ARGS = ["plan", "--count", "1", "--format", "json"]
BASELINE = [sys.executable, "-c", "import numpy, click\nfrom pydantic import BaseModel\nclass M(BaseModel): x: int"]
BARE = [sys.executable, "-c", "import numpy, click, pydantic"]


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--module", action="store_true", help="run `python -m hvo_calc` instead of hvo-calc")
    options = parser.parse_args()
    program = [sys.executable, "-m", "hvo_calc"] if options.module or not shutil.which("hvo-calc") else ["hvo-calc"]
    command = program + ARGS
    wall(command), wall(BASELINE), wall(BARE)  # warm the file cache
    plans, imports, bare = [], [], []
    for _ in range(options.runs):
        plans.append(wall(command))
        imports.append(wall(BASELINE))
        bare.append(wall(BARE))
    plan, baseline, bare_median = statistics.median(plans), statistics.median(imports), statistics.median(bare)
    print(f"command:  {' '.join(command)}")
    print(f"baseline: {' '.join(BASELINE)!r}")
    print(f"runs: {options.runs} of each, in turns")
    print(f"plan:     median {plan:.3f} s (min {min(plans):.3f}, max {max(plans):.3f})")
    print(f"baseline: median {baseline:.3f} s (min {min(imports):.3f}, max {max(imports):.3f})")
    print(f"bare:     median {bare_median:.3f} s (import numpy, click, pydantic; pydantic's lazy top level only)")
    print(f"ratio:    {plan / baseline:.2f} (medians; to the bare imports {plan / bare_median:.2f})")


if __name__ == "__main__":
    main()
