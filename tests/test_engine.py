"""The engine against the kernel's published figures and the model's own invariants."""

import numpy as np
import pytest
from frame_tally import tallied_model

from hvo_calc import vmemmap
from hvo_calc.engine import Extent, HugepageGeometry, SimOptions, simulate_pool
from hvo_calc.errors import VerificationError, WalkError
from hvo_calc.pagetable import WRITE, PageTable, Ranges, entry_pfn
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest, new_model, place, plan
from hvo_calc.profiles import find_profile
from hvo_calc.units import GiB, KiB, MiB
from hvo_calc.verify import walk_entries

# Per hugepage: (vmemmap pages, freed with 2 kept (5.14-5.17), freed with 1 kept (5.18+)),
# from Documentation/mm/vmemmap_dedup.rst and the boot lines (x86-64: 28 KiB per 2 MiB,
# 16380 KiB per 1 GiB). None: the struct pages fill less than a page of their own.
KERNEL_FIGURES = {
    ("x86-64", "4K", "2M"): (8, 6, 7),
    ("x86-64", "4K", "1G"): (4096, 4094, 4095),
    ("arm64", "4K", "64K"): None,
    ("arm64", "4K", "2M"): (8, 6, 7),
    ("arm64", "4K", "32M"): (128, 126, 127),
    ("arm64", "4K", "1G"): (4096, 4094, 4095),
    ("arm64", "16K", "2M"): None,
    ("arm64", "16K", "32M"): (8, 6, 7),
    ("arm64", "16K", "1G"): (256, 254, 255),
    ("arm64", "64K", "2M"): None,
    ("arm64", "64K", "512M"): (8, 6, 7),
    ("arm64", "64K", "16G"): (256, 254, 255),
}


def run(arch="x86-64", page=None, huge="2M", count=1, kernel="latest", **kw):
    request = PlanRequest(
        arch=arch, base_page=page, kernel=kernel, pools=(PoolRequest(hugepage_size=huge, count=count),), **kw
    )
    return plan(request).pools[0]


@pytest.mark.parametrize("key, figures", KERNEL_FIGURES.items(), ids=["-".join(k) for k in KERNEL_FIGURES])
def test_every_size_against_the_kernel_figures(key, figures):
    arch, page, huge = key
    # x86-64: 5.14 keeps 2 pages, current kernels 1. arm64 has HVO only in 5.19-6.2 (1 kept);
    # on 5.14 and current kernels it frees nothing but reports what 6.2 would free.
    cases = [("5.14", 1), ("latest", 2)] if arch == "x86-64" else [("6.1", 2), ("5.14", None), ("latest", None)]
    for kernel, column in cases:
        pool = run(arch, page, huge, count=3, kernel=kernel)
        if figures is None:
            assert not pool.hvo_active and pool.freed_pages == 0 and pool.would_free is None
            assert "nothing to free" in pool.reason or "arm64" in pool.reason
            continue
        assert pool.per_hugepage.vmemmap_pages == figures[0]
        assert pool.reserved_pages + pool.freed_pages == pool.vmemmap_pages == 3 * figures[0]
        if column is None:
            assert not pool.hvo_active and pool.freed_pages == 0
            assert pool.would_free.freed_pages == 3 * figures[2]
            continue
        assert pool.hvo_active, pool.reason
        assert pool.per_hugepage.freed_pages == figures[column]
        assert pool.freed_pages == 3 * figures[column]


def test_boot_lines_match_dmesg():
    assert run(huge="2M").boot_line == "HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page"
    assert run(huge="1G").boot_line == "HugeTLB: 16380 KiB vmemmap can be freed for a 1.00 GiB page"
    assert run(huge="2M", kernel="5.14").boot_line == "HugeTLB: can free 6 vmemmap pages for hugepages-2048kB"
    assert run(huge="2M", kernel="5.19").boot_line == "HugeTLB: can optimize 7 vmemmap pages for hugepages-2048kB"
    # Printed whether HVO is on or off (what could be freed); 0 where the kernel has none.
    assert run(huge="2M", hvo=False).boot_line == "HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page"
    assert run("arm64", huge="2M").boot_line == "HugeTLB: 0 KiB vmemmap can be freed for a 2.00 MiB page"


def test_arm64_on_current_kernels_reports_why_and_what_it_would_free():
    pool = run("arm64", "64K", "512M", count=64)
    assert not pool.hvo_active and pool.freed_pages == 0 and pool.saved_bytes == 0
    assert "disabled in Linux 6.3" in pool.reason
    assert pool.would_free.kernel == "6.2"
    assert pool.would_free.freed_pages == 64 * 7
    assert pool.would_free.saved_bytes == 64 * 7 * 64 * KiB


@pytest.mark.parametrize("size", [56, 72, 80])
def test_struct_page_not_a_power_of_two_means_no_hvo(size):
    pool = run(huge="2M", count=4, struct_page_bytes=size)
    assert not pool.hvo_active and pool.freed_pages == 0 and "not a power of two" in pool.reason
    assert pool.vmemmap_pages == -(-4 * 512 * size // 4096)  # packed: the pool's struct pages, in pages
    assert pool.would_free is None


def test_split_pmds_cost_page_table_pages():
    # A 2 MiB vmemmap PMD maps the struct pages of 64 2M hugepages (128 MiB of memory).
    assert run(huge="2M", count=64).pagetable_pages == 1
    assert run(huge="2M", count=65).pagetable_pages == 2
    # One 1G hugepage has 16 MiB of struct pages: 8 PMDs to split.
    one_gig = run(huge="1G", count=1)
    assert one_gig.pagetable_pages == one_gig.split_pmds == 8
    assert one_gig.saved_pages == 4095 - 8 - 1  # 7.1+: and the zone's shared tail page
    # Scattered: every 2M hugepage's vmemmap in a PMD of its own, one split each.
    assert run(huge="2M", count=10, placement="scattered").pagetable_pages == 10
    # arm64 64K maps the vmemmap with PTEs: nothing to split.
    assert run("arm64", "64K", "512M", count=10, kernel="6.1").pagetable_pages == 0


def test_5_14_already_split_on_demand():
    """The split on demand landed with HVO in 5.14 (kernels-2026.md): same tables either way."""
    pool = run(huge="2M", count=65, kernel="5.14")
    assert pool.split_pmds == 2 and pool.pagetable_pages == 2


def test_tlb_flushes_per_split_and_per_hugepage_before_6_7_and_per_batch_after():
    # Before 6.7 every PMD split flushed its range (split_vmemmap_huge_pmd), and every
    # hugepage's remap flushed once more; 6.7 batches one flush per pass.
    assert run(huge="2M", count=64, kernel="6.6").tlb_flushes == 1 + 64
    assert run(huge="1G", count=3, kernel="6.1").tlb_flushes == 3 * 8 + 3
    assert run(huge="2M", count=64, kernel="6.7").tlb_flushes == 2


def test_scale_checks_refuse_a_pool_larger_than_the_address_space():
    from hvo_calc.errors import InputError

    # 64 TiB and one 1G page: apart by less than the rounding, so the message says bytes.
    with pytest.raises(InputError, match="need 70,369,817,919,488 bytes .* at most 70,368,744,177,664 bytes"):
        run(huge="1G", count=64 * 1024 + 1)
    with pytest.raises(InputError, match="need 80.00 TiB of hugepages; x86-64 4K can address at most 64.00 TiB"):
        run(huge="1G", count=80 * 1024, placement="scattered")
    # 5-level paging addresses 52 bits: the same pool is laid out there (not simulated: 80 TiB).
    request = PlanRequest(paging=5, pools=(PoolRequest(hugepage_size=GiB, count=80 * 1024),))
    five_level = find_profile("x86-64", paging=5)
    assert place(five_level, request, request.pools)[0].count == 80 * 1024


def test_scattered_pools_spread_over_what_the_node_has():
    """Each 2M page in a vmemmap PMD block (128 MiB of memory) of its own while the node has
    room for that; past it, spread evenly: 1000 pages on a 64 GiB node are 64 MiB apart, two
    to a block."""
    request = PlanRequest(
        placement="scattered",
        nodes=(NodeRequest(memory=64 * GiB),),
        pools=(PoolRequest(hugepage_size=2 * MiB, count=1000),),
    )
    pool = plan(request).pools[0]
    assert pool.split_pmds == 500 and pool.freed_pages == 1000 * 7
    assert run(huge="2M", count=1000, placement="scattered").split_pmds == 1000  # 64 TiB: room for all


# -- the walk's rules and the verification -------------------------------------------------


def populated(count=4, huge=2 * MiB):
    profile = find_profile("x86-64")
    frames, pt = new_model(profile, 64)
    geometry = HugepageGeometry(huge, 4096, 64)
    pages = geometry.vmemmap_pages
    pt.populate_pmd_leaves(Ranges(profile.vmemmap_start, 0, 1, count * pages))
    tails = Ranges(profile.vmemmap_start + 4096, pages * 4096, count, pages - 1)
    return pt, frames, tails


def test_reuse_page_must_directly_precede_the_range():
    pt, frames, tails = populated()
    with pytest.raises(WalkError, match="directly precede"):
        vmemmap.vmemmap_remap_free(pt, tails, tails.start - 2 * 4096, frames, copy_reuse=False)


def test_ranges_must_be_page_aligned():
    pt, frames, tails = populated()
    bad = Ranges(tails.start + 8, tails.stride, tails.count, tails.nr_pages)
    with pytest.raises(WalkError, match="IS_ALIGNED"):
        vmemmap.vmemmap_remap_free(pt, bad, bad.start - 4096, frames, copy_reuse=False)


def test_every_level_must_be_present():
    pt, frames, tails = populated()
    far = Ranges(tails.start + (1 << 39), tails.stride, tails.count, tails.nr_pages)
    with pytest.raises(WalkError, match=r"BUG_ON\(pud_none\)|BUG_ON\(pgd_none\)"):
        vmemmap.vmemmap_remap_free(pt, far, far.start - 4096, frames, copy_reuse=False)


def test_restore_may_not_meet_an_unsplit_pmd_leaf():
    pt, frames, tails = populated()
    with pytest.raises(WalkError, match=r"BUG_ON\(pmd_leaf\)"):
        vmemmap.vmemmap_remap_alloc(pt, tails, tails.start - 4096, frames)


def test_remap_free_maps_tails_to_the_reuse_page_read_only():
    pt, frames, tails = populated(count=4)
    walk = vmemmap.vmemmap_remap_free(pt, tails, tails.start - 4096, frames, copy_reuse=False)
    assert walk.nr_collected == 4 * 7 and walk.nr_split == 1
    _, ptes = walk_entries(pt, np.array([tails.start >> pt.pmd_shift], np.uint64), copy=True)
    first = (tails.start - 4096) % (1 << pt.pmd_shift) // 4096
    hugepages = ptes[first : first + 4 * 8].reshape(4, 8)
    pfns, writable = entry_pfn(hugepages), (hugepages & WRITE) != 0
    assert (pfns[:, 1:] == pfns[:, :1]).all() and not writable[:, 1:].any() and writable[:, 0].all()
    assert walk.nr_boot_freed == 28  # the vmemmap was populated from boot memory


# Bugs planted in the walk and what catches them: tests/test_verifier.py.


def test_shrink_restores_tails_and_conserves_frames():
    profile = find_profile("x86-64")
    frames, pt = tallied_model(profile, 64)
    before = frames.tally.in_use_pages
    stats = simulate_pool(
        pt, frames, HugepageGeometry(GiB, 4096, 64), Extent(0, 262144, 3), SimOptions(optimize=True, keep_hugepages=1)
    )
    assert stats.restored_hugepages == 2 and stats.restore_pages_allocated == 2 * 4095
    # In use now: 24 PMD blocks of 512 vmemmap frames, a pud and a pmd table, 24 split
    # PTE tables, 3 fresh head copies; minus 3 x 4096 freed (tails and old heads); plus
    # 2 x 4095 frames allocated back for the two restored hugepages.
    assert frames.tally.in_use_pages - before == 24 * 512 + 2 + 24 + 3 - 3 * 4096 + 2 * 4095


def test_windowed_shrink_matches_whole_pool():
    """A shrink whose kept hugepages fill whole windows and end inside another."""
    profile = find_profile("x86-64")
    results = []
    for window_ptes in (1 << 22, 8 * 64):  # whole pool; windows of 64 hugepages
        frames, pt = tallied_model(profile, 64)
        stats = simulate_pool(
            pt,
            frames,
            HugepageGeometry(2 * MiB, 4096, 64),
            Extent(0, 512, 300),
            SimOptions(optimize=True, keep_hugepages=150, window_ptes=window_ptes),
        )
        results.append(
            (
                stats.freed_pages,
                stats.restored_hugepages,
                stats.restore_pages_allocated,
                stats.pagetable_pages,
                frames.tally.in_use_pages,
            )
        )
    assert results[0] == results[1]
    assert results[0][:3] == (300 * 7, 150, 150 * 7)


@pytest.mark.parametrize(
    "arch, page, huge, where",
    [
        ("x86-64", None, "2M", "pmd"),  # vmemmap mapped by PMD leaves
        ("arm64", "64K", "512M", "pte"),  # vmemmap mapped by PTEs
    ],
)
def test_without_hvo_every_struct_page_must_still_translate(monkeypatch, arch, page, huge, where):
    def populate_then_lose_one(populate):
        def populated(pt, ranges):
            slots = populate(pt, ranges)
            if where == "pmd":
                pt.tables["pmd"].entries[slots.rows[-1], slots.index[-1]] = 0
            else:
                pt.pte_flat(slots)[5] = 0
            return slots

        return populated

    name = "populate_pmd_leaves" if where == "pmd" else "populate_basepages"
    monkeypatch.setattr(PageTable, name, populate_then_lose_one(getattr(PageTable, name)))
    with pytest.raises(VerificationError, match="no longer translate"):
        run(arch, page, huge, count=64, hvo=False)
