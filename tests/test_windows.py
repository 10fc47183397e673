"""Windowed simulation does exactly what a whole-pool simulation does.

The engine cuts a pool into windows to keep memory flat; these tests force many small
windows on pools that straddle window, PMD and pool (node) boundaries and compare every
PoolStats field and the frame counts with a single-window run. They also check that a
page table corrupted in the middle of a windowed run is caught by the verification.
"""

from dataclasses import asdict, replace
from math import gcd, lcm

import numpy as np
import pytest
from frame_tally import tallied_model

from hvo_calc import vmemmap
from hvo_calc.engine import Extent, HugepageGeometry, SimOptions, simulate_pool
from hvo_calc.errors import VerificationError
from hvo_calc.pagetable import PRESENT, WRITE, mk_entry
from hvo_calc.profiles import ArchProfile, find_profile
from hvo_calc.units import parse_size

WHOLE = 1 << 40  # one window for any pool here
STRUCT_PAGE = 64

# What the kernels do (kernels.py): latest (7.1+: shared tail page), 6.1 (no head copy,
# per-split flushes), 5.14 (reserve 2).
LATEST = SimOptions(optimize=True, reserve_pages=1, copy_reuse=True, shared_tail=(0, "normal", 9))
LINUX_6_1 = SimOptions(optimize=True, reserve_pages=1, tlb_per_batch=False)
LINUX_5_14 = SimOptions(optimize=True, reserve_pages=2, tlb_per_batch=False)
NO_HVO = SimOptions(optimize=False)


def place(profile: ArchProfile, pools: list[tuple[str, int]], scattered: bool) -> list[Extent]:
    """Pools one after another, each starting a vmemmap PMD block, as the planner lays them out."""
    block_bytes = 1 << profile.level_shift("pmd")
    block_pfns = block_bytes // gcd(block_bytes, STRUCT_PAGE)
    extents, next_pfn = [], 0
    for size, count in pools:
        pages = parse_size(size) // profile.base_page
        start = -(-next_pfn // lcm(pages, block_pfns)) * lcm(pages, block_pfns)
        stride = -(-pages // block_pfns) * block_pfns if scattered else pages
        extents.append(Extent(start, stride, count))
        next_pfn = start + stride * count
    return extents


def simulate(
    arch: str, page: str, pools: list[tuple[str, int]], opts: SimOptions, window_ptes: int, scattered: bool = False
) -> tuple[list[dict], dict]:
    """Every pool's PoolStats (less the window count) and the frame counts after the run."""
    profile = find_profile(arch, parse_size(page))
    frames, pt = tallied_model(profile, STRUCT_PAGE)
    results = []
    for (size, _), extent in zip(pools, place(profile, pools, scattered)):
        geometry = HugepageGeometry(parse_size(size), profile.base_page, STRUCT_PAGE)
        stats = simulate_pool(pt, frames, geometry, extent, replace(opts, window_ptes=window_ptes))
        results.append(asdict(stats))
    return results, asdict(frames.tally)


CASES = [
    # arch, page, pools, options, scattered, cut: windows of at most 4096 PTEs cut each pool
    ("x86-64", "4K", [("2M", 1000)], LATEST, False, True),  # 1000 = 15 PMD blocks and 40 pages
    ("x86-64", "4K", [("2M", 1000)], LINUX_6_1, False, True),
    ("x86-64", "4K", [("2M", 999)], LINUX_5_14, False, True),
    ("x86-64", "4K", [("2M", 700)], NO_HVO, False, True),
    ("x86-64", "4K", [("1G", 5)], LATEST, False, True),
    ("x86-64", "4K", [("1G", 3)], LINUX_5_14, False, True),
    ("x86-64", "4K", [("2M", 130)], LATEST, True, True),
    ("x86-64", "4K", [("1G", 3)], LINUX_6_1, True, True),
    ("x86-64", "4K", [("2M", 1000), ("1G", 3), ("2M", 77)], LATEST, False, True),  # nodes back to back
    ("x86-64", "4K", [("2M", 300), ("1G", 2)], LINUX_5_14, False, True),
    ("arm64", "64K", [("16G", 40)], LINUX_6_1, False, True),  # 32 share a PMD block
    ("arm64", "64K", [("512M", 70)], LINUX_6_1, False, False),  # 1024 share a PMD block
    ("arm64", "64K", [("512M", 70), ("16G", 33)], LINUX_6_1, False, False),
    ("arm64", "16K", [("32M", 600)], LINUX_6_1, False, True),  # 256 share a PMD block
    ("arm64", "16K", [("2M", 1777)], NO_HVO, False, False),
    ("arm64", "4K", [("32M", 77), ("2M", 200)], LINUX_6_1, False, True),
]


@pytest.mark.parametrize("arch,page,pools,opts,scattered,cut", CASES)
@pytest.mark.parametrize("window_ptes", [1, 700, 4096])
def test_windowed_equals_whole(arch, page, pools, opts, scattered, cut, window_ptes):
    whole, whole_frames = simulate(arch, page, pools, opts, WHOLE, scattered)
    windowed, windowed_frames = simulate(arch, page, pools, opts, window_ptes, scattered)
    assert all(pool["windows"] == 1 for pool in whole)
    if cut and window_ptes <= 700:
        assert all(pool["windows"] > 1 for pool in windowed)
    for pool in whole + windowed:
        pool.pop("windows")
    assert windowed == whole
    assert windowed_frames == whole_frames


def test_restore_straddling_windows_equals_whole():
    shrink = replace(LATEST, keep_hugepages=333)
    whole, whole_frames = simulate("x86-64", "4K", [("2M", 1000)], shrink, WHOLE)
    windowed, windowed_frames = simulate("x86-64", "4K", [("2M", 1000)], shrink, 1)
    assert windowed[0]["windows"] > 1 and whole[0]["restored_hugepages"] == 667
    whole[0].pop("windows"), windowed[0].pop("windows")
    assert (windowed, windowed_frames) == (whole, whole_frames)


def corrupt_on_call(monkeypatch, nth: int, corrupt) -> None:
    """Let the leaf action run, then damage the PTEs it just wrote on its nth call."""
    original, calls = vmemmap.remap_free_pte, []

    def remap_then_corrupt(ptes: np.ndarray, walk: vmemmap.RemapWalk) -> None:
        original(ptes, walk)
        calls.append(1)
        if len(calls) == nth:
            corrupt(ptes, walk)

    monkeypatch.setattr(vmemmap, "remap_free_pte", remap_then_corrupt)


def tail_writable(ptes, walk):
    ptes[-1, -1] |= WRITE


def tail_elsewhere(ptes, walk):
    ptes[5, 3] = mk_entry(walk.vmemmap_pages[-1][0] + np.uint64(12345), PRESENT)


def tail_empty(ptes, walk):
    ptes[7, 2] = 0


def freed_frame_mapped(ptes, walk):
    """Point one hugepage's kept page and tails at a frame the walk freed."""
    freed = walk.vmemmap_pages[-1][10]
    ptes[3, 0] = mk_entry(freed, PRESENT | WRITE)
    ptes[3, 1:] = mk_entry(freed, PRESENT)


@pytest.mark.parametrize("opts", [LATEST, LINUX_5_14])
@pytest.mark.parametrize(
    "corrupt,message",
    [
        (tail_writable, "writable"),
        (tail_elsewhere, "does not map the page the kernel points tails at"),
        (tail_empty, "PTE is empty"),
        (freed_frame_mapped, "still mapped|no longer maps its original frame|not mapped writable|does not map"),
    ],
)
def test_windowed_run_catches_corruption(monkeypatch, opts, corrupt, message):
    corrupt_on_call(monkeypatch, 3, corrupt)
    with pytest.raises(VerificationError, match=message):
        simulate("x86-64", "4K", [("2M", 1000)], opts, 64)


def test_corruption_in_last_window_is_caught(monkeypatch):
    corrupt_on_call(monkeypatch, 16, tail_writable)  # 1000 hugepages, 64 per window: 16 windows
    with pytest.raises(VerificationError, match="writable"):
        simulate("x86-64", "4K", [("2M", 1000)], LATEST, 64 * 8)
