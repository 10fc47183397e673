"""The verifier's own view of the page tables: its walker (from the top-level table down,
following each entry to its table, sharing no code with the engine's walk) and the
snapshot of a window taken before the remap."""

from typing import NoReturn

import numpy as np

from hvo_calc.errors import VerificationError
from hvo_calc.frames import BUDDY, FrameAllocator
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, PageTable
from hvo_calc.record import mutable
from hvo_calc.rules import WindowRules
from hvo_calc.verify.ledger import ledger

FLAGS = np.uint64((1 << int(PFN_SHIFT)) - 1)


@mutable
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
            return np.asarray(self.ptes[positions])
        return self.run_base + (positions.astype(np.uint64) << PFN_SHIFT)


def fail(message: str) -> NoReturn:
    raise VerificationError(message)


def window_keys(pt: PageTable, rules: WindowRules) -> np.ndarray:
    """The PMD blocks the window's struct pages lie in, sorted and unique."""
    page = 1 << pt.page_shift
    if rules.stride * rules.count <= rules.cover_pages * page:  # packed: one span
        first = rules.cover_start >> pt.pmd_shift
        last = (rules.cover_start + rules.cover_pages * page - 1) >> pt.pmd_shift
        return np.arange(first, last + 1, dtype=np.uint64)
    starts = rules.head_vaddr + rules.stride * np.arange(rules.count, dtype=np.uint64)
    span = rules.cover_pages // rules.count * page
    firsts, lasts = starts >> np.uint64(pt.pmd_shift), (starts + np.uint64(span - 1)) >> np.uint64(pt.pmd_shift)
    return np.unique(np.concatenate([firsts, lasts]))


def walk_pmd(pt: PageTable, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The PMD entry of each block, and the row of the PTE table it points at, read by
    descending the tables from the top."""
    entry, child, _, _ = walk_to_pmd(pt, keys)
    return entry, child


def walk_to_pmd(pt: PageTable, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """walk_pmd, and where each block's PMD entry is: its table's row and its index there.

    Blocks (sorted) under one PMD table share every entry above it, so the levels above
    are descended once per PMD table, by the first block under it."""
    firsts, table_of_key = _tables_under(keys, pt.tables["pmd"].entries_per_table.bit_length() - 1)
    row = _descend(pt, firsts << np.uint64(pt.pmd_shift))[table_of_key]
    store = pt.tables["pmd"]
    idx = (keys & np.uint64(store.entries_per_table - 1)).astype(np.int64)
    entry = store.entries[row, idx]
    if not (entry & PRESENT).all():
        fail("struct pages no longer translate: a pmd entry over the vmemmap is empty")
    return entry, store.child[row, idx], row, idx


def _tables_under(keys: np.ndarray, pmd_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """A block under each PMD table the sorted blocks lie under, and which of those tables
    each block is under (consecutive blocks: by arithmetic on their numbers). Alike on
    purpose to `pagetable.pmd_tables_of`: the verifier's walker shares no code with the
    engine's."""
    bits = np.uint64(pmd_bits)
    tables = keys >> bits
    if len(keys) and int(keys[-1] - keys[0]) + 1 == len(keys):
        first = int(tables[0])
        return np.arange(first, int(tables[-1]) + 1, dtype=np.uint64) << bits, (tables - np.uint64(first)).astype(
            np.int64
        )
    new_table = np.ones(len(keys), dtype=bool)
    np.not_equal(tables[1:], tables[:-1], out=new_table[1:])
    return keys[new_table], np.cumsum(new_table) - 1


def _descend(pt: PageTable, vaddrs: np.ndarray) -> np.ndarray:
    """The row of the PMD table under each address, from the top-level table down."""
    row = np.zeros(len(vaddrs), dtype=np.int64)
    for level in pt.upper_levels[:-1]:
        store = pt.tables[level]
        mask = np.uint64(store.entries_per_table - 1)
        idx = ((vaddrs >> np.uint64(pt.shift[level])) & mask).astype(np.int64)
        if not (store.entries[row, idx] & PRESENT).all():
            fail(f"struct pages no longer translate: a {level} entry over the vmemmap is empty")
        row = store.child[row, idx]
        if (row < 0).any():
            fail(f"a {level} entry points at no table")
    return row


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
    Where PMD leaves map all of it, the pages are left to arithmetic on the leaves. The
    frames populate handed out join the ledger; the vmemmap is populated from boot memory."""
    populated = frames.clear_log()
    ledger(frames).take(populated.allocations)
    if populated.allocated_pages("vmemmap", BUDDY):
        fail("the vmemmap was populated from the buddy allocator, not boot memory (memblock)")
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
            return np.asarray(flat[pos[:, None] + np.arange(pages)])
    if pos[0] < 0 or pos[-1] + pages > flat.size:
        fail("the pool's vmemmap pages do not lie where their addresses say")
    return np.lib.stride_tricks.as_strided(
        flat[int(pos[0]) :], shape=(rules.count, pages), strides=(step * flat.itemsize, flat.itemsize)
    )


def cover_view(flat: np.ndarray, keys: np.ndarray, pt: PageTable, rules: WindowRules) -> np.ndarray:
    """Every vmemmap page holding the window's struct pages (hugepages may share one)."""
    page = 1 << pt.page_shift
    if rules.stride * rules.count <= rules.cover_pages * page:  # packed: one run
        first = (rules.cover_start - (int(keys[0]) << pt.pmd_shift)) // page
        return flat[first : first + rules.cover_pages]
    return pool_view(flat, keys, pt, rules, rules.cover_pages // rules.count)
