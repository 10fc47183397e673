"""The verifier's arithmetic path: the same checks as the general path, for the usual
window (packed hugepages whose vmemmap consecutive PMD leaves mapped, none given back),
where what was mapped and what must be freed is arithmetic on the first frame."""

from functools import lru_cache

import numpy as np

from hvo_calc.frames import BUDDY, FrameLog, FrameRun, Frames
from hvo_calc.pagetable import (
    LEAF,
    PFN_SHIFT,
    PRESENT,
    WRITE,
    is_run,
    matches_pattern,
    mk_entry,
    pattern_rows,
)
from hvo_calc.record import frozen
from hvo_calc.rules import WindowRules
from hvo_calc.verify.walk import FLAGS, Snapshot

PAGE_STEP = 1 << int(PFN_SHIFT)  # from one frame's entry to the next's


@frozen
class RunFacts:
    """What the verifier established about a window (by arithmetic, `run_facts`, or spelled
    out, `general_facts`): frames freed (and how many boot memory had given), pages kept
    writable, and frames mapped afresh for restored tails."""

    freed: int
    reserved: int
    boot_freed: int
    restored: int = 0  # frames mapped afresh for the tails of hugepages given back


def run_facts(
    after: np.ndarray, a_view: np.ndarray, before: Snapshot, rules: WindowRules, log: FrameLog, buddy_base: int
) -> RunFacts | None:
    """The same checks as the general case, for the usual window: packed hugepages whose
    vmemmap consecutive PMD leaves mapped, none given back. Page i of the window mapped its
    first frame plus i before, so what was mapped, what must be mapped now and what must be
    freed is arithmetic, not a spelled-out copy of the tables: every page of the pool is
    held against its expected entry in one read pass (`image_holds`). Tails are held to the
    entry the first hugepage's first tail holds; `window_facts` checks that one is the
    zone's shared tail page where the era has one. None where the window is not such a
    one, or where anything looks wrong (the general case then finds and names it)."""
    base = before.run_base
    if base is None or rules.keep != rules.count or not a_view.flags.c_contiguous:
        return None
    if not ((before.pmd & FLAGS) == (PRESENT | WRITE | LEAF)).all():
        return None
    rows, v = a_view.shape
    start = (a_view.__array_interface__["data"][0] - after.__array_interface__["data"][0]) // after.itemsize
    first = rules.reserve - 1 if rules.copy_head else rules.reserve  # first page whose frame is freed
    if not _outside_unchanged(after, a_view, before, start):
        return None
    low = int(base >> PFN_SHIFT) + start  # the window's first frame
    copies = _head_copies(log, rules, rows, low, first, v)
    freed = [pieces for pieces in log.freed if pieces.size]
    if copies is None or len(freed) != 1 or not _frees(freed[0], low + first, rows, v, v - first):
        return None
    if copies[1] and copies[0] < low + rows * v and copies[0] + copies[1] > low:
        return None  # a copy in a frame of the run
    image = expected_image(a_view, rules, int(base) + start * PAGE_STEP, copies[0])
    if image is None or not image_holds(a_view, image):
        return None
    # Kept pages: those on their own frames were writable leaves' pages; the copies were seen
    # writable. Frames of the run below the buddy range are boot memory's.
    return RunFacts(freed=freed[0].size, reserved=rows * rules.reserve, boot_freed=_boot(freed[0], buddy_base))


@frozen
class Image:
    """The expected entries of a (rows, cols) view, mod 2**64: column j < len(heads) holds
    heads[j][0] + i * heads[j][1] in row i, every later column tail[0] + i * tail[1]."""

    cols: int
    heads: tuple[tuple[int, int], ...]
    tail: tuple[int, int]

    def firsts(self) -> np.ndarray:
        return self._column_words(0)

    def rises(self) -> np.ndarray:
        return self._column_words(1)

    def _column_words(self, which: int) -> np.ndarray:
        words = np.full(self.cols, _word(self.tail[which]), dtype=np.uint64)
        words[: len(self.heads)] = [_word(head[which]) for head in self.heads]
        return words

    def uniform_rise(self) -> int | None:
        """The rise of every column where all rise alike (else None)."""
        rises = {rise for _, rise in self.heads} | ({self.tail[1]} if self.cols > len(self.heads) else set())
        return rises.pop() if len(rises) == 1 else None


def expected_image(a_view: np.ndarray, rules: WindowRules, first_entry: int, copy_pfn: int) -> Image | None:
    """The pool's entries as HVO leaves the usual window: kept pages on their own frames
    (page i of the window was `first_entry` + i frames, writable), the reuse page writable on
    its copy where the era copies it, tails read-only on the reuse page or on the shared tail
    page (the entry the first hugepage's first tail holds: its pfn is checked by the caller).
    None where there are no rows."""
    rows, v = a_view.shape
    reserve = rules.reserve
    if not rows or v < reserve:
        return None
    heads = [(first_entry + j * PAGE_STEP, v * PAGE_STEP) for j in range(reserve)]
    if rules.copy_head:
        heads[reserve - 1] = (int(mk_entry(copy_pfn, PRESENT | WRITE)), PAGE_STEP)
    reuse_entry, reuse_rise = heads[reserve - 1]
    tail = (reuse_entry - int(WRITE), reuse_rise)
    if rules.tail_key is not None and v > reserve:
        tail = (int(a_view[0, reserve]), 0)
    return Image(v, tuple(heads), tail)


def image_holds(view: np.ndarray, image: Image) -> bool:
    """Whether a contiguous (rows, cols) view holds `image`, every entry of it: a chunk of
    rows at a time against the expected chunk, held in the core's cache, so the tables are
    read once. Where every column rises alike the expected chunk is one pattern for all
    windows (`image_pattern`), moved by a constant."""
    rows, cols = view.shape
    rise = image.uniform_rise()
    if rise is not None:
        first = image.heads[0][0] if image.heads else image.tail[0]
        deltas = tuple(head[0] - first for head in image.heads)
        pattern = image_pattern(cols, rise, deltas, image.tail[0] - first)
        return matches_pattern(view.reshape(-1), pattern, first, pattern_rows(cols) * rise)
    return _holds_by_columns(view, image)


def _holds_by_columns(view: np.ndarray, image: Image) -> bool:
    """image_holds where columns rise unalike (the shared tail page's never, the reuse page's
    copies by a frame a row): a chunk of rows at a time, the columns that stay held against
    their entry (one scalar where they share one), then each rising column against its run."""
    rows, cols = view.shape
    chunk = min(rows, pattern_rows(cols))
    firsts, rises = image.firsts(), image.rises()
    constants = firsts[rises == 0]
    shared = len(constants) > 0 and bool((constants == constants[0]).all())
    against = constants[0] if shared else firsts  # the rising columns are compared again below
    rising = [(int(j), np.arange(chunk, dtype=np.uint64) * rises[j]) for j in np.flatnonzero(rises)]
    same, column = np.empty((chunk, cols), dtype=bool), np.empty(chunk, dtype=np.uint64)
    for start in range(0, rows, chunk):
        block = view[start : start + chunk]
        n = len(block)
        np.equal(block, against, out=same[:n])
        for j, offsets in rising:
            np.add(offsets[:n], _word(int(firsts[j]) + start * int(rises[j])), out=column[:n])
            np.equal(block[:, j], column[:n], out=same[:n, j])
        if not np.logical_and.reduce(same[:n], axis=None):
            return False
    return True


@lru_cache(maxsize=16)
def image_pattern(cols: int, rise: int, head_deltas: tuple[int, ...], tail_delta: int) -> np.ndarray:
    """A chunk of rows of `cols` entries (`pattern_rows`): entry j of row i is i * rise plus
    head_deltas[j], or tail_delta past the heads (mod 2**64). Read-only: it is shared."""
    row = Image(cols, tuple((delta, 0) for delta in head_deltas), (tail_delta, 0)).firsts()
    steps = np.arange(pattern_rows(cols), dtype=np.uint64) * np.uint64(rise % (1 << 64))
    pattern: np.ndarray = np.add.outer(steps, row).reshape(-1)
    pattern.setflags(write=False)
    return pattern


def _word(value: int) -> np.uint64:
    return np.uint64(value % (1 << 64))


def _outside_unchanged(after: np.ndarray, a_view: np.ndarray, before: Snapshot, start: int) -> bool:
    """Entries of the window's tables outside the pool map what they mapped before."""
    rows, v = a_view.shape
    end = start + rows * v
    outside = np.concatenate([np.arange(start), np.arange(end, after.size)])
    return np.array_equal(np.concatenate([after[:start], after[end:]]), before.entries(outside))


def _head_copies(log: FrameLog, rules: WindowRules, rows: int, low: int, first: int, v: int) -> tuple[int, int] | None:
    """The frames of the head copies (none before 6.2), as (first, count): one allocation
    for them from buddy, one frame each, in order, the log's copy into each made from its
    hugepage's original reuse page (that each reuse page maps its copy, writable, the image
    check sees). None if not so."""
    if not rules.copy_head:
        return None if log.copies or log.allocated_pages("vmemmap") else (0, 0)
    allocated = [a for a in log.allocations if a.purpose == "vmemmap"]
    if len(allocated) != 1 or allocated[0].source != BUDDY or allocated[0].nr_pages != rows:
        return None
    copy = allocated[0].first
    if len(log.copies) != 1 or log.copies[0][0].size != rows or log.copies[0][1].size != rows:
        return None
    to, source = log.copies[0]
    if not (_is_run_of(to, copy, rows, 1) and _is_run_of(source, low + first, rows, v)):
        return None
    return copy, rows


def _is_run_of(pfns: Frames, first: int, count: int, step: int) -> bool:
    """Whether the frames are first, first + step, ... (`count` of them): arithmetic against
    a logged run, frame by frame against spelled-out frames."""
    if isinstance(pfns, FrameRun) and pfns.arithmetic:
        return pfns.form == FrameRun(first, count, step, 1).form
    return is_run(np.asarray(pfns).reshape(-1), first, step)


def _frees(pieces: Frames, first: int, rows: int, row_step: int, cols: int) -> bool:
    """Whether the frames freed are exactly first + i * row_step + j (i < rows, j < cols),
    each once: arithmetic against a logged run; against spelled-out frames, in the walk's
    row order or column order."""
    if pieces.size != rows * cols:
        return False
    if isinstance(pieces, FrameRun) and pieces.arithmetic:
        return pieces.form == FrameRun(first, rows, row_step, cols).form
    pfns = np.asarray(pieces)
    if row_step == cols:  # the whole run, in order: its ends and a rise at every step say it exactly
        return int(pfns[0]) == first and int(pfns[-1]) == first + pfns.size - 1 and bool((pfns[1:] > pfns[:-1]).all())
    row_firsts = np.uint64(first) + np.arange(rows, dtype=np.uint64) * np.uint64(row_step)
    grid = row_firsts[:, None] + np.arange(cols, dtype=np.uint64)
    return np.array_equal(pfns, grid.reshape(-1)) or np.array_equal(pfns.reshape(cols, rows), grid.T)


def _boot(pieces: Frames, buddy_base: int) -> int:
    """How many of the frames freed boot memory had given (below the buddy range)."""
    if pieces.max() < buddy_base:
        return int(pieces.size)
    if pieces.min() >= buddy_base:
        return 0
    return int(np.count_nonzero(np.asarray(pieces) < np.uint64(buddy_base)))
