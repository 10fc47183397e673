"""The verifier: what the page tables and the frame allocator hold after the engine has
acted on a window, held against what HVO promises.

It shares no code path with the work it checks. It walks the page tables itself (from
the top-level table down, following each entry to its table), reads the frame
allocator's log (what was allocated, freed and copied since the window began) and
compares what it sees with the kernel's rules, given as `WindowRules` (which pages are
kept, what the tails map, which hugepages were given back). Figures the engine claims
are then held against what it observed. Every broken rule is a `VerificationError`
(exit 3) with one line saying which.

    before (snapshot after populate)          after (HVO, 6.2-7.0)
    [head][ t1 ] ... [ t7 ]  -> f0 .. f7       [copy][ t1 ] ... [ t7 ] -> c, c RO .. c RO
                                               freed: f0 .. f7, each once; c holds f0's data
    7.1+: tails -> the zone's shared tail page (one per node, zone, order), read-only.
"""

from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from hvo_calc.errors import VerificationError
from hvo_calc.frames import BOOT, BUDDY, FrameAllocator, FrameLog
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable, mk_entry

FLAGS = np.uint64((1 << int(PFN_SHIFT)) - 1)


@dataclass(frozen=True)
class WindowRules:
    """What the kernel does to one window of a pool: the rules, not the figures."""

    head_vaddr: int  # vmemmap address of the first hugepage's first struct page
    cover_start: int  # first vmemmap page (address) holding the window's struct pages
    stride: int  # bytes of vmemmap from one hugepage's head to the next
    count: int  # hugepages in the window
    vmemmap_pages: int  # vmemmap pages of one hugepage (v)
    cover_pages: int  # vmemmap pages holding the window's struct pages
    optimized: bool  # HVO acts on this pool
    reserve: int = 1  # pages kept per hugepage; the last one is the reuse page
    copy_head: bool = False  # the reuse page is replaced by a fresh copy (6.2+)
    tail_key: tuple[int, str, int] | None = None  # 7.1+: tails map this zone's shared tail page
    keep: int = 0  # hugepages still optimized; the rest were restored (a shrink)
    preoptimized: bool = False  # boot pages populated already optimized: tables and tail page from boot memory


@dataclass
class Snapshot:
    """The window's vmemmap as the verifier saw it before the remap.

    Where PMD leaves mapped all of it, every page's entry is arithmetic on its leaf, so the
    page entries are only spelled out (`ptes`) when a check needs them all."""

    keys: np.ndarray  # PMD blocks, sorted
    pmd: np.ndarray  # their PMD entries
    had_tail: bool  # the shared tail page existed already
    per_table: int  # entries of a PTE table (pages a PMD leaf maps)
    stored: np.ndarray | None = None  # every page's entry, where not all leaves
    table_rows: np.ndarray | None = None  # the PMD tables the window's blocks lie in (their rows)
    tables: np.ndarray | None = None  # those tables' entries
    own: np.ndarray | None = None  # the window's own entries in them: a mask over `tables`

    @property
    def ptes(self) -> np.ndarray:
        """Every page of the window's blocks: its entry (a PMD leaf's expanded), flat."""
        if self.stored is None:
            offsets = np.arange(self.per_table, dtype=np.uint64) << PFN_SHIFT
            self.stored = ((self.pmd & ~LEAF)[:, None] + offsets).reshape(-1)
        return self.stored

    def __post_init__(self) -> None:
        # Where consecutive PMD leaves mapped the window: the entry of its first page (page
        # i's is that plus i frames). None otherwise.
        self.run_base: np.uint64 | None = None
        step = np.uint64(self.per_table) << PFN_SHIFT
        pmd = self.pmd
        if self.stored is None and len(pmd) and ((pmd & LEAF) != 0).all() and (np.diff(pmd) == step).all():
            self.run_base = pmd[0] & ~LEAF

    def entries(self, positions: np.ndarray) -> np.ndarray:
        """The entries at these flat positions (without spelling out the rest)."""
        if self.run_base is None:
            return self.ptes[positions]
        return self.run_base + (positions.astype(np.uint64) << PFN_SHIFT)


@dataclass(frozen=True)
class Observed:
    """Figures counted from the state the verifier saw."""

    reserved_pages: int
    freed_pages: int
    split_tables: int
    vmemmap_allocated: int
    tail_pages_allocated: int
    boot_pages_freed: int = 0  # of the freed frames, those boot memory had given
    boot_pages_allocated: int = 0  # frames boot memory gave in the window


def fail(message: str) -> NoReturn:
    raise VerificationError(message)


def window_keys(pt: PageTable, rules: WindowRules) -> np.ndarray:
    """The PMD blocks the window's struct pages lie in, sorted and unique."""
    page = 1 << pt.page_shift
    starts = rules.head_vaddr + rules.stride * np.arange(rules.count, dtype=np.uint64)
    if rules.stride * rules.count <= rules.cover_pages * page:  # packed: one span
        first = rules.cover_start >> pt.pmd_shift
        last = (rules.cover_start + rules.cover_pages * page - 1) >> pt.pmd_shift
        return np.arange(first, last + 1, dtype=np.uint64)
    span = rules.cover_pages // rules.count * page
    firsts, lasts = starts >> np.uint64(pt.pmd_shift), (starts + np.uint64(span - 1)) >> np.uint64(pt.pmd_shift)
    return np.unique(np.concatenate([firsts, lasts]))


def walk_pmd(pt: PageTable, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PMD entry of each block, and the row of the PTE table it points at, read by
    descending the tables from the top."""
    entry, child, _, _ = walk_to_pmd(pt, keys)
    return entry, child


def walk_to_pmd(pt: PageTable, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """walk_pmd, and where each block's PMD entry is: its table's row and its index there."""
    vaddrs = keys << np.uint64(pt.pmd_shift)
    row = np.zeros(len(keys), dtype=np.int64)
    for level in pt.upper_levels:
        store = pt.tables[level]
        mask = np.uint64(store.entries_per_table - 1)
        idx = ((vaddrs >> np.uint64(pt.shift[level])) & mask).astype(np.int64)
        entry = store.entries[row, idx]
        if not (entry & PRESENT).all():
            fail(f"struct pages no longer translate: a {level} entry over the vmemmap is empty")
        table_row, row = row, store.child[row, idx]
        if level != "pmd" and (row < 0).any():
            fail(f"a {level} entry points at no table")
    return entry, row, table_row, idx


def walk_entries(pt: PageTable, keys: np.ndarray, copy: bool) -> tuple[np.ndarray, np.ndarray]:
    """The PMD entry of each block and the entry mapping each page of it (a PMD leaf
    expanded page by page). Without `copy` the PTEs may be a view of the tables (to read
    now, not to keep)."""
    pmd, child = walk_pmd(pt, keys)
    return pmd, page_entries(pt, pmd, child, copy)


def page_entries(pt: PageTable, pmd: np.ndarray, child: np.ndarray, copy: bool) -> np.ndarray:
    """Every page's entry under these PMD entries, flat: a leaf's pages by arithmetic, a
    table's entries as the table holds them."""
    per_table = pt.entries_per_table
    leaf = (pmd & LEAF) != 0
    offsets = np.arange(per_table, dtype=np.uint64) << PFN_SHIFT
    if leaf.all():
        return ((pmd & ~LEAF)[:, None] + offsets).reshape(-1)
    if (child[~leaf] < 0).any():
        fail("a PMD entry over the window points at no PTE table")
    if not leaf.any() and (np.diff(child) == 1).all():  # the tables sit in consecutive rows
        tables = pt.pte.entries[int(child[0]) : int(child[-1]) + 1]
        return (tables.copy() if copy else tables).reshape(-1)
    ptes = np.empty((len(pmd), per_table), dtype=np.uint64)
    ptes[leaf] = (pmd[leaf] & ~LEAF)[:, None] + offsets
    ptes[~leaf] = pt.pte.entries[child[~leaf]]
    return ptes.reshape(-1)


def snapshot(pt: PageTable, frames: FrameAllocator, rules: WindowRules) -> Snapshot:
    """What the window maps before the remap; the allocator's log starts afresh here.
    Where PMD leaves map all of it, the pages are left to arithmetic on the leaves."""
    frames.clear_log()
    keys = window_keys(pt, rules)
    pmd, child, table_row, idx = walk_to_pmd(pt, keys)
    stored = None if ((pmd & LEAF) != 0).all() else page_entries(pt, pmd, child, copy=True)
    rows, where = np.unique(table_row, return_inverse=True)
    own = np.zeros((len(rows), pt.tables["pmd"].entries_per_table), dtype=bool)
    own[where, idx] = True
    tables = pt.tables["pmd"].entries[rows].copy()
    had_tail = rules.tail_key in frames.vmemmap_tails
    return Snapshot(keys, pmd, had_tail, pt.entries_per_table, stored, rows, tables, own)


def pool_view(flat: np.ndarray, keys: np.ndarray, pt: PageTable, rules: WindowRules, pages: int) -> np.ndarray:
    """(count, pages) view of the flat per-page entries: page j of hugepage k."""
    if int(keys[-1] - keys[0]) + 1 == len(keys):  # consecutive blocks: address arithmetic
        base = int(keys[0]) << pt.pmd_shift
        pos = np.array([rules.head_vaddr - base, rules.head_vaddr + (rules.count - 1) * rules.stride - base])
        pos >>= pt.page_shift
        step = rules.stride >> pt.page_shift
    else:
        page_shift, pmd_shift = np.uint64(pt.page_shift), np.uint64(pt.pmd_shift)
        starts = np.uint64(rules.head_vaddr) + np.uint64(rules.stride) * np.arange(rules.count, dtype=np.uint64)
        in_block = ((starts & ((np.uint64(1) << pmd_shift) - np.uint64(1))) >> page_shift).astype(np.int64)
        pos = np.searchsorted(keys, starts >> pmd_shift).astype(np.int64) * pt.entries_per_table + in_block
        step = int(pos[1] - pos[0]) if rules.count > 1 else pages
        if (np.diff(pos) != step).any():  # blocks apart by uneven gaps: gather (a copy, to read)
            if pos.min() < 0 or pos.max() + pages > flat.size:
                fail("the pool's vmemmap pages do not lie where their addresses say")
            return flat[pos[:, None] + np.arange(pages)]
    if pos[0] < 0 or pos[-1] + pages > flat.size:
        fail("the pool's vmemmap pages do not lie where their addresses say")
    return np.lib.stride_tricks.as_strided(
        flat[int(pos[0]) :], shape=(rules.count, pages), strides=(step * flat.itemsize, flat.itemsize)
    )


def _cover(flat: np.ndarray, keys: np.ndarray, pt: PageTable, rules: WindowRules) -> np.ndarray:
    """Every vmemmap page holding the window's struct pages (hugepages may share one)."""
    page = 1 << pt.page_shift
    if rules.stride * rules.count <= rules.cover_pages * page:  # packed: one run
        first = (rules.cover_start - (int(keys[0]) << pt.pmd_shift)) // page
        return flat[first : first + rules.cover_pages]
    return pool_view(flat, keys, pt, rules, rules.cover_pages // rules.count)


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: sums of it tell multisets apart (a double free and a leak
    that keep the count and the plain sum still change it)."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def fingerprint(pieces: list[np.ndarray]) -> tuple[int, int]:
    """How many values, and the sum of their mixes: equal for equal multisets."""
    count, total = 0, np.uint64(0)
    with np.errstate(over="ignore"):
        for piece in pieces:
            count += int(piece.size)
            total += np.add.reduce(mix(piece.reshape(-1)), dtype=np.uint64) if piece.size else np.uint64(0)
    return count, int(total)


def pairs(to_pfns: np.ndarray, from_pfns: np.ndarray) -> np.ndarray:
    """A copy (to, from) as one value, for fingerprints of copies."""
    with np.errstate(over="ignore"):
        return mix(to_pfns.reshape(-1)) ^ from_pfns.reshape(-1)


def verify_window(pt: PageTable, frames: FrameAllocator, rules: WindowRules, before: Snapshot) -> Observed:
    """Hold the window's page tables and the allocator's log against the rules."""
    log = frames.clear_log()
    pmd_after, after = walk_entries(pt, before.keys, copy=False)
    v, reserve = rules.vmemmap_pages, rules.reserve
    if not rules.optimized:
        if not np.array_equal(after, before.ptes):
            fail("a pool without HVO had its vmemmap changed")
        cover = _cover(after, before.keys, pt, rules)
        if not (cover & PRESENT).all():
            fail("struct pages no longer translate: a vmemmap PTE is empty")
        return Observed(
            reserved_pages=_count_writable(cover),
            freed_pages=0,
            split_tables=0,
            vmemmap_allocated=0,
            tail_pages_allocated=0,
        )
    a_view = pool_view(after, before.keys, pt, rules, v)
    _check_tails(a_view[: rules.keep], frames, rules)
    fresh = _check_restored(a_view[rules.keep :], rules, log)
    run = _check_run(after, a_view, before, rules, log, frames.buddy_base)
    if run is None:  # the general case: every page's entry before, spelled out
        b_view = pool_view(before.ptes, before.keys, pt, rules, v)
        b_pfns = _check_populated(b_view, before.pmd, pt.entries_per_table)
        _check_outside_unchanged(after, before, a_view, b_view)
        _check_kept(a_view, b_view, rules, log)
        _check_copies(a_view, b_view, frames, rules, log)
        freed = _check_freed(b_pfns, a_view, rules, log)
        _check_new_frames(a_view, rules, log)
        # Tails of optimized hugepages were seen read-only above; what else is writable is kept.
        reserved = _count_writable(a_view[:, :reserve]) + _count_writable(a_view[rules.keep :, reserve:])
        boot_freed = _boot_frames_freed(frames, log)
    else:
        freed, reserved, boot_freed = run.freed, run.reserved, run.boot_freed
    split = _check_pmd_tables(pt, before, pmd_after, rules, log)
    tail_allocated = log.allocated_pages("vmemmap_tail")
    if tail_allocated != (1 if rules.tail_key and not before.had_tail else 0):
        fail(
            f"{tail_allocated} shared tail pages were allocated in a window that needed "
            f"{1 if rules.tail_key and not before.had_tail else 0}"
        )
    if tail_allocated and log.allocated_pages("vmemmap_tail", BOOT if rules.preoptimized else BUDDY) != 1:
        fail("the shared tail page came from the wrong memory (boot memory only for boot pages)")
    copies = rules.count if rules.copy_head else 0
    if log.allocated_pages("vmemmap") != copies + fresh:
        fail(
            f"{log.allocated_pages('vmemmap')} vmemmap pages were allocated for {copies} head copies "
            f"and {fresh} restored tails"
        )
    return Observed(
        reserved_pages=reserved,
        freed_pages=freed,
        split_tables=split,
        vmemmap_allocated=copies + fresh,
        tail_pages_allocated=tail_allocated,
        boot_pages_freed=boot_freed,
        boot_pages_allocated=sum(a.nr_pages for a in log.allocations if a.source == BOOT),
    )


def _check_pmd_tables(pt: PageTable, before: Snapshot, pmd_after: np.ndarray, rules: WindowRules, log: FrameLog) -> int:
    """The PMD tables the window lies in: every entry but the window's own is as it was; each
    leaf the walk split now points at a page-table page allocated for it, one each, from the
    memory the kernel takes it from; every other entry of the window is as it was. Returns
    how many were split."""
    if before.table_rows is None or before.tables is None or before.own is None:
        fail("the window's PMD tables were not seen before the remap")
    tables = pt.tables["pmd"].entries[before.table_rows]
    if not np.array_equal(tables[~before.own], before.tables[~before.own]):
        fail("a PMD entry outside the window changed")
    split = ((before.pmd & LEAF) != 0) & ((pmd_after & LEAF) == 0)
    if not np.array_equal(pmd_after[~split], before.pmd[~split]):
        fail("a PMD entry of the window changed without being split")
    if ((pmd_after[split] & FLAGS) != (PRESENT | WRITE)).any():
        fail("a split PMD entry is not a present table pointer")
    tables_allocated = _allocated_frames(log, "pagetable")
    if not np.array_equal(np.sort(pmd_after[split] >> PFN_SHIFT), np.sort(tables_allocated)):
        fail(f"{tables_allocated.size} page-table pages were allocated for {int(split.sum())} PMD splits, one each")
    if log.allocated_pages("pagetable", BOOT if rules.preoptimized else BUDDY) != tables_allocated.size:
        fail("split page tables came from the wrong memory (boot memory only for boot pages)")
    return int(split.sum())


def _allocated_frames(log: FrameLog, purpose: str) -> np.ndarray:
    """The frames the window's allocations for `purpose` handed out, in order."""
    runs = [np.arange(a.first, a.first + a.nr_pages, dtype=np.uint64) for a in log.allocations if a.purpose == purpose]
    return np.concatenate(runs) if runs else np.empty(0, dtype=np.uint64)


def _check_new_frames(a_view: np.ndarray, rules: WindowRules, log: FrameLog) -> None:
    """The frames mapped now that were not before, head copies and restored tails, are the
    ones allocated for them in this window, from buddy, each used once."""
    new = [(a_view[:, rules.reserve - 1] >> PFN_SHIFT).reshape(-1)] if rules.copy_head else []
    new.append((a_view[rules.keep :, rules.reserve :] >> PFN_SHIFT).reshape(-1))
    mapped = np.concatenate(new)
    allocated = _allocated_frames(log, "vmemmap")
    if log.allocated_pages("vmemmap", BUDDY) != allocated.size:
        fail("head copies or restored tails came from boot memory, not the buddy allocator")
    if not (np.array_equal(mapped, allocated) or np.array_equal(np.sort(mapped), np.sort(allocated))):
        fail("a head copy or restored tail is not in a frame allocated for it, one each")


def _boot_frames_freed(frames: FrameAllocator, log: FrameLog) -> int:
    """How many of the window's freed frames boot memory had given (below the buddy range)."""
    limit = np.uint64(frames.buddy_base)
    total = 0
    for pieces in log.freed:
        if pieces.size and int(pieces.max()) < frames.buddy_base:
            total += int(pieces.size)
        elif pieces.size:
            total += int(np.count_nonzero(pieces < limit))
    return total


@dataclass(frozen=True)
class RunFacts:
    """What `_check_run` established about a window: frames freed (and how many boot memory
    had given), and pages kept writable."""

    freed: int
    reserved: int
    boot_freed: int


def _check_run(
    after: np.ndarray, a_view: np.ndarray, before: Snapshot, rules: WindowRules, log: FrameLog, buddy_base: int
) -> RunFacts | None:
    """The same checks as the general case, for the usual window: packed hugepages whose
    vmemmap consecutive PMD leaves mapped, none given back. Page i of the window mapped its
    first frame plus i before, so what was mapped and what must be freed is arithmetic, not
    a spelled-out copy of the tables. None where the window is not such a one, or where
    anything looks wrong (the general case then finds and names it)."""
    base = before.run_base
    rows, v = a_view.shape
    if base is None or rules.keep != rules.count or not a_view.flags.c_contiguous:
        return None
    if not ((before.pmd & FLAGS) == (PRESENT | WRITE | LEAF)).all():
        return None
    start = (a_view.__array_interface__["data"][0] - after.__array_interface__["data"][0]) // after.itemsize
    end = start + rows * v
    outside = np.concatenate([np.arange(start), np.arange(end, after.size)])
    if not np.array_equal(np.concatenate([after[:start], after[end:]]), before.entries(outside)):
        return None
    # Kept pages: on their own frames, but for the reuse page where the kernel copies it.
    first = rules.reserve - 1 if rules.copy_head else rules.reserve  # first page whose frame is freed
    kept_same = a_view[:, :first] == before.entries(start + np.arange(rows)[:, None] * v + np.arange(first))
    if not kept_same.all():
        return None
    low = int(base >> PFN_SHIFT) + start  # the window's first frame
    copies: np.ndarray = np.empty(0, dtype=np.uint64)
    if rules.copy_head:
        reuse_after = a_view[:, first].copy()
        if not ((reuse_after & FLAGS) == (PRESENT | WRITE)).all():
            return None
        copies = reuse_after >> PFN_SHIFT
        from_pfns = np.uint64(low + first) + np.uint64(v) * np.arange(rows, dtype=np.uint64)
        if len(log.copies) != 1 or not (
            np.array_equal(log.copies[0][0], copies) and np.array_equal(log.copies[0][1], from_pfns)
        ):
            return None
        # The copies are the frames allocated for them, from buddy, one each, in order.
        allocated = [a for a in log.allocations if a.purpose == "vmemmap"]
        if len(allocated) != 1 or allocated[0].source != BUDDY or allocated[0].nr_pages != rows:
            return None
        if int(copies[0]) != allocated[0].first or not (np.diff(copies) == 1).all():
            return None
    elif log.copies or log.allocated_pages("vmemmap"):
        return None
    # Freed: exactly the frames of pages `first` to v - 1 of every hugepage, each once.
    freed = [pieces for pieces in log.freed if pieces.size]
    if len(freed) != 1 or freed[0].size != rows * (v - first):
        return None
    pfns = freed[0]
    if first == 0:  # the whole run, in order: its ends and a rise at every step say it exactly
        if int(pfns[0]) != low or int(pfns[-1]) != low + pfns.size - 1 or not (pfns[1:] > pfns[:-1]).all():
            return None
    else:  # the tails' frames, hugepage by hugepage or page by page (the walk's column order)
        grid = np.uint64(low + first) + (np.arange(rows, dtype=np.uint64) * np.uint64(v))[:, None]
        grid = grid + np.arange(v - first, dtype=np.uint64)
        if not (np.array_equal(pfns, grid.reshape(-1)) or np.array_equal(pfns.reshape(v - first, rows), grid.T)):
            return None
    if ((copies >= np.uint64(low)) & (copies < np.uint64(low + rows * v))).any():
        return None  # a copy in a frame of the run
    # Kept pages: those on their own frames were writable leaves' pages; the copies were seen
    # writable. Frames of the run below the buddy range are boot memory's.
    boot = pfns.size if low + rows * v <= buddy_base else int(np.count_nonzero(pfns < np.uint64(buddy_base)))
    return RunFacts(freed=int(pfns.size), reserved=rows * rules.reserve, boot_freed=boot)


def _count_writable(view: np.ndarray) -> int:
    """Pages a pool keeps to itself: mapped writable (tails HVO shares are read-only)."""
    return int(np.count_nonzero((view & (PRESENT | WRITE)) == (PRESENT | WRITE)))


def _check_populated(b_view: np.ndarray, pmd: np.ndarray, per_table: int) -> np.ndarray:
    """Before the remap every vmemmap page had a frame of its own, mapped writable, the
    frames rising with the addresses (as populate hands them out). Returns the frames.

    Where PMD leaves mapped the window, that holds for its pages when it holds for the
    leaves: writable blocks, each starting past the end of the one before."""
    if ((pmd & LEAF) != 0).all():
        if not ((pmd & FLAGS) == (PRESENT | WRITE | LEAF)).all():
            fail("a vmemmap PMD leaf was not mapped writable before HVO")
        if not (np.diff(pmd >> PFN_SHIFT) >= np.uint64(per_table)).all():
            fail("vmemmap PMD leaves overlapped before HVO")
        return b_view >> PFN_SHIFT
    if not ((b_view & FLAGS) == (PRESENT | WRITE)).all():
        fail("a vmemmap page was not mapped writable before HVO")
    pfns = b_view >> PFN_SHIFT
    flat = pfns.reshape(-1)
    if not (flat[1:] > flat[:-1]).all():
        fail("the vmemmap pages did not have frames of their own, in address order, before HVO")
    return pfns


def _check_outside_unchanged(after: np.ndarray, before: Snapshot, a_view: np.ndarray, b_view: np.ndarray) -> None:
    """Entries of the window's tables outside the pool's vmemmap are as they were."""
    rows, pages = a_view.shape
    start = (a_view.__array_interface__["data"][0] - after.__array_interface__["data"][0]) // after.itemsize
    if a_view.strides[0] == pages * after.itemsize:  # packed: the pool is one run of the tables
        end = start + rows * pages
        if not (np.array_equal(after[:start], before.ptes[:start]) and np.array_equal(after[end:], before.ptes[end:])):
            fail("a page-table entry outside the pool's vmemmap changed")
        return
    changed = after != before.ptes
    inside = int(np.count_nonzero(a_view != b_view))
    if int(np.count_nonzero(changed)) != inside:
        fail("a page-table entry outside the pool's vmemmap changed")


def _check_kept(a_view: np.ndarray, b_view: np.ndarray, rules: WindowRules, log: FrameLog) -> None:
    """Kept pages map their own frame, writable; the reuse page, where the kernel copies
    it, a fresh frame holding what the original held."""
    reserve = rules.reserve
    same = reserve - 1 if rules.copy_head else reserve
    if not np.array_equal(a_view[:, :same], b_view[:, :same]):
        fail("a kept vmemmap page no longer maps its original frame")
    if not rules.copy_head:
        return
    reuse_after, reuse_before = a_view[:, reserve - 1].copy(), b_view[:, reserve - 1]
    if not ((reuse_after & FLAGS) == (PRESENT | WRITE)).all():
        fail("a kept vmemmap page is not mapped writable (or has stray flags)")
    if (reuse_after >> PFN_SHIFT == reuse_before >> PFN_SHIFT).any():
        fail("a head page the kernel copies still maps its original frame")


def _check_tails(a_view: np.ndarray, frames: FrameAllocator, rules: WindowRules) -> np.ndarray:
    """Every tail of an optimized hugepage maps its target read-only: the zone's shared
    tail page (7.1+) or the hugepage's reuse page. Returns each hugepage's target pfn."""
    reserve = rules.reserve
    if rules.tail_key is not None:
        if rules.tail_key not in frames.vmemmap_tails:
            fail("tails were remapped but the zone has no shared tail page")
        shared = frames.vmemmap_tails[rules.tail_key]
        targets = np.full(a_view.shape[0], shared, dtype=np.uint64)
        tails_ok = columns_equal(a_view, reserve, mk_entry(shared, PRESENT))
    else:
        targets = a_view[:, reserve - 1] >> PFN_SHIFT
        tails_ok = rows_repeat(a_view, reserve, mk_entry(targets, PRESENT))
    if not tails_ok:
        _explain_tails(a_view[:, reserve:], targets)
    return targets


def columns_equal(view: np.ndarray, first: int, value: np.ndarray) -> bool:
    """Whether every entry from column `first` on is `value`: for a contiguous block, one
    pass over it, each row's results read as 8-byte words against a mask of the columns
    that count (rows of 2M hugepages are 8 entries, too short to compare row by row)."""
    rows, cols = view.shape
    if not view.flags.c_contiguous or cols % 8:
        return bool((view[:, first:] == value).all())
    return _all_from_column(np.equal(view.reshape(-1), value), cols, first)


def _all_from_column(same: np.ndarray, cols: int, first: int) -> bool:
    """Whether `same` (one bool per entry of rows of `cols`, cols a multiple of 8) holds in
    every row from column `first` on: each row's bytes read as 8-byte words against a mask."""
    must = np.zeros(cols, dtype=bool)
    must[first:] = True
    words = must.view(np.uint64)
    return bool(((same.view(np.uint64).reshape(-1, cols // 8) & words) == words).all())


def rows_repeat(view: np.ndarray, first: int, row_entries: np.ndarray) -> bool:
    """Whether every entry of row k from column `first` on is row_entries[k].

    Rows of 2M hugepages are 8 entries, too short for numpy to compare row by row
    quickly. A contiguous block is compared in one pass instead: column `first` with
    row_entries, every later entry with its left neighbour, and each row's results
    (one byte per entry) read as 8-byte words against a mask of the columns that count.
    """
    rows, cols = view.shape
    if not view.size:
        return True
    if not view.flags.c_contiguous or cols % 8:
        return bool((view[:, first:] == row_entries[:, None]).all())
    if not np.array_equal(view[:, first], row_entries):
        return False
    flat = view.reshape(-1)
    same = np.empty(flat.size, dtype=bool)
    same[0] = True
    np.equal(flat[1:], flat[:-1], out=same[1:])
    return _all_from_column(same, cols, first + 1)


def _explain_tails(tails: np.ndarray, targets: np.ndarray) -> None:
    if not (tails & PRESENT).all():
        fail("struct pages no longer translate: a tail vmemmap PTE is empty")
    if ((tails & WRITE) != 0).any():
        fail("a tail vmemmap page is writable: HVO maps tails read-only")
    if ((tails >> PFN_SHIFT) != targets[:, None]).any():
        fail("a tail vmemmap page does not map the page the kernel points tails at")
    fail("a tail vmemmap PTE has stray flags")


def _check_restored(a_view: np.ndarray, rules: WindowRules, log: FrameLog) -> int:
    """A hugepage given back maps every tail to a frame of its own again: freshly
    allocated, writable, each used once. Returns how many frames that took."""
    if not a_view.size:
        return 0
    tails = a_view[:, rules.reserve :]
    if not ((tails & FLAGS) == (PRESENT | WRITE)).all():
        fail("a restored hugepage's tails are not present and writable")
    pfns = np.ascontiguousarray(tails >> PFN_SHIFT).reshape(-1)
    fresh = [a for a in log.allocations if a.purpose == "vmemmap"]
    lowest = min((a.first for a in fresh), default=0)
    highest = max((a.first + a.nr_pages for a in fresh), default=0)
    if pfns.min() < lowest or pfns.max() >= highest:
        fail("a restored tail maps a frame that was not allocated for it")
    if np.unique(pfns).size != pfns.size:
        fail("restored tails share a frame: each needs its own")
    return int(pfns.size)


def _check_copies(
    a_view: np.ndarray, b_view: np.ndarray, frames: FrameAllocator, rules: WindowRules, log: FrameLog
) -> None:
    """Each copy made holds what the kernel copies: a head copy its original head page,
    a restored tail the page that tail mapped (the reuse page or the shared tail page)."""
    reserve = rules.reserve
    restored = a_view[rules.keep :]
    if rules.copy_head and not restored.size and len(log.copies) == 1:  # the usual case, in the usual order
        to, source = log.copies[0]
        if np.array_equal(to, a_view[:, reserve - 1] >> PFN_SHIFT) and np.array_equal(
            source, b_view[:, reserve - 1] >> PFN_SHIFT
        ):
            return
    expected = []
    if rules.copy_head:
        expected.append(pairs(a_view[:, reserve - 1] >> PFN_SHIFT, b_view[:, reserve - 1] >> PFN_SHIFT))
    if restored.size:
        if rules.tail_key is not None:
            sources = np.full(restored.shape[0], frames.vmemmap_tails[rules.tail_key], dtype=np.uint64)
        else:
            sources = restored[:, reserve - 1] >> PFN_SHIFT
        tails = restored[:, reserve:] >> PFN_SHIFT
        expected.append(pairs(tails, np.broadcast_to(sources[:, None], tails.shape)))
    if fingerprint(expected) != fingerprint([pairs(to, source) for to, source in log.copies]):
        fail("a copied vmemmap page does not hold what the kernel copies into it")


def _same_in_some_order(freed: list[np.ndarray], unmapped: np.ndarray, flat: np.ndarray) -> bool:
    """Whether the frames freed are `unmapped` in row or column order (an exact shortcut;
    any other order is checked frame by frame)."""
    if len(freed) != 1:
        return False
    return np.array_equal(freed[0], flat) or np.array_equal(freed[0], unmapped.T.reshape(-1))


def _check_freed(b_pfns: np.ndarray, a_view: np.ndarray, rules: WindowRules, log: FrameLog) -> int:
    """The frames freed are exactly those that stopped being mapped, each once: every
    tail's original frame, and the original head where the kernel copies it. Nothing
    mapped now is among them."""
    first = rules.reserve - 1 if rules.copy_head else rules.reserve
    unmapped = b_pfns[:, first:]
    freed = [pieces for pieces in log.freed if pieces.size]
    nr_freed = sum(int(p.size) for p in freed)
    if nr_freed != unmapped.size:
        fail(f"{nr_freed} frames were freed where {unmapped.size} stopped being mapped")
    if not unmapped.size:
        return 0
    flat = np.ascontiguousarray(unmapped).reshape(-1)
    if not _same_in_some_order(freed, unmapped, flat):
        low, high = int(flat[0]), int(flat[-1])  # `flat` rises: _check_populated
        marked = np.zeros(high - low + 1, dtype=bool)
        for pieces in freed:
            if int(pieces.min()) < low or int(pieces.max()) > high:
                fail("a frame was freed that no tail or copied head had mapped")
            marked[(pieces - np.uint64(low)).view(np.int64)] = True
        if int(np.count_nonzero(marked)) != nr_freed:
            fail("a frame was freed twice (and another never)")
        if not marked[(flat - np.uint64(low)).view(np.int64)].all():
            fail("a frame that stopped being mapped was never freed (and another freed in its place)")
    # Frames mapped now that were not before (head copies, restored tails) must lie
    # outside `unmapped`; kept pages still map their own frames (checked), which differ
    # from every tail's.
    new = [(a_view[:, rules.reserve - 1] >> PFN_SHIFT).reshape(-1)] if rules.copy_head else []
    new.append((a_view[rules.keep :, rules.reserve :] >> PFN_SHIFT).reshape(-1))
    mapped = np.concatenate(new)
    if mapped.size and not (int(mapped.min()) > int(flat[-1]) or int(mapped.max()) < int(flat[0])):
        at = np.minimum(np.searchsorted(flat, mapped), flat.size - 1)
        if (flat[at] == mapped).any():
            fail("a freed vmemmap frame is still mapped")
    return int(unmapped.size)
