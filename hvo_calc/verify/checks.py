"""The verifier's checks of one window: the tails, the kept pages, the copies, the frames
freed and the frames newly mapped, held against the window's rules (the general path;
`fast` does the same for the usual window by arithmetic)."""

from functools import lru_cache

import numpy as np

from hvo_calc.frames import BOOT, BUDDY, FrameAllocator, FrameLog
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable, mk_entry, pattern_rows
from hvo_calc.record import frozen
from hvo_calc.rules import WindowRules
from hvo_calc.verify.claims import Observed
from hvo_calc.verify.fast import RunFacts, run_facts
from hvo_calc.verify.ledger import ledger
from hvo_calc.verify.walk import FLAGS, Snapshot, cover_view, fail, pool_view, walk_entries


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
        return np.asarray(mix(to_pfns.reshape(-1)) ^ from_pfns.reshape(-1))


def verify_window(pt: PageTable, frames: FrameAllocator, rules: WindowRules, before: Snapshot) -> Observed:
    """Hold the window's page tables and the allocator's log against the rules."""
    log = frames.clear_log()
    ledger(frames).take(log.allocations)  # no frame handed out twice, in the window or before it
    pmd_after, after = walk_entries(pt, before.keys, copy=False)
    if not rules.optimized:
        return _verify_unchanged(pt, rules, before, after)
    a_view = pool_view(after, before.keys, pt, rules, rules.vmemmap_pages)
    state = WindowState(pt, frames, rules, before, log, after, a_view)
    facts = window_facts(state)
    fresh = facts.restored
    split = _check_pmd_tables(pt, before, pmd_after, rules, log)
    tail_allocated = _check_tail_page(log, rules, before)
    copies = rules.count if rules.copy_head else 0
    if log.allocated_pages("vmemmap") != copies + fresh:
        fail(
            f"{log.allocated_pages('vmemmap')} vmemmap pages were allocated for {copies} head copies "
            f"and {fresh} restored tails"
        )
    return Observed(
        reserved_pages=facts.reserved,
        freed_pages=facts.freed,
        split_tables=split,
        vmemmap_allocated=copies + fresh,
        tail_pages_allocated=tail_allocated,
        boot_pages_freed=facts.boot_freed,
        boot_pages_allocated=sum(a.nr_pages for a in log.allocations if a.source == BOOT),
        cover_pages=rules.cover_pages,  # every one seen present (the tails' and kept pages' checks)
        remapped_hugepages=rules.count,  # each seen optimized or restored
    )


@frozen
class WindowState:
    """What the verifier holds of a window once the engine is done with it."""

    pt: PageTable
    frames: FrameAllocator
    rules: WindowRules
    before: Snapshot
    log: FrameLog
    after: np.ndarray  # every page's entry now, flat
    a_view: np.ndarray  # (hugepages, pages) view of it


def window_facts(state: WindowState) -> RunFacts:
    """Frames freed and pages kept, by the arithmetic path where the window is the usual
    one, by the general path otherwise (or where the arithmetic path saw anything amiss)."""
    fast = run_facts(state.after, state.a_view, state.before, state.rules, state.log, state.frames.buddy_base)
    return fast if fast is not None and _tails_on_zone_page(state) else general_facts(state)


def _tails_on_zone_page(state: WindowState) -> bool:
    """7.1+: the page the arithmetic path saw every tail map is the zone's shared tail page."""
    rules, a_view, tails = state.rules, state.a_view, state.frames.vmemmap_tails
    if rules.tail_key is None or a_view.shape[1] <= rules.reserve:
        return True
    return rules.tail_key in tails and int(a_view[0, rules.reserve]) == int(mk_entry(tails[rules.tail_key], PRESENT))


def general_facts(state: WindowState) -> RunFacts:
    """The general case: the tails and the restored hugepages, then every page's entry
    before, spelled out, held against every page's now."""
    pt, rules, before, log, a_view = state.pt, state.rules, state.before, state.log, state.a_view
    _check_tails(a_view[: rules.keep], state.frames, rules)
    restored = _check_restored(a_view[rules.keep :], rules, log)
    b_view = pool_view(before.ptes, before.keys, pt, rules, rules.vmemmap_pages)
    b_pfns = _check_populated(b_view, before.pmd, pt.entries_per_table)
    _check_outside_unchanged(state.after, before, a_view, b_view)
    _check_kept(a_view, b_view, rules, log)
    _check_copies(a_view, b_view, state.frames, rules, log)
    freed = _check_freed(b_pfns, a_view, rules, log)
    _check_new_frames(a_view, rules, log)
    # Tails of optimized hugepages were seen read-only; what else is writable is kept.
    reserve = rules.reserve
    reserved = _count_writable(a_view[:, :reserve]) + _count_writable(a_view[rules.keep :, reserve:])
    boot_freed = _boot_frames_freed(state.frames, log)
    return RunFacts(freed=freed, reserved=reserved, boot_freed=boot_freed, restored=restored)


def _verify_unchanged(pt: PageTable, rules: WindowRules, before: Snapshot, after: np.ndarray) -> Observed:
    """A pool HVO does not act on: its vmemmap as populated, every page translating."""
    if not np.array_equal(after, before.ptes):
        fail("a pool without HVO had its vmemmap changed")
    cover = cover_view(after, before.keys, pt, rules)
    if not (cover & PRESENT).all():
        fail("struct pages no longer translate: a vmemmap PTE is empty")
    return Observed(reserved_pages=_count_writable(cover), cover_pages=int(cover.size))


def _check_tail_page(log: FrameLog, rules: WindowRules, before: Snapshot) -> int:
    """7.1+: the zone's shared tail page is allocated once, by the first window that needs
    it, from the memory the era takes it from. Returns how many were allocated (0 or 1)."""
    tail_allocated = log.allocated_pages("vmemmap_tail")
    needed = 1 if rules.tail_key and not before.had_tail else 0
    if tail_allocated != needed:
        fail(f"{tail_allocated} shared tail pages were allocated in a window that needed {needed}")
    if tail_allocated and log.allocated_pages("vmemmap_tail", BOOT if rules.preoptimized else BUDDY) != 1:
        fail("the shared tail page came from the wrong memory (boot memory only for boot pages)")
    return tail_allocated


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
    if not _same_frames(pmd_after[split] >> PFN_SHIFT, tables_allocated):
        fail(f"{tables_allocated.size} page-table pages were allocated for {int(split.sum())} PMD splits, one each")
    if log.allocated_pages("pagetable", BOOT if rules.preoptimized else BUDDY) != tables_allocated.size:
        fail("split page tables came from the wrong memory (boot memory only for boot pages)")
    return int(split.sum())


def _same_frames(pfns: np.ndarray, other: np.ndarray) -> bool:
    """Whether two arrays hold the same frames, each as often (in the same order: no sort)."""
    return np.array_equal(pfns, other) or np.array_equal(np.sort(pfns), np.sort(other))


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
            total += int(np.count_nonzero(np.asarray(pieces) < limit))
    return total


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
    pass over it a chunk of rows at a time, each row's results read as 8-byte words against
    a mask of the columns that count (rows of 2M hugepages are 8 entries, too short to
    compare row by row)."""
    rows, cols = view.shape
    if not view.flags.c_contiguous or cols % 8:
        return bool((view[:, first:] == value).all())
    flat = view.reshape(-1)
    scratch = np.empty(min(flat.size, pattern_rows(cols) * cols), dtype=bool)
    for start, end in _row_chunks(rows, cols):
        same = np.equal(flat[start * cols : end * cols], value, out=scratch[: (end - start) * cols])
        if not _all_from_column(same, cols, first):
            return False
    return True


def _row_chunks(rows: int, cols: int) -> list[tuple[int, int]]:
    """Rows [start, end) of a block, as many at a time as stay in the core's cache."""
    chunk = pattern_rows(cols)
    return [(start, min(rows, start + chunk)) for start in range(0, rows, chunk)]


def _all_from_column(same: np.ndarray, cols: int, first: int) -> bool:
    """Whether `same` (one bool per entry of rows of `cols`, cols a multiple of 8) holds in
    every row from column `first` on: each row's bytes read as 8-byte words against a mask."""
    words = _column_mask(cols, first)
    return bool(((same.view(np.uint64).reshape(-1, cols // 8) & words) == words).all())


@lru_cache(maxsize=16)
def _column_mask(cols: int, first: int) -> np.ndarray:
    """The columns from `first` on of a row of `cols` bools, as 8-byte words (read-only)."""
    must = np.zeros(cols, dtype=bool)
    must[first:] = True
    words = must.view(np.uint64)
    words.setflags(write=False)
    return words


def rows_repeat(view: np.ndarray, first: int, row_entries: np.ndarray) -> bool:
    """Whether every entry of row k from column `first` on is row_entries[k].

    Rows of 2M hugepages are 8 entries, too short for numpy to compare row by row
    quickly. A contiguous block is compared in one pass instead, a chunk of rows at a
    time: column `first` with row_entries, every later entry with its left neighbour, and
    each row's results (one byte per entry) read as 8-byte words against a mask of the
    columns that count.
    """
    rows, cols = view.shape
    if not view.size:
        return True
    if not view.flags.c_contiguous or cols % 8:
        return bool((view[:, first:] == row_entries[:, None]).all())
    flat = view.reshape(-1)
    scratch = np.empty(min(flat.size, pattern_rows(cols) * cols), dtype=bool)
    for start, end in _row_chunks(rows, cols):
        if not np.array_equal(view[start:end, first], row_entries[start:end]):
            return False
        block = flat[start * cols : end * cols]
        same = scratch[: block.size]
        same[0] = True  # column 0: never among the columns that count
        np.equal(block[1:], block[:-1], out=same[1:])
        if not _all_from_column(same, cols, first + 1):
            return False
    return True


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
    made = [pairs(np.asarray(to), np.asarray(source)) for to, source in log.copies]
    if fingerprint(expected) != fingerprint(made):
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
    freed = [np.asarray(pieces) for pieces in log.freed if pieces.size]
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
