"""The verifier, measured: realistic bugs planted in the engine must each be caught.

Each case wraps one step of the engine (the leaf action, the split, the walk, the free)
with a bug a reviewer planted in a copy of it, runs a small pool, and expects the
verifier to fail it with exit code 3. The same pools run clean without the bug.
"""

import numpy as np
import pytest

from hvo_calc import engine, vmemmap
from hvo_calc.engine import Extent, HugepageGeometry, SimOptions, simulate_pool
from hvo_calc.errors import HvoError, VerificationError
from hvo_calc.frames import FrameAllocator
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable, mk_entry, range_view
from hvo_calc.profiles import config_dir, load_profile
from hvo_calc.units import GiB, MiB

X86 = load_profile(config_dir() / "arch" / "x86-64-4k.toml")
ARM64_64K = load_profile(config_dir() / "arch" / "arm64-64k.toml")

# What the kernel of each era does (the engine's options), by era.
ERAS = {
    "5.14": SimOptions(optimize=True, reserve_pages=2, tlb_per_batch=False),
    "6.1": SimOptions(optimize=True, tlb_per_batch=False),
    "6.12": SimOptions(optimize=True, copy_reuse=True),
    "7.3": SimOptions(optimize=True, copy_reuse=True, shared_tail=(0, "normal", 9)),
}


def simulate(era="7.3", huge=2 * MiB, count=64, keep=None, window_ptes=None, profile=X86):
    first = (1 << profile.max_physmem_bits) // profile.base_page
    frames = FrameAllocator(first, first)
    pt = PageTable(profile, frames)
    opts = ERAS[era]
    changes = {"keep_hugepages": keep}
    if window_ptes:
        changes["window_ptes"] = window_ptes
    if era == "7.3":
        changes["shared_tail"] = (0, "normal", (huge // profile.base_page).bit_length() - 1)
    opts = SimOptions(**{**vars(opts), **changes})
    geometry = HugepageGeometry(huge, profile.base_page, 64)
    return simulate_pool(pt, frames, geometry, Extent(0, huge // profile.base_page, count), opts)


def caught(message: str):
    """The verifier's failure: a VerificationError (exit 3) whose one line says `message`."""
    return pytest.raises(VerificationError, match=message)


REMAP_FREE_PTE = vmemmap.remap_free_pte
RESTORE_PTE = vmemmap.restore_pte
SPLIT_PMD = PageTable.split_pmd
REMAP_FREE = engine.vmemmap_remap_free


def after_leaf(monkeypatch, bug, name="remap_free_pte"):
    original = getattr(vmemmap, name)

    def planted(ptes, walk):
        original(ptes, walk)
        bug(ptes, walk)

    monkeypatch.setattr(vmemmap, name, planted)


@pytest.mark.parametrize("era", sorted(ERAS))
@pytest.mark.parametrize("huge, count, keep", [(2 * MiB, 200, None), (GiB, 3, None), (2 * MiB, 200, 120)])
def test_clean_runs_pass(era, huge, count, keep):
    stats = simulate(era, huge, count, keep, window_ptes=8 * 64)
    v = huge // 4096 * 64 // 4096
    reserve = ERAS[era].reserve_pages
    kept = count if keep is None else keep
    assert stats.reserved_pages == kept * reserve + (count - kept) * v  # counted from the tables
    assert stats.freed_pages == count * (v - reserve)


# -- the bugs a reviewer planted, which the count-based verifier let through --------


def test_split_mapping_each_page_to_its_neighbours_frame(monkeypatch):
    def split_off_by_one(self, slots, leaves, source="buddy"):
        n = SPLIT_PMD(self, slots, leaves, source)
        rows = self.pte_rows(slots)[leaves]
        self.pte.entries[rows] += np.uint64(1 << int(PFN_SHIFT))
        return n

    monkeypatch.setattr(PageTable, "split_pmd", split_off_by_one)
    for era in ERAS:
        with caught("kept vmemmap page|does not hold|frames freed|freed|stopped being mapped"):
            simulate(era)


def test_walk_rewriting_one_pte_past_the_end_of_the_pool(monkeypatch):
    def walks_too_far(pt, ranges, reuse, frames, *args, **kwargs):
        walk = REMAP_FREE(pt, ranges, reuse, frames, *args, **kwargs)
        slots = pt.pmd_slots(np.array([ranges.end(4096) >> pt.pmd_shift], np.uint64), create=False)
        from hvo_calc.pagetable import Ranges

        past = range_view(pt, slots, Ranges(ranges.end(4096), 0, 1, 1))
        past[0, 0] = mk_entry(walk.reuse_pages[-1], PRESENT)
        return walk

    monkeypatch.setattr(engine, "vmemmap_remap_free", walks_too_far)
    with caught("outside the pool"):
        simulate("7.3", count=100)  # 100 x 8 pages end inside a PMD block


def test_one_frame_freed_twice_while_another_leaks(monkeypatch):
    def double_free(ptes, walk):
        pages = walk.vmemmap_pages[-1]
        pages[1] = pages[0]

    after_leaf(monkeypatch, double_free)
    for era in ERAS:
        with caught("freed twice|never freed|frames freed"):
            simulate(era)


def test_restore_mapping_every_tail_to_one_frame(monkeypatch):
    def one_frame_for_all_tails(ptes, walk):
        ptes[:, 1:] = ptes[:, 1:2]

    after_leaf(monkeypatch, one_frame_for_all_tails, "restore_pte")
    for era in ERAS:
        with caught("share a frame|copied vmemmap page"):
            simulate(era, count=64, keep=10)


def test_split_table_allocated_but_not_counted(monkeypatch):
    def uncounted(self, slots, leaves, source="buddy"):
        return SPLIT_PMD(self, slots, leaves, source) - 1 if leaves.any() else 0

    monkeypatch.setattr(PageTable, "split_pmd", uncounted)
    with caught("split page tables"):
        simulate("7.3")


# -- the bugs the verifier already caught -------------------------------------------


@pytest.mark.parametrize(
    "bug, message",
    [
        (lambda ptes, walk: ptes.__setitem__((0, 3), ptes[0, 3] | WRITE), "writable"),
        (lambda ptes, walk: ptes.__setitem__((1, 2), mk_entry(np.uint64(12345), PRESENT)), "does not map"),
        (lambda ptes, walk: ptes.__setitem__((2, 5), ptes[2, 5] & ~PRESENT), "no longer translate"),
        (lambda ptes, walk: ptes.__setitem__((3, 0), ptes[3, 0] & ~WRITE), "not mapped writable"),
        (lambda ptes, walk: ptes.__setitem__((1, 3), ptes[1, 3] | np.uint64(4)), "stray flags"),
    ],
)
def test_a_corrupted_tail_or_kept_page(monkeypatch, bug, message):
    after_leaf(monkeypatch, bug)
    with caught(message):
        simulate("7.3")


def test_tail_left_on_its_own_frame(monkeypatch):
    def leaves_one(ptes, walk):
        ptes[4, 6] = mk_entry(walk.vmemmap_pages[-1][0], PRESENT)

    after_leaf(monkeypatch, leaves_one)
    with caught("does not map|still mapped"):
        simulate("6.12")


def test_frame_freed_while_still_mapped(monkeypatch):
    def maps_a_freed_frame(ptes, walk):
        freed = int(walk.vmemmap_pages[-1][10])
        ptes[0, 0] = mk_entry(freed, PRESENT | WRITE)
        ptes[0, 1:] = mk_entry(freed, PRESENT)

    after_leaf(monkeypatch, maps_a_freed_frame)
    with caught("kept vmemmap page|still mapped|does not hold"):
        simulate("6.1")


def test_one_frame_not_freed(monkeypatch):
    def keeps_one(ptes, walk):
        walk.vmemmap_pages[-1] = walk.vmemmap_pages[-1][1:]

    after_leaf(monkeypatch, keeps_one)
    with caught("frames were freed where"):
        simulate("6.1")


def test_split_without_a_table(monkeypatch):
    def no_table(self, slots, leaves, source="buddy"):
        n = SPLIT_PMD(self, slots, leaves, source)
        self.tables["pmd"].child[slots.rows[leaves][0], slots.index[leaves][0]] = -1
        return n

    monkeypatch.setattr(PageTable, "split_pmd", no_table)
    with caught("points at no PTE table|not consecutive rows"):
        simulate("7.3")


def test_walk_from_the_wrong_page(monkeypatch):
    def wrong_reuse(pt, ranges, reuse, frames, *args, **kwargs):
        from hvo_calc.pagetable import Ranges

        shifted = Ranges(ranges.start + 4096, ranges.stride, ranges.count, ranges.nr_pages - 1)
        return REMAP_FREE(pt, shifted, reuse + 4096, frames, *args, **kwargs)

    monkeypatch.setattr(engine, "vmemmap_remap_free", wrong_reuse)
    for era in ERAS:
        with pytest.raises(HvoError) as error:
            simulate(era)
        assert error.value.exit_code == 3


def test_restore_without_allocation(monkeypatch):
    def reuses_the_kept_page(ptes, walk):
        ptes[:, 1:] = ptes[:, :1]

    after_leaf(monkeypatch, reuses_the_kept_page, "restore_pte")
    with caught("share a frame|not allocated|copied"):
        simulate("7.3", count=64, keep=10)


def test_one_bad_pte_in_the_last_window_only(monkeypatch):
    calls = []

    def late_bug(ptes, walk):
        calls.append(1)
        if len(calls) == 4:  # the fourth and last window
            ptes[-1, -1] |= WRITE

    after_leaf(monkeypatch, late_bug)
    with caught("writable"):
        simulate("7.3", count=256, window_ptes=8 * 64)
    assert len(calls) == 4


def test_a_caught_bug_is_exit_3_with_one_line(monkeypatch, run):
    after_leaf(monkeypatch, lambda ptes, walk: ptes.__setitem__((0, 3), ptes[0, 3] | WRITE))
    result = run("plan", "--huge", "2M", "--count", "8", "--format", "json")
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "writable" in result.stderr and "Traceback" not in result.stderr


def test_pte_mapped_vmemmap_is_checked_the_same_way(monkeypatch):
    """arm64 64K maps the vmemmap with PTEs: a tail left writable is caught there too."""
    ERAS["6.2-arm64"] = SimOptions(optimize=True, copy_reuse=True)
    try:
        after_leaf(monkeypatch, lambda ptes, walk: ptes.__setitem__((0, 3), ptes[0, 3] | WRITE))
        with caught("writable"):
            simulate("6.2-arm64", huge=512 * MiB, count=8, profile=ARM64_64K)
    finally:
        del ERAS["6.2-arm64"]


def test_head_copy_that_copies_the_wrong_page(monkeypatch):
    def copies_a_neighbour(ptes, walk):
        to, source = walk.frames.log.copies[-1]
        walk.frames.log.copies[-1] = (to, source + np.uint64(1))

    after_leaf(monkeypatch, copies_a_neighbour)
    with caught("does not hold what the kernel copies"):
        simulate("6.12")


def test_kept_page_remapped_to_another_hugepages_head(monkeypatch):
    def shares_heads(ptes, walk):
        ptes[1, :] = ptes[0, :]  # hugepage 1 now keeps hugepage 0's head; its own is lost, never freed

    after_leaf(monkeypatch, shares_heads)
    with caught("no longer maps its original frame"):
        simulate("6.1")


def test_head_copy_placed_in_a_frame_the_walk_freed(monkeypatch):
    """Everything else consistent (the copy logged, tails pointing at it): only the check that
    no freed frame is still mapped can see it."""

    def copies_into_a_freed_frame(ptes, walk):
        freed = walk.vmemmap_pages[-1][5]
        to, source = walk.frames.log.copies[-1]
        to[0] = freed
        ptes[0, 0] = mk_entry(freed, PRESENT | WRITE)
        ptes[0, 1:] = mk_entry(freed, PRESENT)

    after_leaf(monkeypatch, copies_into_a_freed_frame)
    with caught("still mapped"):
        simulate("6.12")


def test_a_copy_the_kernel_does_not_make(monkeypatch):
    """6.1 copies nothing: a copy logged there (over a frame it frees) is caught."""

    def copies_anyway(ptes, walk):
        walk.frames.copy_pages(walk.vmemmap_pages[-1][:1], walk.reuse_pages[:1])

    after_leaf(monkeypatch, copies_anyway)
    with caught("does not hold what the kernel copies"):
        simulate("6.1")


# -- the bugs a second review planted, which the first identity checks let through ----


def test_every_head_copy_in_one_frame(monkeypatch):
    def one_copy(ptes, walk):
        to, _ = walk.frames.log.copies[-1]
        to[:] = to[0]
        ptes[:, 0] = mk_entry(to, PRESENT | WRITE)
        if walk.tail_pfn is None:
            ptes[:, 1:] = mk_entry(to, PRESENT)[:, None]

    after_leaf(monkeypatch, one_copy)
    for era in ("6.12", "7.3"):
        with caught("not in a frame allocated for it, one each"):
            simulate(era)


def test_head_copies_in_frames_never_allocated(monkeypatch):
    def shifted(ptes, walk):
        to, source = walk.frames.log.copies[-1]
        walk.frames.log.copies[-1] = (to + np.uint64(1), source)
        ptes[:, 0] = mk_entry(to + np.uint64(1), PRESENT | WRITE)
        ptes[:, 1:] = mk_entry(to + np.uint64(1), PRESENT)[:, None]

    after_leaf(monkeypatch, shifted)
    with caught("not in a frame allocated for it, one each"):
        simulate("6.12")


def test_restored_tail_on_a_head_copys_frame(monkeypatch):
    def allocates_one_low(pt, ranges, reuse, frames):
        new = frames.alloc_array(ranges.count * ranges.nr_pages, "vmemmap") - np.uint64(1)
        walk = vmemmap.RemapWalk(vmemmap.restore_pte, frames, split=False, new_pages=new, nr_allocated=new.size)
        vmemmap.vmemmap_remap_range(pt, vmemmap._with_reuse(ranges, pt.page_shift), walk)
        return walk

    monkeypatch.setattr(engine, "vmemmap_remap_alloc", allocates_one_low)
    for era in ("6.12", "7.3"):
        with caught("not in a frame allocated for it, one each"):
            simulate(era, count=64, keep=10)


def test_split_tables_from_boot_memory_for_a_runtime_pool(monkeypatch):
    monkeypatch.setattr(
        PageTable, "split_pmd", lambda self, slots, leaves, source="buddy": SPLIT_PMD(self, slots, leaves, "boot")
    )
    for era in ("6.1", "7.3"):
        with caught("came from the wrong memory"):
            simulate(era)


def test_pmd_entry_past_the_window_overwritten(monkeypatch):
    def corrupts_next_block(pt, ranges, reuse, frames, *args, **kwargs):
        walk = REMAP_FREE(pt, ranges, reuse, frames, *args, **kwargs)
        slots = pt.pmd_slots(np.array([((ranges.end(4096) - 1) >> pt.pmd_shift) + 1], np.uint64), create=True)
        pt.tables["pmd"].entries[slots.rows, slots.index] = mk_entry(np.uint64(777), PRESENT | WRITE | LEAF)
        return walk

    monkeypatch.setattr(engine, "vmemmap_remap_free", corrupts_next_block)
    with caught("a PMD entry outside the window changed"):
        simulate("7.3", count=512)


def test_boot_frames_freed_miscounted(monkeypatch):
    """MemTotal is the boot memory freed: an allocator that miscounts it is caught."""
    from hvo_calc.frames import FrameAllocator as Allocator

    monkeypatch.setattr(Allocator, "count_boot", lambda self, pfns, span: 0)
    with caught("boot-memory frames freed"):
        simulate("6.1")


def test_head_copies_from_boot_memory(monkeypatch):
    """Head copies come from the buddy allocator (MemTotal counts on it): boot memory is caught."""
    from hvo_calc.frames import FrameAllocator as Allocator

    alloc_array = Allocator.alloc_array

    def from_boot(self, nr_pages, purpose, source="buddy"):
        return alloc_array(self, nr_pages, purpose, "boot" if purpose == "vmemmap" else source)

    monkeypatch.setattr(Allocator, "alloc_array", from_boot)
    for era in ("6.12", "7.3"):
        with caught("from boot memory, not the buddy allocator"):
            simulate(era)
