"""How fast the engine simulates the largest hosts against a floor measured in the same
process, and how much memory it needs.

    python benchmarks/bench_engine.py                          # 16 TiB cases + 64 TiB, 5 rounds
    python benchmarks/bench_engine.py --quick                  # 1 TiB cases, 3 rounds
    python benchmarks/bench_engine.py --previous /tmp/prev     # and a previous release beside it

`--previous PATH` is a checkout of the release to compare with (for example
`git worktree add --detach /tmp/prev main`); its engine runs in the same rounds as this one.

Every measurement is a fresh process: it plans one x86-64 pool, takes the time spent inside
`simulate_pool` (the engine: populate, remap-and-free, verify, every PTE), reads its peak RSS,
then measures the floor in the same process: one `copy()` of as many 8-byte entries as the
pool has vmemmap PTEs (a new array, as the engine's first pass over its PTEs allocates), and
`np.copyto` into memory already there (each the best of three tries). The ratio is engine time over the `copy()` floor.
Cases and implementations are interleaved round by round; medians are quoted.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TIB = 1 << 40
GIB = 1 << 30
SIZES = {"2M": 2 << 20, "1G": GIB}
# The cases: 16 TiB of 2M pages on the latest kernel (7.3: the shared tail page) and
# on the kernels of current distributions (7.0: head copy, tails map it; 6.1: no head copy,
# the kept heads lie among the freed frames; 5.14: two pages kept), 16 TiB of 1G, 64 TiB of 2M.
CASES = (
    ("2M", 16, "latest"),
    ("2M", 16, "7.0"),
    ("2M", 16, "6.1"),
    ("2M", 16, "5.14"),
    ("1G", 16, "latest"),
    ("2M", 64, "latest"),
)
QUICK_CASES = tuple((size, 1, kernel) for size, _, kernel in CASES[:5])


def engine_run(size: str, count: int, kernel: str) -> tuple[float, dict]:
    """One `plan()` of one x86-64 pool: seconds inside simulate_pool, and its stats."""
    import hvo_calc.engine
    from hvo_calc import planner

    spent, stats = [0.0], {}
    simulate_pool = hvo_calc.engine.simulate_pool

    def timed(*args, **kwargs):
        start = time.perf_counter()
        result = simulate_pool(*args, **kwargs)
        spent[0] += time.perf_counter() - start
        stats.update(vars(result))
        return result

    # The planner (a module or a package) holds its own reference to simulate_pool.
    holders = [m for name, m in sys.modules.items() if name.startswith("hvo_calc.planner") and m is not None]
    holders = [m for m in holders if getattr(m, "simulate_pool", None) is simulate_pool]
    for module in holders:
        module.simulate_pool = timed
    try:
        pool = planner.PoolRequest(hugepage_size=size, count=count)
        planner.plan(planner.PlanRequest(arch="x86-64", kernel=kernel, pools=(pool,)))
    finally:
        for module in holders:
            module.simulate_pool = simulate_pool
    return spent[0], stats


def floors(nr_entries: int, tries: int = 3) -> tuple[float, float]:
    """Seconds for one `copy()` of `nr_entries` 8-byte entries, and for `np.copyto` of them
    into an array already faulted in: the best of a few tries, so that a moment another
    process took the machine does not count as the floor."""
    import numpy as np

    src = np.ones(nr_entries, dtype=np.uint64)
    copy_s = copyto_s = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        copied = src.copy()
        copy_s = min(copy_s, time.perf_counter() - start)
        start = time.perf_counter()
        np.copyto(copied, src)
        copyto_s = min(copyto_s, time.perf_counter() - start)
        del copied
    return copy_s, copyto_s


def measure(size: str, count: int, kernel: str) -> dict:
    """In the fresh process: the engine once, its peak RSS, then the floors."""
    import hvo_calc
    from hvo_calc.heap import keep_freed_memory

    keep_freed_memory()  # as the CLI does for its process
    seconds, stats = engine_run(size, count, kernel)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    copy_s, copyto_s = floors(stats["vmemmap_pages"])
    root = str(Path(hvo_calc.__file__).resolve().parent.parent)
    return dict(engine_s=seconds, stats=stats, peak_rss=peak_rss, copy_s=copy_s, copyto_s=copyto_s, root=root)


def in_subprocess(root: Path, size: str, count: int, kernel: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, __file__, "--case", size, str(count), kernel]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=root).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["root"] != str(root):
        raise SystemExit(f"the measured engine came from {result['root']}, not {root}")
    return result


def pool_label(size: str, tib: int) -> str:
    return f"{tib} TiB of {size}"


def summarise(runs: list[dict]) -> dict:
    """Medians over the rounds of one case and implementation."""
    return dict(
        engine_s=statistics.median(r["engine_s"] for r in runs),
        copy_s=statistics.median(r["copy_s"] for r in runs),
        copyto_s=statistics.median(r["copyto_s"] for r in runs),
        ratio=statistics.median(r["engine_s"] / r["copy_s"] for r in runs),
        copyto_ratio=statistics.median(r["engine_s"] / r["copyto_s"] for r in runs),
        peak_rss=max(r["peak_rss"] for r in runs),
        stats=runs[0]["stats"],
    )


def print_table(head: tuple, rows: list[tuple]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    for line in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(line, widths)))
    print()


def report(cases: tuple, results: dict, rounds: int, previous: bool) -> None:
    print(
        f"x86-64, 4K pages; median of {rounds} interleaved rounds, a fresh process each; "
        "floor = one copy() of as many 8-byte entries as vmemmap PTEs, in the same process"
    )
    head = ["pool", "kernel", "vmemmap PTEs", "engine s", "ns/PTE", "copy() s", "ratio", "copyto ratio", "peak MiB"]
    if previous:
        head += ["previous s", "previous ratio", "previous peak MiB", "speed-up"]
    rows = []
    for size, tib, kernel in cases:
        now = results[(size, tib, kernel, "current")]
        ptes = now["stats"]["vmemmap_pages"]
        row = [
            pool_label(size, tib),
            kernel,
            f"{ptes:,}",
            f"{now['engine_s']:.3f}",
            f"{now['engine_s'] / ptes * 1e9:.2f}",
            f"{now['copy_s']:.4f}",
            f"{now['ratio']:.2f}x",
            f"{now['copyto_ratio']:.2f}x",
            f"{now['peak_rss'] / 2**20:.0f}",
        ]
        if previous:
            old = results[(size, tib, kernel, "previous")]
            row += [
                f"{old['engine_s']:.3f}",
                f"{old['ratio']:.2f}x",
                f"{old['peak_rss'] / 2**20:.0f}",
                f"{old['engine_s'] / now['engine_s']:.2f}x",
            ]
        rows.append(tuple(row))
    print_table(tuple(head), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 TiB cases, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (medians reported)")
    parser.add_argument("--previous", type=Path, default=None, help="checkout of the release to run beside it")
    parser.add_argument("--only", default=None, help="run only the cases whose 'SIZE TiB KERNEL' contains this")
    parser.add_argument("--json", action="store_true", help="also print every measurement as JSON")
    parser.add_argument("--case", nargs=3, metavar=("SIZE", "COUNT", "KERNEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        size, count, kernel = args.case[0], int(args.case[1]), args.case[2]
        print(json.dumps(measure(size, count, kernel)))
        return
    rounds = args.rounds or (3 if args.quick else 5)
    cases = QUICK_CASES if args.quick else CASES
    if args.only:
        cases = tuple(c for c in cases if args.only in f"{c[0]} {c[1]} {c[2]}")
    roots = {"current": HERE}
    if args.previous is not None:
        roots["previous"] = args.previous.resolve()
    runs: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for size, tib, kernel in cases:
            for name, root in roots.items():
                count = tib * TIB // SIZES[size]
                runs.setdefault((size, tib, kernel, name), []).append(in_subprocess(root, size, count, kernel))
    results = {key: summarise(value) for key, value in runs.items()}
    report(cases, results, rounds, args.previous is not None)
    if args.json:
        print(json.dumps({" ".join(map(str, k)): v for k, v in runs.items()}))


if __name__ == "__main__":
    main()
