"""Every frame the allocator has handed out, as the verifier saw it in the allocator's log.

The allocator's log says which frames each allocation gave; the verifier does not take it
on trust that they were free. It keeps the frames handed out so far as sorted, disjoint
runs and refuses a window whose allocations overlap one another or any frame handed out
before (the page tables, the vmemmap, earlier copies and splits), and records where each
allocation came from so a rule about the memory (boot or buddy) can be checked.
"""

from bisect import bisect_right
from weakref import WeakKeyDictionary

from hvo_calc.errors import VerificationError
from hvo_calc.frames import Allocation, FrameAllocator


class FrameLedger:
    """Frames handed out, as runs [start, end) kept sorted and disjoint (touching runs merge)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def take(self, allocations: list[Allocation]) -> None:
        """Record these allocations; a frame given twice is a VerificationError."""
        for a in allocations:
            if a.nr_pages > 0:
                self._take(a.first, a.first + a.nr_pages, a.purpose)

    def _take(self, start: int, end: int, purpose: str) -> None:
        at = bisect_right(self.starts, start)
        if (at and self.ends[at - 1] > start) or (at < len(self.starts) and self.starts[at] < end):
            raise VerificationError(
                f"the frame allocator handed out a frame twice ({purpose} pages over frames already in use)"
            )
        if at and self.ends[at - 1] == start:  # extends the run before
            self.ends[at - 1] = end
            at -= 1
        else:
            self.starts.insert(at, start)
            self.ends.insert(at, end)
        if at + 1 < len(self.starts) and self.starts[at + 1] == self.ends[at]:  # meets the run after
            self.ends[at] = self.ends.pop(at + 1)
            self.starts.pop(at + 1)


_LEDGERS: "WeakKeyDictionary[FrameAllocator, FrameLedger]" = WeakKeyDictionary()


def ledger(frames: FrameAllocator) -> FrameLedger:
    """The ledger of this allocator's frames (one per model)."""
    if frames not in _LEDGERS:
        _LEDGERS[frames] = FrameLedger()
    return _LEDGERS[frames]
