"""How fast the engine simulates the largest hosts, and how much memory it needs.

    python benchmarks/bench_engine.py            # 16 TiB cases, 5 runs; sweep 1 GiB .. 64 TiB
    python benchmarks/bench_engine.py --quick    # 1 TiB cases, 3 runs; sweep 1 GiB .. 4 TiB

Engine time is the time spent in `simulate_pool` during `planner.plan()` (the rest of
`plan()` is the report). Each case runs in a fresh subprocess, so its peak RSS
(ru_maxrss) is its own.

The baseline, measured in the same process right after the engine runs, is one bulk
copy (np.copyto) of as many uint64 entries as the pool has vmemmap PTEs, in the engine's
storage: a 2-D array of 512-entry table rows. That is the floor for touching every entry
once, and the ratio is engine time / baseline. For reference the script also prints the
same copy done a window at a time (DEFAULT_WINDOW_PTES entries, reused, so it stays in
cache): a floor no simulation that reads and writes its entries several times can
approach, since each of its passes runs at that speed.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hvo_calc import planner  # noqa: E402
from hvo_calc.engine import DEFAULT_WINDOW_PTES  # noqa: E402
from hvo_calc.heap import keep_freed_memory  # noqa: E402

TIB = 1 << 40
GIB = 1 << 30
SIZES = {"2M": 2 << 20, "1G": GIB}
SWEEP_RUNS = 3
# The two cases on the latest kernel (7.3: the shared tail page), then 2M on the
# kernels of current distributions (7.0: head copy, tails map it; 6.1: no head-page copy, so
# the kept heads lie among the freed frames; 5.14: two pages kept, 7-page ranges with a gap).
CASES = (("2M", "latest"), ("1G", "latest"), ("2M", "7.0"), ("2M", "6.1"), ("2M", "5.14"))


def engine_run(size: str, count: int, kernel: str) -> tuple[float, dict]:
    """One `plan()` of one x86-64 pool: seconds inside simulate_pool and its stats."""
    spent, stats = [0.0], {}
    simulate_pool = planner.simulate_pool

    def timed(*args, **kwargs):
        start = time.perf_counter()
        result = simulate_pool(*args, **kwargs)
        spent[0] += time.perf_counter() - start
        stats.update(vars(result))
        return result

    planner.simulate_pool = timed
    try:
        pool = planner.PoolRequest(hugepage_size=size, count=count)
        planner.plan(planner.PlanRequest(arch="x86-64", kernel=kernel, pools=(pool,)))
    finally:
        planner.simulate_pool = simulate_pool
    return spent[0], stats


def copy_baseline(nr_entries: int, window_entries: int, entries_per_table: int = 512) -> float:
    """Seconds for np.copyto of `nr_entries` uint64 entries, `window_entries` at a time."""
    rows = max(1, window_entries // entries_per_table)
    src = np.ones((rows, entries_per_table), dtype=np.uint64)
    dst = np.zeros_like(src)
    np.copyto(dst, src)  # fault the pages in, as the engine's reused storage is
    start = time.perf_counter()
    done = 0
    while done < nr_entries:
        np.copyto(dst, src)
        done += src.size
    return time.perf_counter() - start


def measure_case(size: str, count: int, kernel: str, runs: int, baselines: bool) -> dict:
    """Run in the subprocess: engine medians, peak RSS, then the baselines."""
    keep_freed_memory()  # as the CLI does for its process
    times = []
    for _ in range(runs):
        seconds, stats = engine_run(size, count, kernel)
        times.append(seconds)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    entries = stats["vmemmap_pages"]
    bulk = windowed = None
    if baselines:
        bulk = statistics.median(copy_baseline(entries, entries) for _ in range(runs))
        windowed = statistics.median(copy_baseline(entries, DEFAULT_WINDOW_PTES) for _ in range(runs))
    return dict(
        size=size,
        count=count,
        kernel=kernel,
        runs=runs,
        engine_s=statistics.median(times),
        engine_all=times,
        stats=stats,
        peak_rss=peak_rss,
        baseline_s=bulk,
        baseline_windowed_s=windowed,
    )


def in_subprocess(size: str, count: int, runs: int, baselines: bool, kernel: str = "latest") -> dict:
    cmd = [sys.executable, __file__, "--case", size, str(count), kernel, "--runs", str(runs)]
    if baselines:
        cmd.append("--baselines")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def pool_label(size: str, count: int) -> str:
    total = SIZES[size] * count
    return f"{total // TIB} TiB" if total >= TIB else f"{total // GIB} GiB"


def print_cases(results: list[dict]) -> None:
    print(
        f"Cases: x86-64, 4K pages; median of {results[0]['runs']} runs; "
        f"baseline = one np.copyto of as many uint64 entries as PTEs, in 512-entry table rows; "
        f"in brackets the same copy {DEFAULT_WINDOW_PTES} entries at a time (cache-resident)"
    )
    head = (
        "pool",
        "kernel",
        "hugepages",
        "vmemmap PTEs",
        "PTEs remapped",
        "PMD splits",
        "engine s",
        "PTEs/s",
        "copy s",
        "ratio",
        "(window copy s, ratio)",
        "peak RSS MiB",
    )
    rows = []
    for r in results:
        s, engine, windowed = r["stats"], r["engine_s"], r["baseline_windowed_s"]
        rows.append(
            (
                f"{pool_label(r['size'], r['count'])} of {r['size']}",
                r["kernel"],
                f"{s['hugepages']:,}",
                f"{s['vmemmap_pages']:,}",
                f"{s['ptes_remapped']:,}",
                f"{s['split_pmds']:,}",
                f"{engine:.3f}",
                f"{s['vmemmap_pages'] / engine / 1e6:.0f} M",
                f"{r['baseline_s']:.4f}",
                f"{engine / r['baseline_s']:.1f}x",
                f"({windowed:.4f}, {engine / windowed:.1f}x)",
                f"{r['peak_rss'] / 2**20:.0f}",
            )
        )
    print_table(head, rows)


def print_sweep(results: list[dict]) -> None:
    print(f"Sweep: 2M hugepages on x86-64, median of {SWEEP_RUNS} runs, a fresh process per pool")
    head = ("pool", "hugepages", "vmemmap PTEs", "engine s", "ns per PTE", "peak RSS MiB")
    rows = [
        (
            pool_label(r["size"], r["count"]),
            f"{r['count']:,}",
            f"{r['stats']['vmemmap_pages']:,}",
            f"{r['engine_s']:.3f}",
            f"{r['engine_s'] / r['stats']['vmemmap_pages'] * 1e9:.1f}",
            f"{r['peak_rss'] / 2**20:.0f}",
        )
        for r in results
    ]
    print_table(head, rows)


def print_table(head: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    for line in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(line, widths)))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 TiB cases, 3 runs, sweep up to 4 TiB")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (median reported)")
    parser.add_argument("--case", nargs=3, metavar=("SIZE", "COUNT", "KERNEL"), help=argparse.SUPPRESS)
    parser.add_argument("--baselines", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        size, count, kernel = args.case[0], int(args.case[1]), args.case[2]
        print(json.dumps(measure_case(size, count, kernel, args.runs or 1, args.baselines)))
        return
    runs = args.runs or (3 if args.quick else 5)
    case_bytes = TIB if args.quick else 16 * TIB
    cases = [in_subprocess(size, case_bytes // SIZES[size], runs, True, kernel) for size, kernel in CASES]
    print_cases(cases)
    sweep_top = 4 * TIB if args.quick else 64 * TIB
    sweep, pool = [], GIB
    while pool <= sweep_top:
        sweep.append(in_subprocess("2M", pool // SIZES["2M"], SWEEP_RUNS, False))
        pool *= 4
    print_sweep(sweep)


if __name__ == "__main__":
    main()
