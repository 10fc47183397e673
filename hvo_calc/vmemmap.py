"""The vmemmap engine: populate, remap-and-free (HVO), restore, verify, on the model.

Every base page has a `struct page` at VMEMMAP_START + pfn * sizeof(struct page). A
hugepage's struct pages fill `vmemmap_pages` pages; all but the first few only repeat
`compound_head`. HVO keeps `reserve` of them mapped and points the rest of the range at
the last kept one (the reuse page), read-only, freeing their frames:

    vmemmap of one 2 MiB hugepage (x86-64, 5.18+: reserve 1)
    vaddr:  [head][ t1 ][ t2 ] ... [ t7 ]          [head][ t1 ] ... [ t7 ]
              |     |     |          |     HVO       |  \\   |   ...  /
    frames: [ f0 ][ f1 ][ f2 ] ... [ f7 ]    ==>   [ f0 ] <-+--+-----+   f1..f7 freed

The walk follows the kernel's `vmemmap_remap_walk`: one walker (`vmemmap_remap_range`)
descends pgd → .. → pmd, splits PMD leaves it meets (one new page-table frame each, never
undone) and hands the PTEs to a leaf action: `remap_free_pte` for HVO, `restore_pte` for
giving a hugepage back. The walker works on a whole window of hugepages at once: their
PTEs are one (hugepages, pages) view into the window's PTE tables, contiguous when the
hugepages are packed, so each step is a few whole-window numpy passes.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hvo_calc.errors import VerificationError, WalkError
from hvo_calc.frames import FrameAllocator
from hvo_calc.pagetable import (LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable, PmdSlots, Ranges, range_keys, all_present,
                                column_slabs, entry_pfn, mk_entry, range_view, run_offsets)


@dataclass
class RemapWalk:
    """What the walker does at the PTEs (struct vmemmap_remap_walk)."""

    remap_pte: Callable[[np.ndarray, "RemapWalk"], None]
    frames: FrameAllocator
    split: bool = True
    copy_reuse: bool = False
    reuse_pages: np.ndarray | None = None
    vmemmap_pages: list[np.ndarray] = field(default_factory=list)
    freed_spans: list[tuple[int, int]] = field(default_factory=list)  # lowest, highest pfn of each
    new_pages: np.ndarray | None = None
    nr_split: int = 0
    nr_split_hugepages: int = 0
    nr_allocated: int = 0
    nr_boot_freed: int = 0

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
        walk.nr_split += pt.split_pmd(slots, leaves)
        walk.nr_split_hugepages += _hugepages_that_split(pt, slots.keys[leaves], ranges)
    ptes = range_view(pt, slots, ranges)
    if not all_present(ptes):
        raise WalkError("BUG_ON(pte_none): a vmemmap PTE in the walked range is empty")
    walk.remap_pte(ptes, walk)


def _hugepages_that_split(pt: PageTable, split_keys: np.ndarray, ranges: Ranges) -> int:
    """How many walks met a leaf first (each flushes the TLB after its split)."""
    # Walk k ends at first_end + k * stride; the first walk into a block is the first
    # whose end lies past the block's start: a searchsorted done with arithmetic.
    # first_walker rises with the (sorted) keys, so counting its steps counts its values.
    block_starts = split_keys << np.uint64(pt.pmd_shift)
    first_end = np.uint64(ranges.start + ranges.nr_pages * (1 << pt.page_shift))
    past = block_starts >= first_end
    if ranges.count == 1 or ranges.stride == 0:
        first_walker = np.where(past, ranges.count, 0)
    else:
        ended = (block_starts - first_end) // np.uint64(ranges.stride) + np.uint64(1)
        first_walker = np.where(past, np.minimum(ended, np.uint64(ranges.count)), 0)
    return 1 + int(np.count_nonzero(first_walker[1:] != first_walker[:-1]))


def remap_free_pte(ptes: np.ndarray, walk: RemapWalk) -> None:
    """vmemmap_remap_pte: point the tails at the reuse page read-only, collect their frames.

    With `copy_reuse` (about 6.2+) the reuse page itself is replaced by a fresh copy
    and its old frame collected too, so the whole range is collected in one pass.
    Every row is filled with its read-only reuse entry, then the reuse page's own
    entry is written back: whole rows are one contiguous write.
    """
    if walk.copy_reuse:
        walk.vmemmap_pages.append(collect_pfns(ptes))
        walk.reuse_pages = walk.frames.alloc_array(ptes.shape[0], "vmemmap")
        walk.nr_allocated += walk.reuse_pages.size
        reuse_entries = mk_entry(walk.reuse_pages, PRESENT | WRITE)
    else:
        walk.vmemmap_pages.append(collect_pfns(ptes[:, 1:]))
        reuse_entries = ptes[:, 0].copy()
        walk.reuse_pages = entry_pfn(reuse_entries)
    fill_rows(ptes, mk_entry(walk.reuse_pages, PRESENT))
    ptes[:, 0] = reuse_entries


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


def rows_equal(ptes: np.ndarray, row_entries: np.ndarray) -> bool:
    """Whether every PTE of range k equals row_entries[k]."""
    same = np.empty(ptes.shape[0], dtype=bool)
    for piece, _ in column_slabs(ptes):
        if piece.ndim == 1:
            np.equal(piece, row_entries, out=same)
            if not same.all():
                return False
        elif not (piece == row_entries[:, None]).all():
            return False
    return True


def tails_match(ptes: np.ndarray, first: int, row_entries: np.ndarray) -> bool:
    """Whether every PTE of row k from column `first` on equals row_entries[k].

    A C-contiguous block is checked in one contiguous pass instead of a pass per column:
    column `first` is compared with row_entries and every later PTE with its left
    neighbour. The neighbour results of a row, one byte per PTE, are then read as 8-byte
    words, so even 8-PTE rows (a 2 MiB hugepage) cost no per-row loop.
    """
    rows, cols = ptes.shape
    if ptes.size == 0 or not ptes.flags.c_contiguous or cols % 8:
        return rows_equal(ptes[:, first:], row_entries)
    if not rows_equal(ptes[:, first : first + 1], row_entries):
        return False
    flat = ptes.reshape(-1)
    same = np.empty(flat.size, dtype=bool)
    np.equal(flat[1:], flat[:-1], out=same[1:])
    must = np.zeros(cols, dtype=bool)
    must[first + 1 :] = True  # the columns that must equal their left neighbour
    must_words = must.view(np.uint64)
    return bool(((same.view(np.uint64).reshape(rows, cols // 8) & must_words) == must_words).all())


def restore_pte(ptes: np.ndarray, walk: RemapWalk) -> None:
    """vmemmap_restore_pte: map each tail to its own new frame (a copy), read-write."""
    tails = ptes[:, 1:]
    tails[:] = mk_entry(walk.new_pages.reshape(tails.shape), PRESENT | WRITE)


def vmemmap_remap_free(pt: PageTable, ranges: Ranges, reuse: int, frames: FrameAllocator,
                       copy_reuse: bool) -> RemapWalk:
    """Remap [start, end) of every range to the page at `reuse` (the page before it)."""
    if ranges.start - reuse != 1 << pt.page_shift:
        raise WalkError("BUG_ON(start - reuse != PAGE_SIZE): the reuse page must directly precede the range")
    walk = RemapWalk(remap_free_pte, frames, copy_reuse=copy_reuse)
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


NOT_PRESENT = "struct pages no longer translate: a vmemmap PTE is empty"


def _pmds_that_translate(pt: PageTable, ranges: Ranges) -> tuple[PmdSlots, np.ndarray]:
    """The PMD slots and entries over `ranges`; a missing level is a VerificationError."""
    try:
        slots = pt.pmd_slots(range_keys(pt, ranges), create=False)
    except WalkError as exc:
        raise VerificationError(f"struct pages no longer translate: {exc}") from None
    pmd = pt.pmd_entries(slots)
    if not (pmd & PRESENT).all():
        raise VerificationError("struct pages no longer translate: a PMD entry is empty")
    return slots, pmd


def translate(pt: PageTable, ranges: Ranges) -> tuple[np.ndarray, np.ndarray]:
    """Frame and writability of every page of `ranges` (a lookup; it splits nothing).

    A page not mapped at every level is a VerificationError: its struct pages are gone.
    """
    slots, pmd = _pmds_that_translate(pt, ranges)
    if _leaf_mapped(pmd):
        addrs = ranges.starts()[:, None] + np.arange(ranges.nr_pages, dtype=np.uint64) * np.uint64(1 << pt.page_shift)
        block = pmd[pt.key_rank(slots.keys, addrs >> np.uint64(pt.pmd_shift))]
        pfns = entry_pfn(block) + pt.index("pte", addrs).astype(np.uint64)
        return pfns, (block & WRITE) != 0
    ptes = translate_ptes(pt, ranges, slots)
    if not all_present(ptes):
        raise VerificationError(NOT_PRESENT)
    return entry_pfn(ptes), (ptes & WRITE) != 0


def check_translates(pt: PageTable, ranges: Ranges) -> None:
    """The check `translate` makes, without building frame and flag arrays: every page
    lies under a PMD leaf or has a present PTE (a VerificationError otherwise)."""
    slots, pmd = _pmds_that_translate(pt, ranges)
    if not _leaf_mapped(pmd) and not all_present(translate_ptes(pt, ranges, slots)):
        raise VerificationError(NOT_PRESENT)


def _leaf_mapped(pmd: np.ndarray) -> bool:
    """Whether PMD leaves map these blocks (else PTE tables do; a window never mixes them)."""
    leaves = (pmd & LEAF) != 0
    if leaves.any() and not leaves.all():
        raise AssertionError("a window mixes PMD leaves and PTE tables")
    return bool(leaves.all())


def translate_ptes(pt: PageTable, ranges: Ranges, slots: PmdSlots | None = None) -> np.ndarray:
    """The PTE of every page of PTE-mapped `ranges`, as a (count, nr_pages) view.

    The same lookup as `translate`, for callers that check whole entries (frame and
    flags in one comparison) instead of building frame and flag arrays. Those
    comparisons include the present bit, so whether each PTE is present (NOT_PRESENT
    otherwise) is the caller's to check.
    """
    if slots is None:
        slots, pmd = _pmds_that_translate(pt, ranges)
        if ((pmd & LEAF) != 0).any():
            raise AssertionError("translate_ptes needs PTE-mapped ranges")
    return range_view(pt, slots, ranges)
