"""The vmemmap engine: populate, remap-and-free (HVO), restore, verify, on the model.

Every base page has a `struct page` at VMEMMAP_START + pfn * sizeof(struct page). A
hugepage's struct pages fill `vmemmap_pages` pages; all but the first few only repeat
`compound_head`. HVO keeps `reserve` of them mapped and points the rest of the range at
the last kept one (the reuse page), read-only, freeing their frames:

    vmemmap of one 2 MiB hugepage (x86-64, 5.18+: reserve 1)
    vaddr:  [head][ t1 ][ t2 ] ... [ t7 ]          [head][ t1 ] ... [ t7 ]
              |     |     |          |     HVO       |  \\   |   ...  /
    frames: [ f0 ][ f1 ][ f2 ] ... [ f7 ]    ==>   [ f0 ] <-+--+-----+   f1..f7 freed

What the tails map changed twice: the second kept page (5.14-5.17, reserve 2), the head
page itself (5.18-6.1), a fresh copy of the head page that replaces it (6.2-7.0), and
from 7.1 one shared, read-only tail page per (node, zone, hugepage order), while the
head is still a fresh private copy.

The walk follows the kernel's `vmemmap_remap_walk`: one walker (`vmemmap_remap_range`)
descends pgd → .. → pmd, splits PMD leaves it meets (one new page-table frame each, never
undone) and hands the PTEs to a leaf action: `remap_free_pte` for HVO, `restore_pte` for
giving a hugepage back. The walker works on a whole window of hugepages at once: their
PTEs are one (hugepages, pages) view into the window's PTE tables, contiguous when the
hugepages are packed, so each step is a few whole-window numpy passes.
"""

from collections.abc import Callable
from dataclasses import field

import numpy as np

from hvo_calc.errors import WalkError
from hvo_calc.frames import BUDDY, FrameAllocator, FrameRun, Frames, consecutive_first
from hvo_calc.pagetable import (
    LEAF,
    PFN_SHIFT,
    PRESENT,
    WRITE,
    PageTable,
    PmdSlots,
    Ranges,
    all_present,
    column_slabs,
    entry_pfn,
    fill_pattern,
    is_run,
    mk_entry,
    pattern_rows,
    range_keys,
    range_view,
    row_pattern,
    run_offsets,
    table_positions,
)
from hvo_calc.record import mutable

PAGE_STEP = 1 << int(PFN_SHIFT)  # from one frame's entry to the next's
RW = int(PRESENT | WRITE)


@mutable
class RemapWalk:
    """What the walker does at the PTEs (struct vmemmap_remap_walk)."""

    remap_pte: Callable[[np.ndarray, "RemapWalk"], None]
    frames: FrameAllocator
    split: bool = True
    copy_reuse: bool = False
    tail_pfn: int | None = None  # 7.1+: the zone's shared tail page the tails map
    table_source: str = BUDDY  # where split tables come from (boot memory for pre-optimized pages)
    reuse_pages: Frames | None = None
    vmemmap_pages: list[Frames] = field(default_factory=list)
    freed_spans: list[tuple[int, int]] = field(default_factory=list)  # lowest, highest pfn of each
    new_pages: Frames | None = None
    nr_split: int = 0
    nr_allocated: int = 0
    nr_boot_freed: int = 0
    # Where the walked PTEs map consecutive frames (as populated, then split; `walked_run`
    # says how that is known): the first one's entry and the entries from one range to the
    # next. None otherwise.
    run: tuple[int, int] | None = None

    @property
    def nr_collected(self) -> int:
        return sum(int(p.size) for p in self.vmemmap_pages)


def vmemmap_remap_range(pt: PageTable, ranges: Ranges, walk: RemapWalk) -> None:
    """Walk every range [reuse, end): the first page of each is the reuse page."""
    page = 1 << pt.page_shift
    if ranges.start % page or ranges.stride % page:
        raise WalkError("VM_BUG_ON(!IS_ALIGNED(start, PAGE_SIZE)): vmemmap range not page aligned")
    slots = pt.pmd_slots(range_keys(pt, ranges), create=False)
    pmd = pt.pmd_entries(slots)
    if (pmd == 0).any():
        addr = int(slots.keys[np.argmax(pmd == 0)]) << pt.pmd_shift
        raise WalkError(f"BUG_ON(pmd_none): no pmd entry maps vmemmap address {addr:#x}")
    leaves = (pmd & LEAF) != 0
    if leaves.any():
        if not walk.split:
            raise WalkError("BUG_ON(pmd_leaf): the walk met a PMD leaf it may not split")
        walk.nr_split += pt.split_pmd(slots, leaves, walk.table_source)
    ptes = range_view(pt, slots, ranges)
    walk.run = walked_run(ptes, split_entry(pt, pmd, slots, ranges))
    if (walk.run is None or not walk.run[0] & int(PRESENT)) and not all_present(ptes):
        raise WalkError("BUG_ON(pte_none): a vmemmap PTE in the walked range is empty")
    walk.remap_pte(ptes, walk)


def split_entry(pt: PageTable, pmd: np.ndarray, slots: PmdSlots, ranges: Ranges) -> int | None:
    """Where this walk split every block from PMD leaves over consecutive frames: the entry
    the split gave the walk's first PTE (page k of the tables maps the leaves' first frame
    plus k). None otherwise."""
    if not len(pmd) or not ((pmd & LEAF) != 0).all() or not pt.blocks_in_one_run(pmd):
        return None
    first, _ = table_positions(pt, slots.keys, ranges)
    return int(pmd[0] & ~LEAF) + first * PAGE_STEP


def walked_run(ptes: np.ndarray, split: int | None = None) -> tuple[int, int] | None:
    """(first entry, range step) where every entry from the first range's first to the last
    range's last, the pages between ranges included, maps the next frame with the same flags:
    read entry by entry, or where the walk has just split the tables, as follows.

    Where the walk has just split PMD leaves over consecutive frames (`split`: the entry the
    split gave the first PTE) and the ranges lie back to back (no page between them, which the
    remap would not touch), every walked page is one the remap rewrites: each range's first
    page, the reuse page the kernel reads (walk->reuse_page), is read and held to the leaves'
    frames, and the tails are taken to map the leaves' frames as the split wrote them. A reuse
    page not where the split put it sends the walk to reading every entry."""
    rows, cols = ptes.shape
    if not ptes.size or ptes.strides[1] != ptes.itemsize:
        return None
    step = ptes.strides[0] // ptes.itemsize if rows > 1 else cols
    if step < cols:
        return None
    if split is not None and step == cols and is_run(ptes[:, 0], split, step * PAGE_STEP):
        return split, step
    span = np.lib.stride_tricks.as_strided(ptes, shape=((rows - 1) * step + cols,), strides=(ptes.itemsize,))
    first = int(ptes[0, 0])
    return (first, step) if is_run(span, first) else None


def remap_free_pte(ptes: np.ndarray, walk: RemapWalk) -> None:
    """vmemmap_remap_pte: point the tails read-only at what the kernel of the era points
    them at, and collect the frames they stop mapping.

    With `copy_reuse` (6.2+) the reuse page itself is replaced by a fresh copy and its
    old frame collected too, so the whole range is collected in one pass. Tails map the
    reuse page, or from 7.1 (`tail_pfn`) the zone's shared tail page. Every row is
    filled with its tail entry, then the reuse page's own entry is written back: whole
    rows are one contiguous write.
    """
    if walk.run is not None and _remap_run(ptes, walk, *walk.run):
        return
    old_reuse = entry_pfn(ptes[:, 0])
    if walk.copy_reuse:
        walk.vmemmap_pages.append(collect_pfns(ptes))
        walk.reuse_pages = walk.frames.alloc_array(ptes.shape[0], "vmemmap")
        walk.frames.copy_pages(walk.reuse_pages, old_reuse)
        walk.nr_allocated += walk.reuse_pages.size
        reuse_entries = mk_entry(walk.reuse_pages, PRESENT | WRITE)
    else:
        walk.vmemmap_pages.append(collect_pfns(ptes[:, 1:]))
        reuse_entries = ptes[:, 0].copy()
        walk.reuse_pages = old_reuse
    if walk.tail_pfn is not None:
        ptes[...] = mk_entry(walk.tail_pfn, PRESENT)
    else:
        fill_rows(ptes, mk_entry(walk.reuse_pages, PRESENT))
    ptes[:, 0] = reuse_entries


def _remap_run(ptes: np.ndarray, walk: RemapWalk, first: int, step: int) -> bool:
    """remap_free_pte where the walked PTEs map consecutive frames (`walked_run`): the frames
    collected are a `FrameRun`, and the rows are written a cache-sized chunk at a time.
    False (nothing done) where this window is not such a one."""
    rows, cols = ptes.shape
    if first % PAGE_STEP != RW:
        return False  # not mapped writable as populate maps: the plain route
    pfn = first >> int(PFN_SHIFT)
    span = np.lib.stride_tricks.as_strided(ptes, shape=((rows - 1) * step + cols,), strides=(ptes.itemsize,))
    old_reuse = FrameRun(pfn, rows, step, 1)  # each range's first page, as populated
    if not walk.copy_reuse:  # the reuse page stays; the tails map it (or the shared tail page) and their frames go
        if walk.tail_pfn is not None and step != cols:
            return False
        walk.vmemmap_pages.append(FrameRun(pfn + 1, rows, step, cols - 1))
        walk.reuse_pages = old_reuse
        if walk.tail_pfn is not None:
            _fill_shared_tail(ptes, first, step * PAGE_STEP, int(mk_entry(walk.tail_pfn, PRESENT)))
            return True
        # Row i: the reuse page as it was, tails read-only on it, the pages between ranges as they were.
        deltas = (int(WRITE), *([0] * (cols - 1)), *(int(WRITE) + j * PAGE_STEP for j in range(cols, step)))
        pattern = row_pattern(step, step * PAGE_STEP, deltas)
        fill_pattern(span, pattern, first - int(WRITE), pattern_rows(step) * step * PAGE_STEP)
        return True
    if step != cols:
        return False
    copies = walk.frames.alloc_array(rows, "vmemmap")
    walk.vmemmap_pages.append(FrameRun(pfn, rows, step, cols))
    walk.reuse_pages = copies
    walk.frames.copy_pages(copies, old_reuse)
    walk.nr_allocated += rows
    first_copy = consecutive_first(copies)
    if first_copy is None:  # copies not in consecutive frames
        _write_rows(ptes, np.asarray(copies), walk.tail_pfn)
        return True
    copy_entry = int(mk_entry(first_copy, PRESENT))
    if walk.tail_pfn is None:  # tails read-only on the head's copy
        pattern = row_pattern(cols, PAGE_STEP, (int(WRITE), *([0] * (cols - 1))))
        fill_pattern(span, pattern, copy_entry, pattern_rows(cols) * PAGE_STEP)
    else:
        _fill_shared_tail(ptes, copy_entry | int(WRITE), PAGE_STEP, int(mk_entry(walk.tail_pfn, PRESENT)))
    return True


def _fill_shared_tail(ptes: np.ndarray, reuse_entry: int, reuse_step: int, tail_entry: int) -> None:
    """7.1+: every tail on the shared tail page, reuse page i mapped by reuse_entry + i *
    reuse_step (its copy, or the page itself where nothing is copied); a chunk of rows at a
    time, so each is written from cache."""
    rows = ptes.shape[0]
    chunk = pattern_rows(ptes.shape[1])
    rising = row_pattern(1, reuse_step, (0,))
    for start in range(0, rows, chunk):
        end = min(rows, start + chunk)
        block = ptes[start:end]
        block.fill(tail_entry)
        np.add(rising[: end - start], np.uint64(reuse_entry + start * reuse_step), out=block[:, 0])


def _write_rows(ptes: np.ndarray, reuse_pages: np.ndarray, tail_pfn: int | None) -> None:
    """Tails read-only on `tail_pfn` or on their row's reuse page, reuse pages writable."""
    if tail_pfn is not None:
        ptes[...] = mk_entry(tail_pfn, PRESENT)
    else:
        fill_rows(ptes, mk_entry(reuse_pages, PRESENT))
    ptes[:, 0] = mk_entry(reuse_pages, PRESENT | WRITE)


def collect_pfns(ptes: np.ndarray) -> np.ndarray:
    """The frames a (ranges, pages) view maps, as one flat array (any order)."""
    rows, cols = ptes.shape
    slabs = [] if ptes.flags.c_contiguous else column_slabs(ptes)
    if len(slabs) <= 1:
        return entry_pfn(ptes).reshape(-1)
    out = np.empty((cols, rows), dtype=np.uint64)
    for (piece, _), row in zip(slabs, out):
        np.right_shift(piece, PFN_SHIFT, out=row)
    return out.reshape(-1)


def fill_rows(ptes: np.ndarray, row_entries: np.ndarray) -> None:
    """Set every PTE of range k to row_entries[k].

    Pages handed out in order make row_entries an arithmetic run; a contiguous block
    is then written in one pass as first + step * row number, not a pass per column.
    """
    rows, cols = ptes.shape
    steps = np.diff(row_entries)
    if rows > 1 and ptes.flags.c_contiguous and (steps == steps[0]).all():
        np.add(run_offsets(rows, cols, int(steps[0])), row_entries[0], out=ptes.reshape(-1))
        return
    for piece, _ in column_slabs(ptes):
        piece[...] = row_entries if piece.ndim == 1 else row_entries[:, None]


def restore_pte(ptes: np.ndarray, walk: RemapWalk) -> None:
    """vmemmap_restore_pte: map each tail to its own new frame, a copy of the page it
    mapped, read-write."""
    tails = ptes[:, 1:]
    if walk.new_pages is None:
        raise WalkError("the restore walk was given no pages to map")
    new_pages = walk.new_pages.reshape(tails.shape)
    walk.frames.copy_pages(new_pages, entry_pfn(tails))
    tails[:] = mk_entry(new_pages, PRESENT | WRITE)


def vmemmap_remap_free(
    pt: PageTable,
    ranges: Ranges,
    reuse: int,
    frames: FrameAllocator,
    copy_reuse: bool,
    tail_pfn: int | None = None,
    table_source: str = BUDDY,
) -> RemapWalk:
    """Remap [start, end) of every range to the page at `reuse` (the page before it),
    or from 7.1 to the shared tail page `tail_pfn`."""
    if ranges.start - reuse != 1 << pt.page_shift:
        raise WalkError("BUG_ON(start - reuse != PAGE_SIZE): the reuse page must directly precede the range")
    walk = RemapWalk(remap_free_pte, frames, copy_reuse=copy_reuse, tail_pfn=tail_pfn, table_source=table_source)
    vmemmap_remap_range(pt, _with_reuse(ranges, pt.page_shift), walk)
    for pages in walk.vmemmap_pages:
        if pages.size:
            walk.freed_spans.append((int(pages.min()), int(pages.max())))
            walk.nr_boot_freed += frames.free(pages, walk.freed_spans[-1])
    return walk


def vmemmap_remap_alloc(pt: PageTable, ranges: Ranges, reuse: int, frames: FrameAllocator) -> RemapWalk:
    """Allocate the tails back and remap them read-write before a hugepage is freed."""
    if ranges.start - reuse != 1 << pt.page_shift:
        raise WalkError("BUG_ON(start - reuse != PAGE_SIZE): the reuse page must directly precede the range")
    new_pages = frames.alloc_array(ranges.count * ranges.nr_pages, "vmemmap")
    walk = RemapWalk(restore_pte, frames, split=False, new_pages=new_pages, nr_allocated=new_pages.size)
    vmemmap_remap_range(pt, _with_reuse(ranges, pt.page_shift), walk)
    return walk


def _with_reuse(ranges: Ranges, page_shift: int) -> Ranges:
    """The walked ranges: each range with its reuse page in front."""
    return Ranges(ranges.start - (1 << page_shift), ranges.stride, ranges.count, ranges.nr_pages + 1)
