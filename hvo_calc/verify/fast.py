"""The verifier's arithmetic path: the same checks as the general path, for the usual
window (packed hugepages whose vmemmap consecutive PMD leaves mapped, none given back),
where what was mapped and what must be freed is arithmetic on the first frame."""

from dataclasses import dataclass

import numpy as np

from hvo_calc.frames import BUDDY, FrameLog, FrameRun, Frames
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE, is_run, mk_entry
from hvo_calc.rules import WindowRules
from hvo_calc.verify.walk import FLAGS, Snapshot


@dataclass(frozen=True)
class RunFacts:
    """What `run_facts` established about a window: frames freed (and how many boot memory
    had given), and pages kept writable."""

    freed: int
    reserved: int
    boot_freed: int


def run_facts(
    after: np.ndarray, a_view: np.ndarray, before: Snapshot, rules: WindowRules, log: FrameLog, buddy_base: int
) -> RunFacts | None:
    """The same checks as the general case, for the usual window: packed hugepages whose
    vmemmap consecutive PMD leaves mapped, none given back. Page i of the window mapped its
    first frame plus i before, so what was mapped and what must be freed is arithmetic, not
    a spelled-out copy of the tables. None where the window is not such a one, or where
    anything looks wrong (the general case then finds and names it)."""
    base = before.run_base
    if base is None or rules.keep != rules.count or not a_view.flags.c_contiguous:
        return None
    if not ((before.pmd & FLAGS) == (PRESENT | WRITE | LEAF)).all():
        return None
    rows, v = a_view.shape
    start = (a_view.__array_interface__["data"][0] - after.__array_interface__["data"][0]) // after.itemsize
    first = rules.reserve - 1 if rules.copy_head else rules.reserve  # first page whose frame is freed
    if not _outside_and_kept_unchanged(after, a_view, before, start, first):
        return None
    low = int(base >> PFN_SHIFT) + start  # the window's first frame
    copies = _head_copies(a_view, rules, log, low, first)
    freed = [pieces for pieces in log.freed if pieces.size]
    if copies is None or len(freed) != 1 or not _frees(freed[0], low + first, rows, v, v - first):
        return None
    if copies[1] and copies[0] < low + rows * v and copies[0] + copies[1] > low:
        return None  # a copy in a frame of the run
    # Kept pages: those on their own frames were writable leaves' pages; the copies were seen
    # writable. Frames of the run below the buddy range are boot memory's.
    return RunFacts(freed=freed[0].size, reserved=rows * rules.reserve, boot_freed=_boot(freed[0], buddy_base))


def _outside_and_kept_unchanged(
    after: np.ndarray, a_view: np.ndarray, before: Snapshot, start: int, first: int
) -> bool:
    """Entries of the window's tables outside the pool, and the kept pages on their own
    frames (all but a reuse page the kernel copies), map what they mapped before."""
    rows, v = a_view.shape
    end = start + rows * v
    outside = np.concatenate([np.arange(start), np.arange(end, after.size)])
    if not np.array_equal(np.concatenate([after[:start], after[end:]]), before.entries(outside)):
        return False
    page = 1 << int(PFN_SHIFT)
    entry = int(before.entries(np.array([start]))[0])
    return all(is_run(a_view[:, j], entry + j * page, v * page) for j in range(first))


def _head_copies(a_view: np.ndarray, rules: WindowRules, log: FrameLog, low: int, first: int) -> tuple[int, int] | None:
    """The frames of the head copies (none before 6.2), as (first, count): each reuse page
    writable on the frame allocated for it from buddy, one each, in order, the log's copy
    into it made from its original reuse page. None if not so."""
    rows, v = a_view.shape
    if not rules.copy_head:
        return None if log.copies or log.allocated_pages("vmemmap") else (0, 0)
    allocated = [a for a in log.allocations if a.purpose == "vmemmap"]
    if len(allocated) != 1 or allocated[0].source != BUDDY or allocated[0].nr_pages != rows:
        return None
    copy = allocated[0].first
    if not is_run(a_view[:, first], int(mk_entry(copy, PRESENT | WRITE)), 1 << int(PFN_SHIFT)):
        return None
    if len(log.copies) != 1 or log.copies[0][0].size != rows or log.copies[0][1].size != rows:
        return None
    to, source = (np.asarray(pfns).reshape(-1) for pfns in log.copies[0])
    if not (is_run(to, copy, 1) and is_run(source, low + first, v)):
        return None
    return copy, rows


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
