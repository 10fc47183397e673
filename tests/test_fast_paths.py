"""The engine's one-pass shortcuts give exactly what the plain, per-entry operations give."""

import numpy as np
import pytest

from hvo_calc.pagetable import LEAF, PRESENT, WRITE, Ranges, mk_entry
from hvo_calc.planner import new_model
from hvo_calc.profiles import find_profile
from hvo_calc.verify import walk_entries
from hvo_calc.vmemmap import PAGE_STEP, fill_rows, walked_run

RO = PRESENT


def block(rows: int, cols: int, first_pfn: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """A contiguous (rows, cols) block whose rows are [kept page, its read-only copies...]."""
    kept_pfns = np.arange(first_pfn, first_pfn + rows, dtype=np.uint64)
    ptes = np.empty((rows, cols), dtype=np.uint64)
    ptes[:] = mk_entry(kept_pfns, RO)[:, None]
    ptes[:, 0] |= WRITE
    return ptes, mk_entry(kept_pfns, RO)


@pytest.mark.parametrize("cols", [2, 7, 8, 16, 64])
@pytest.mark.parametrize("step", [1, 8, 3])
@pytest.mark.parametrize("in_order", [True, False])
def test_fill_rows_equals_a_plain_broadcast(cols, step, in_order):
    rows = 33
    pfns = 5000 + step * np.arange(rows, dtype=np.uint64)
    if not in_order:
        pfns[7] += np.uint64(1)  # one reuse page out of order: no arithmetic run
    entries = mk_entry(pfns, RO)
    filled = np.zeros((rows, cols), dtype=np.uint64)
    fill_rows(filled, entries)
    assert (filled == entries[:, None]).all()
    # A strided view (scattered hugepages) fills only its own columns.
    storage = np.zeros((rows, cols + 3), dtype=np.uint64)
    fill_rows(storage[:, 1 : cols + 1], entries)
    assert (storage[:, 1 : cols + 1] == entries[:, None]).all()
    assert not storage[:, 0].any() and not storage[:, cols + 1 :].any()


@pytest.mark.parametrize(
    "keys",
    [
        np.arange(1000, 2600, dtype=np.uint64),  # consecutive, across four PMD tables
        np.arange(1000, 2600, 97, dtype=np.uint64),  # one block here and there
        np.array([5, 511, 512, 1 << 18, (1 << 18) + 1], dtype=np.uint64),  # across PUD tables
    ],
)
def test_pmd_slots_descend_once_per_table_to_the_same_entries(keys):
    profile = find_profile("x86-64")
    _, pt = new_model(profile, 64)
    keys = keys + np.uint64(profile.vmemmap_start >> pt.pmd_shift)
    slots = pt.pmd_slots(keys, create=True)
    for key, row, index in zip(keys, slots.rows, slots.index):  # one entry at a time, as the kernel walks
        vaddr, at = np.uint64(int(key) << pt.pmd_shift), 0
        for level in pt.upper_levels[:-1]:
            at = pt.tables[level].child[at, pt.index(level, vaddr)]
        assert (row, index) == (at, pt.index("pmd", vaddr))
    assert len(set(zip(slots.rows.tolist(), slots.index.tolist()))) == len(keys)


@pytest.mark.parametrize("in_order", [True, False])
def test_split_keeps_every_page_where_it_was(in_order):
    profile = find_profile("x86-64")
    frames, pt = new_model(profile, 64)
    ranges = Ranges(profile.vmemmap_start, 0, 1, 4 * 512)
    slots = pt.populate_pmd_leaves(ranges)
    if not in_order:  # block 2 maps frames of its own: the blocks are no longer one run
        pt.tables["pmd"].entries[slots.rows[2], slots.index[2]] = mk_entry(7 << 20, PRESENT | WRITE | LEAF)
    _, before = walk_entries(pt, slots.keys, copy=True)
    assert pt.split_pmd(slots, np.ones(4, dtype=bool)) == 4
    _, after = walk_entries(pt, slots.keys, copy=True)
    assert np.array_equal(before, after)


def test_the_walk_reads_the_reuse_pages_of_tables_it_split_and_every_entry_otherwise():
    """Tables the walk just split from leaves over consecutive frames map the leaves' frames:
    where the ranges lie back to back, `walked_run` holds each range's first page to them and
    does not read the tails; where that page differs, or pages lie between the ranges (5.14's
    kept heads, scattered pools), it reads every entry, and a run broken anywhere is no run."""
    rows, cols, first = 64, 8, int(mk_entry(4096, PRESENT | WRITE))
    ptes = (first + PAGE_STEP * np.arange(rows * cols, dtype=np.uint64)).reshape(rows, cols)
    ptes[5, 3] = 0  # a tail the remap overwrites
    assert walked_run(ptes, first) == (first, cols)
    assert walked_run(ptes) is None  # without the split: every entry is read
    assert walked_run(ptes, first + PAGE_STEP) is None  # the reuse pages are not where the split put them
    ptes[5, 3] = first + PAGE_STEP * (5 * cols + 3)
    assert walked_run(ptes) == walked_run(ptes, first + PAGE_STEP) == (first, cols)
    ptes[9, 0] += np.uint64(PAGE_STEP)  # a reuse page on its neighbour's frame
    assert walked_run(ptes, first) is None and walked_run(ptes) is None
    gapped = (first + PAGE_STEP * np.arange(rows * (cols + 1), dtype=np.uint64)).reshape(rows, cols + 1)
    gapped[8, 0] = 0  # the page between ranges 7 and 8: kept as it is, so it is read
    assert walked_run(gapped[:, 1:], first + PAGE_STEP) is None
    gapped[8, 0] = first + PAGE_STEP * 8 * (cols + 1)
    assert walked_run(gapped[:, 1:], first + PAGE_STEP) == (first + PAGE_STEP, cols + 1)
