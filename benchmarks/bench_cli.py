"""Wall time of `hvo-calc plan --count 1 --format json`, the machine-readable fast path.

Runs the installed `hvo-calc` (or `python -m hvo_calc` with --module) several times and
prints each time, the median and the spread. Run it in a clean virtual environment:
site-wide .pth files of a busy interpreter add to every start-up.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time

ARGS = ["plan", "--count", "1", "--format", "json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--module", action="store_true", help="run `python -m hvo_calc` instead of hvo-calc")
    options = parser.parse_args()
    command = [sys.executable, "-m", "hvo_calc"] if options.module or not shutil.which("hvo-calc") else ["hvo-calc"]
    times = []
    for _ in range(options.runs):
        start = time.perf_counter()
        subprocess.run(command + ARGS, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    print(f"command: {' '.join(command + ARGS)}")
    print(f"runs: {options.runs}; times (s): {' '.join(f'{t:.3f}' for t in sorted(times))}")
    print(f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s")


if __name__ == "__main__":
    main()
