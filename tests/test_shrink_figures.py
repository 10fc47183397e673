"""After a shrink a pool reports the host as it is once the shrink is done (issue 17): the
reserved, freed and saved of the hugepages it keeps, its split tables still spent, with the
figures at the full count in `shrink.at_count`; reserved + freed = vmemmap in every report."""

import itertools

import pytest

from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest, plan
from hvo_calc.record import build

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def one_pool(kernel: str, count: int, shrink_to: int | None, **host: object) -> object:
    pool = PoolRequest(hugepage_size=2 * MiB, count=count, shrink_to=shrink_to)
    return plan(build(PlanRequest, {"kernel": kernel, "pools": (pool,), **host})).pools[0]


@pytest.mark.parametrize(
    "arch, kernel, size, shrink_to, boot, placement",
    [
        (arch, kernel, size, shrink_to, boot, placement)
        for (arch, size), kernel, shrink_to, boot, placement in itertools.product(
            [("x86-64", 2 * MiB), ("x86-64", GiB), ("riscv64", 64 * KiB), ("loongarch64", 32 * MiB)],
            ["5.15", "6.6", "7.3"],
            [None, 0, 3],
            [False, True],
            ["packed", "scattered"],
        )
    ],
)
def test_reserved_and_freed_make_the_vmemmap_in_every_report(arch, kernel, size, shrink_to, boot, placement):
    pool = PoolRequest(hugepage_size=size, count=4, shrink_to=shrink_to, boot=boot)
    report = plan(PlanRequest(arch=arch, kernel=kernel, placement=placement, pools=(pool,)))
    for item in [*report.pools, *report.nodes, report.totals]:
        assert item.reserved_pages + item.freed_pages == item.vmemmap_pages
    shrink = report.pools[0].shrink
    if shrink is not None:
        at = shrink.at_count
        assert at is not None and at.reserved_pages + at.freed_pages == at.vmemmap_pages


def test_a_shrink_reports_the_pool_it_leaves():
    pool = one_pool("7.3", 8, 2)
    # 2 of 8 x 2M stay optimized: 8 vmemmap pages each, 7 freed; the split table and the
    # 7.1+ shared tail page stay spent.
    assert (pool.vmemmap_pages, pool.reserved_pages, pool.freed_pages) == (16, 2, 14)
    assert (pool.pagetable_pages, pool.shared_tail_pages, pool.saved_pages) == (1, 1, 12)
    assert pool.saved_bytes == pool.memfree_gain_bytes == 12 * 4 * KiB
    at = pool.shrink.at_count
    assert (at.hugepages, at.vmemmap_pages, at.reserved_pages, at.freed_pages, at.saved_pages) == (8, 64, 8, 56, 54)
    assert pool.shrink.hugepages_kept == 2


@pytest.mark.parametrize("kernel, spent", [("6.6", 1), ("7.3", 2)])
def test_a_pool_shrunk_to_0_saves_minus_what_it_spent(kernel, spent):
    pool = one_pool(kernel, 8, 0)
    # Before 7.1 only the split table; from 7.1 the shared tail page too (never freed).
    assert (pool.vmemmap_pages, pool.reserved_pages, pool.freed_pages) == (0, 0, 0)
    assert pool.saved_pages == -spent == -(pool.pagetable_pages + pool.shared_tail_pages)


def test_hugepages_that_cannot_be_restored_stay_optimized_as_surplus():
    # 6.1: the restore takes the node's free memory only; 1 page of 4 KiB free restores nothing.
    pool = one_pool("6.1", 8, 2, nodes=(NodeRequest(memory=GiB, free=4 * KiB),))
    assert pool.shrink.surplus_hugepages == 6 and pool.shrink.hugepages_kept == 8
    assert (pool.freed_pages, pool.saved_pages) == (pool.shrink.at_count.freed_pages, pool.shrink.at_count.saved_pages)


def test_budgets_count_the_pool_after_its_shrink(run):
    args = ("check", "--huge", "2M", "--count", "8", "--shrink-to", "2", "--kernel", "7.3", "--min-saved")
    assert run(*args, "48K").exit_code == 0
    failed = run(*args, "49K")
    assert failed.exit_code == 1 and "saved 48.00 KiB" in failed.stdout + failed.stderr
