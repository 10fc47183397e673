"""The verifier's arithmetic path: the same checks as the general path, for the usual
window (packed hugepages whose vmemmap consecutive PMD leaves mapped, none given back),
where what was mapped and what must be freed is arithmetic on the first frame."""

from dataclasses import dataclass

import numpy as np

from hvo_calc.frames import BUDDY, FrameLog
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE
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
