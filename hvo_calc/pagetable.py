"""A radix page table for the vmemmap, stored as whole numpy tables.

Levels, table size and shifts come from the architecture profile. Each level keeps its
tables as rows of one 2-D `uint64` array, so a walk reads and writes whole tables (or
views across consecutive tables) at once instead of a Python object per entry.

Entries are 8 bytes: the frame number above bit 12, flags below it:

    PRESENT  the entry maps something (pte_none / pmd_none is "entry == 0")
    WRITE    writable (the tails HVO remaps are read-only, PAGE_KERNEL_RO)
    LEAF     a PMD that maps a whole block (pmd_leaf) instead of a PTE table

A table-pointer entry holds the table's own frame. The model follows it through a
parallel `child` array (its row), as the kernel follows it through the direct map.

Upper levels (pgd .. pmd) live for the whole run; the PTE tables can be retired once a
window of the vmemmap has been remapped and verified, which keeps memory flat for any
pool size (see `retire_ptes`).
"""

from functools import lru_cache

import numpy as np

from hvo_calc.errors import VerificationError, WalkError
from hvo_calc.frames import BOOT, BUDDY, FrameAllocator, Frames
from hvo_calc.profiles import ArchProfile
from hvo_calc.record import frozen

PRESENT = np.uint64(1 << 0)
WRITE = np.uint64(1 << 1)
LEAF = np.uint64(1 << 7)
PFN_SHIFT = np.uint64(12)
RETIRED = -2  # child row of a PMD whose PTE table was verified and let go


SHORT_ROW = 32  # below this many PTEs a range, numpy loops per column, not per range
# Whole-window passes are done a chunk at a time where a chunk's pattern and its result
# stay in the core's cache: one pass over memory instead of one per operand. 1 MiB chunks
# measured fastest (benchmarks/bench_engine.py; 256 KiB ones paid numpy's per-call cost
# 4 times as often, 2 MiB ones no longer stayed in cache).
CHUNK_ENTRIES = 1 << 17


def mk_entry(pfns: Frames | int, flags: np.uint64) -> np.ndarray:
    """An entry mapping `pfns` with `flags` (mk_pte / pfn_pmd)."""
    entries = np.asarray(pfns, dtype=np.uint64) << PFN_SHIFT
    entries |= flags
    return entries


def entry_pfn(entries: np.ndarray) -> np.ndarray:
    return entries >> PFN_SHIFT


class TableStore:
    """The tables of one level: a growable 2-D array, one row per table."""

    def __init__(self, entries_per_table: int, with_children: bool):
        self.entries_per_table = entries_per_table
        self.entries = np.zeros((8, entries_per_table), dtype=np.uint64)
        # Upper levels follow each entry to its table's row; PTE tables have no children.
        self.with_children = with_children
        self.child = np.full((8 if with_children else 0, entries_per_table), -1, dtype=np.int64)
        self.pfn = np.zeros(8, dtype=np.uint64)
        self.nr_tables = 0

    def add(self, pfns: np.ndarray, empty: bool = True) -> np.ndarray:
        """Rows for new tables living in frames `pfns`: empty, or (`empty=False`) left
        for the caller to fill at once, which saves clearing rows about to be overwritten."""
        first, count = self.nr_tables, len(pfns)
        if first + count > len(self.pfn):
            self._grow(first + count)
        if empty:
            self.entries[first : first + count] = 0
        self.pfn[first : first + count] = pfns
        self.nr_tables += count
        return np.arange(first, first + count, dtype=np.int64)

    def _grow(self, needed: int) -> None:
        size = max(needed, 2 * len(self.pfn))
        grow = size - len(self.pfn)
        # Rows past nr_tables are never read: `add` clears or the caller fills each row it hands out.
        entries = np.empty((size, self.entries_per_table), np.uint64)
        entries[: len(self.pfn)] = self.entries
        self.entries = entries
        if self.with_children:
            self.child = np.concatenate([self.child, np.full((grow, self.entries_per_table), -1, np.int64)])
        self.pfn = np.concatenate([self.pfn, np.zeros(grow, np.uint64)])

    def reset(self) -> None:
        """Forget every table but keep the storage for the next window (`add` clears
        or overwrites the rows it hands out again)."""
        self.nr_tables = 0


@frozen
class PmdSlots:
    """The PMD entries covering a sorted run of PMD-sized vmemmap blocks."""

    keys: np.ndarray  # vaddr >> PMD_SHIFT, sorted, unique
    rows: np.ndarray  # PMD table row of each
    index: np.ndarray  # entry index within that table
    # Where the entries are one run of the PMD store's rows read flat (consecutive blocks
    # in consecutive tables, as a window's usually are): that run, read and written as a slice.
    flat: slice | None = None


class PageTable:
    """The vmemmap part of the kernel page table (init_mm), levels from the profile."""

    def __init__(self, profile: ArchProfile, frames: FrameAllocator):
        self.profile = profile
        self.frames = frames
        self.entries_per_table = profile.entries_per_table  # of a PTE table (PTRS_PER_PTE)
        self.level_entries: dict[str, int] = {level: profile.entries(level) for level in profile.levels}
        self.upper_levels = profile.levels[:-1]
        self.shift: dict[str, int] = {level: profile.level_shift(level) for level in profile.levels}
        self.pmd_shift = self.shift["pmd"]
        self.page_shift = profile.page_shift
        self.tables = {level: TableStore(self.level_entries[level], True) for level in self.upper_levels}
        # The PTE that maps page i of a split block differs from its leaf by i pages.
        self.block_offsets = np.arange(self.entries_per_table, dtype=np.uint64) << PFN_SHIFT
        self.pte = TableStore(self.entries_per_table, False)
        pgd_pfn = frames.alloc(1, "pagetable", BOOT)
        self.tables[self.upper_levels[0]].add(np.array([pgd_pfn], np.uint64))

    # -- addresses -------------------------------------------------------------------

    def index(self, level: str, vaddrs: np.ndarray) -> np.ndarray:
        """pgd_index, pud_index, pmd_index, pte_index ... of each address."""
        shift = np.uint64(self.shift[level])
        return ((vaddrs >> shift) & np.uint64(self.level_entries[level] - 1)).astype(np.int64)

    def pmd_keys(self, vstart: int, vend: int) -> np.ndarray:
        """The PMD blocks [vstart, vend) touches, as vaddr >> PMD_SHIFT."""
        first, last = vstart >> self.pmd_shift, (vend - 1) >> self.pmd_shift
        return np.arange(first, last + 1, dtype=np.uint64)

    @staticmethod
    def key_rank(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """Position of each wanted PMD block in the sorted `keys` (cheap when consecutive)."""
        if int(keys[-1] - keys[0]) + 1 == len(keys):
            return np.asarray(wanted - keys[0]).astype(np.int64)
        return np.searchsorted(keys, wanted).astype(np.int64)

    # -- descending to the PMD level --------------------------------------------------

    def pmd_slots(self, keys: np.ndarray, create: bool) -> PmdSlots:
        """Walk pgd → .. → pud to the PMD entry of each block; with `create`, fill missing tables.

        Blocks under one PMD table share every entry above it, so the descent runs once
        per PMD table (the first block of each run of sorted `keys` stands for the run).
        Without `create` a missing entry is the walk's BUG_ON(pXd_none) and a WalkError.
        """
        table_keys, table_of_key = pmd_tables_of(keys, self.level_entries["pmd"].bit_length() - 1)
        vaddrs = table_keys << np.uint64(self.pmd_shift)
        rows = np.zeros(len(vaddrs), dtype=np.int64)
        for level, child_level in zip(self.upper_levels, self.upper_levels[1:]):
            store, idx = self.tables[level], self.index(level, vaddrs)
            missing = store.entries[rows, idx] == 0
            if missing.any():
                if not create:
                    addr = int(vaddrs[np.argmax(missing)])
                    raise WalkError(f"BUG_ON({level}_none): no {level} entry maps vmemmap address {addr:#x}")
                self._add_tables(store, self.tables[child_level], rows[missing], idx[missing], BOOT)
            rows = store.child[rows, idx]
        index = (keys & np.uint64(self.level_entries["pmd"] - 1)).astype(np.int64)
        return PmdSlots(keys, rows[table_of_key], index, self._flat_run(keys, rows, index))

    def _flat_run(self, keys: np.ndarray, table_rows: np.ndarray, index: np.ndarray) -> slice | None:
        """The slots as a slice of the PMD store read flat, where consecutive blocks lie in
        consecutive tables (each table's row one past the one before), else None."""
        if not len(keys) or int(keys[-1] - keys[0]) + 1 != len(keys):
            return None
        if len(table_rows) > 1 and not (np.diff(table_rows) == 1).all():
            return None
        first = int(table_rows[0]) * self.level_entries["pmd"] + int(index[0])
        return slice(first, first + len(keys))

    def _add_tables(
        self, parent: TableStore, child: TableStore, rows: np.ndarray, idx: np.ndarray, source: str, empty: bool = True
    ) -> np.ndarray:
        """New child tables under parent entries (rows, idx), in the order first given."""
        per_table = parent.entries_per_table
        slot = rows * per_table + idx
        if not (slot[1:] > slot[:-1]).all():  # repeats: keep each parent entry once, in order
            slot, first_seen = np.unique(slot, return_index=True)
            slot = slot[np.argsort(first_seen)]
        rows, idx = slot // per_table, slot % per_table
        first = self.frames.alloc(len(slot), "pagetable", source)
        pfns = np.arange(first, first + len(slot), dtype=np.uint64)
        child_rows = child.add(pfns, empty)
        parent.entries[rows, idx] = mk_entry(pfns, PRESENT | WRITE)
        parent.child[rows, idx] = child_rows
        return child_rows

    def pmd_entries(self, slots: PmdSlots) -> np.ndarray:
        return _gather(self.tables["pmd"].entries, slots)

    def pte_rows(self, slots: PmdSlots) -> np.ndarray:
        return _gather(self.tables["pmd"].child, slots)

    # -- populating (vmemmap_populate) ------------------------------------------------

    def populate_pmd_leaves(self, ranges: "Ranges") -> PmdSlots:
        """Map each PMD block the ranges touch with a leaf over fresh contiguous frames."""
        slots = self.pmd_slots(range_keys(self, ranges), create=True)
        fresh = self.pmd_entries(slots) == 0
        per_block = self.entries_per_table
        first = self.frames.alloc(int(fresh.sum()) * per_block, "vmemmap", BOOT, align=per_block)
        pfns = first + per_block * np.arange(int(fresh.sum()), dtype=np.uint64)
        _scatter(self.tables["pmd"].entries, slots, fresh, mk_entry(pfns, PRESENT | WRITE | LEAF))
        return slots

    def populate_basepages(self, ranges: "Ranges") -> PmdSlots:
        """Map the vmemmap pages of `ranges` with PTEs over freshly allocated frames.

        PTE tables are created in address order, so a window's tables are consecutive rows.
        """
        slots = self.pmd_slots(range_keys(self, ranges), create=True)
        missing = self.pmd_entries(slots) == 0
        if missing.any():
            self._add_tables(self.tables["pmd"], self.pte, slots.rows[missing], slots.index[missing], BOOT)
        view = range_view(self, slots, ranges)
        if view.any():
            raise VerificationError("populating vmemmap pages that are already mapped")
        pfns = self.frames.alloc_array(view.size, "vmemmap", BOOT)
        view[:] = mk_entry(pfns.reshape(view.shape), PRESENT | WRITE)
        return slots

    # -- the PTE tables of a window ---------------------------------------------------

    def pte_flat(self, slots: PmdSlots) -> np.ndarray:
        """The PTE tables under `slots` as one flat view, in key order.

        Requires the tables to sit in consecutive rows (the model creates them in key
        order within a window); anything else is a bug in the model.
        """
        rows = self.pte_rows(slots)
        if len(rows) and (rows[0] < 0 or np.any(np.diff(rows) != 1)):
            raise VerificationError("the window's PTE tables are not consecutive rows")
        first = int(rows[0]) if len(rows) else 0
        return self.pte.entries[first : first + len(rows)].reshape(-1)

    def blocks_in_one_run(self, entries: np.ndarray) -> bool:
        """Whether PMD entries (or their blocks' first PTEs) map one run of frames, each block
        on from the one before: what their split tables then map is one run too."""
        # Both operands uint64: numpy 1.x has a Python int << np.uint64 come out as float64 (TypeError).
        return bool((entries[1:] - entries[:-1] == np.uint64(self.entries_per_table) << PFN_SHIFT).all())

    def split_pmd(self, slots: PmdSlots, leaves: np.ndarray, source: str = BUDDY) -> int:
        """vmemmap_split_pmd: replace PMD leaves by PTE tables mapping the same frames.

        Each split costs one page-table frame (from buddy; from boot memory where boot
        pages are optimized before they are populated); it is never undone.
        """
        if not leaves.any():
            return 0
        pmd = self.tables["pmd"]
        rows, idx = slots.rows[leaves], slots.index[leaves]
        first_ptes = pmd.entries[rows, idx] & ~LEAF  # the PTE for the block's first page
        child_rows = self._add_tables(pmd, self.pte, rows, idx, source, empty=False)
        first = int(child_rows[0])
        if int(child_rows[-1]) - first + 1 != len(child_rows):
            raise VerificationError("split PTE tables are not consecutive rows")
        tables = self.pte.entries[first : first + len(child_rows)]
        if self.blocks_in_one_run(first_ptes):
            # Blocks populated together map consecutive frames: the tables are one run.
            page = 1 << int(PFN_SHIFT)
            pattern = row_pattern(1, page, (0,))
            fill_pattern(tables.reshape(-1), pattern, int(first_ptes[0]), pattern.size * page)
        else:
            np.add(first_ptes[:, None], self.block_offsets, out=tables)
        return len(child_rows)

    def retire_ptes(self, slots: PmdSlots) -> None:
        """Let go of a verified window's PTE tables, keeping the PMD entries.

        The PMD entries still hold the tables' frames; later windows never touch these
        blocks, and touching one is an error.
        """
        has_table = self.pte_rows(slots) >= 0
        _scatter(self.tables["pmd"].child, slots, has_table, np.int64(RETIRED))
        self.pte.reset()


def pmd_tables_of(keys: np.ndarray, pmd_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The first block under each PMD table the sorted blocks `keys` lie under, and for each
    block the position of its table among them. Consecutive blocks: plain arithmetic."""
    bits = np.uint64(pmd_bits)
    if len(keys) and int(keys[-1] - keys[0]) + 1 == len(keys):
        first_table, last_table = int(keys[0]) >> pmd_bits, int(keys[-1]) >> pmd_bits
        tables = np.arange(first_table, last_table + 1, dtype=np.uint64) << bits
        tables[0] = keys[0]
        return tables, ((keys >> bits) - np.uint64(first_table)).astype(np.int64)
    new_table = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:] >> bits, keys[:-1] >> bits, out=new_table[1:])
    return keys[new_table], np.cumsum(new_table) - 1


def _gather(table: np.ndarray, slots: PmdSlots) -> np.ndarray:
    """The slots' entries of a PMD-level array (entries or children), as a new array."""
    if slots.flat is not None and table.flags.c_contiguous:
        return table.reshape(-1)[slots.flat].copy()
    return np.asarray(table[slots.rows, slots.index])


def _scatter(table: np.ndarray, slots: PmdSlots, where: np.ndarray, values: np.ndarray | np.int64) -> None:
    """Write `values` to the slots of a PMD-level array where `where` holds."""
    if slots.flat is not None and table.flags.c_contiguous and where.all():
        table.reshape(-1)[slots.flat] = values  # a view: contiguous storage
        return
    table[slots.rows[where], slots.index[where]] = values


@frozen
class Ranges:
    """Equal vmemmap ranges at a fixed stride: range k is
    [start + k * stride, start + k * stride + nr_pages * PAGE_SIZE).

    A pool's hugepages sit at a fixed stride in physical memory, so their vmemmap
    ranges do too; a window of the walk is one `Ranges`.
    """

    start: int
    stride: int
    count: int
    nr_pages: int

    def starts(self) -> np.ndarray:
        return np.uint64(self.start) + np.uint64(self.stride) * np.arange(self.count, dtype=np.uint64)

    def end(self, page_bytes: int) -> int:
        return self.start + (self.count - 1) * self.stride + self.nr_pages * page_bytes


def range_keys(pt: "PageTable", ranges: Ranges) -> np.ndarray:
    """The PMD blocks the ranges touch, sorted and unique."""
    page = 1 << pt.page_shift
    if ranges.stride - ranges.nr_pages * page < 1 << pt.pmd_shift:  # no gap holds a whole block
        return pt.pmd_keys(ranges.start, ranges.end(page))
    starts = ranges.starts()
    first = starts >> np.uint64(pt.pmd_shift)
    last = (starts + np.uint64(ranges.nr_pages * page - 1)) >> np.uint64(pt.pmd_shift)
    span = int((last - first).max()) + 1
    return np.unique(np.minimum(first[:, None] + np.arange(span, dtype=np.uint64), last[:, None]))


def range_view(pt: "PageTable", slots: PmdSlots, ranges: Ranges) -> np.ndarray:
    """The PTEs of every range as a (count, nr_pages) view into the window's tables.

    Writing to the view writes the page table: the whole window is updated at once.
    """
    flat = pt.pte_flat(slots)
    first, step = table_positions(pt, slots.keys, ranges)
    last = first + (ranges.count - 1) * step
    if first < 0 or step < 0 or last + ranges.nr_pages > flat.size:
        raise VerificationError("vmemmap ranges do not lie at a fixed stride in the window's tables")
    if step == ranges.nr_pages or ranges.count == 1:  # packed: a plain reshape, no strided view
        return flat[first : first + ranges.count * ranges.nr_pages].reshape(ranges.count, ranges.nr_pages)
    itemsize = flat.itemsize
    return np.lib.stride_tricks.as_strided(
        flat[first:], shape=(ranges.count, ranges.nr_pages), strides=(step * itemsize, itemsize)
    )


def table_positions(pt: "PageTable", keys: np.ndarray, ranges: Ranges) -> tuple[int, int]:
    """Position of the first range's first PTE in the window's flat tables, and the
    step between ranges. With consecutive PMD blocks that is plain address arithmetic;
    with gaps, every range's block is looked up and the step must be fixed."""
    page_shift = pt.page_shift
    if int(keys[-1] - keys[0]) + 1 == len(keys):
        base = int(keys[0]) << pt.pmd_shift
        if (ranges.start - base) % (1 << page_shift) or ranges.stride % (1 << page_shift):
            raise VerificationError("vmemmap ranges are not page aligned")
        return (ranges.start - base) >> page_shift, ranges.stride >> page_shift
    starts = ranges.starts()
    rank = pt.key_rank(keys, starts >> np.uint64(pt.pmd_shift))
    pos = rank * pt.entries_per_table + pt.index("pte", starts)
    step = int(pos[1] - pos[0]) if ranges.count > 1 else 0
    if np.any(np.diff(pos) != step):
        raise VerificationError("vmemmap ranges do not lie at a fixed stride in the window's tables")
    return int(pos[0]), step


@lru_cache(maxsize=4)
def run_offsets(rows: int, cols: int, step: int) -> np.ndarray:
    """step * (i // cols) for every entry i of a (rows, cols) block: entries that rise by
    `step` from row to row (a run of frames handed out in order). Read-only: it is shared."""
    offsets = np.repeat(np.arange(rows, dtype=np.uint64) * np.uint64(step), cols)
    offsets.setflags(write=False)
    return offsets


@lru_cache(maxsize=16)
def row_pattern(row_len: int, row_step: int, deltas: tuple[int, ...]) -> np.ndarray:
    """A chunk of rows of `row_len` entries: entry j of row i is i * row_step + deltas[j]
    (mod 2**64), for as many rows as fill CHUNK_ENTRIES. Read-only: it is shared."""
    rows = pattern_rows(row_len)
    steps = np.arange(rows, dtype=np.uint64) * np.uint64(row_step)
    pattern = (steps[:, None] + np.array([d % (1 << 64) for d in deltas], dtype=np.uint64)).reshape(-1)
    pattern.setflags(write=False)
    return pattern


def fill_pattern(out: np.ndarray, pattern: np.ndarray, first: int, chunk_rise: int) -> None:
    """out = the pattern repeated plus `first`, each repetition `chunk_rise` higher: one
    write pass over `out` (flat), the pattern read from cache."""
    size, chunk = out.size, pattern.size
    for start in range(0, size, chunk):
        end = min(size, start + chunk)
        base = np.uint64((first + start // chunk * chunk_rise) % (1 << 64))
        np.add(pattern[: end - start], base, out=out[start:end])


def pattern_rows(row_len: int) -> int:
    """Rows of `row_len` entries in a chunk pattern (`row_pattern`)."""
    return max(1, CHUNK_ENTRIES // row_len)


def is_run(flat: np.ndarray, first: int, step: int = 1 << int(PFN_SHIFT)) -> bool:
    """Whether flat[k] == first + k * step for every k (by default: entries mapping
    consecutive frames with the same flags): exact, chunk by chunk, one read pass."""
    pattern = row_pattern(1, step, (0,))
    return matches_pattern(flat, pattern, first, pattern.size * step)


def matches_pattern(flat: np.ndarray, pattern: np.ndarray, first: int, chunk_rise: int) -> bool:
    """Whether `flat` is the pattern repeated plus `first`, each repetition `chunk_rise`
    higher (what `fill_pattern` writes): exact, a chunk at a time, one read pass over `flat`
    against the expected chunk, which moves up by `chunk_rise` in cache."""
    chunk = pattern.size
    expected = np.add(pattern[: min(chunk, flat.size)], np.uint64(first % (1 << 64)))
    same = np.empty(expected.size, dtype=bool)
    rise = np.uint64(chunk_rise % (1 << 64))
    for start in range(0, flat.size, chunk):
        n = min(chunk, flat.size - start)
        if not np.logical_and.reduce(np.equal(flat[start : start + n], expected[:n], out=same[:n])):
            return False
        np.add(expected, rise, out=expected)
    return True


def column_slabs(view: np.ndarray) -> list[tuple[np.ndarray, slice]]:
    """A (ranges, pages) view cut into pieces numpy runs fast on, each with the columns
    it holds.

    numpy's inner loop runs along the last axis: for short ranges (2 MiB hugepages have
    8 vmemmap pages) that loop would be 8 long. Cut into its columns instead, each piece
    is one long strided loop over all the ranges.
    """
    rows, cols = view.shape
    if cols < SHORT_ROW and rows > cols:
        return [(view[:, j], slice(j, j + 1)) for j in range(cols)]
    return [(view, slice(0, cols))]


def all_set(ptes: np.ndarray, flag: np.uint64) -> bool:
    """Whether every entry has every bit of `flag`: one AND-reduction, no temporary array."""
    return ptes.size == 0 or bool(np.bitwise_and.reduce(ptes, axis=None) & flag == flag)


def all_present(ptes: np.ndarray) -> bool:
    return all_set(ptes, PRESENT)
