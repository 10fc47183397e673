"""Physical frames for the vmemmap and its page tables: handed out, taken back, counted.

The kernel populates the vmemmap at boot from memblock and later allocates page-table
pages (PMD splits), head copies and restored tails from the buddy allocator. Freed
frames go back the way they came (`free_bootmem_page` or `__free_page`). The model keeps
the two sources in separate frame-number ranges, so `pfn < buddy_base` means "boot".
Frame numbers are the model's own, drawn from above the memory the pools can occupy,
so they never collide with hugepage pfns.

The allocator also keeps what a verifier needs to observe a window's work without
asking the code that did it: a log of every allocation and free, the copies made
(`copy_page`: which frame now holds what another held) and the zones' shared tail
pages (7.1's `zone->vmemmap_tails[]`).
"""

from dataclasses import field
from typing import Any

import numpy as np

from hvo_calc.record import frozen, mutable

BOOT, BUDDY = "boot", "buddy"


@frozen
class Allocation:
    """One allocation, as logged: `nr_pages` frames from `first` on."""

    first: int
    nr_pages: int
    purpose: str
    source: str


class FrameRun:
    """Frames first + i * row_step + j (i < rows, j < cols), row by row: the frames a walk
    unmaps where populate handed them out in order, logged as arithmetic instead of spelled
    out. It reads as an array wherever one is wanted (and becomes one when written to)."""

    def __init__(self, first: int, rows: int, row_step: int, cols: int):
        if rows == 1 or row_step == cols:  # one contiguous run
            rows, row_step, cols = 1, rows * cols, rows * cols
        self.first, self.rows, self.row_step, self.cols = first, rows, row_step, cols
        self._frames: np.ndarray | None = None

    @property
    def arithmetic(self) -> bool:
        """Whether the frames are still the arithmetic run: not yet spelled out as an array
        (reading them as one, or writing to them, spells them out)."""
        return self._frames is None

    @property
    def form(self) -> tuple[int, int, int, int]:
        return self.first, self.rows, self.row_step, self.cols

    @property
    def size(self) -> int:
        return self.rows * self.cols if self._frames is None else int(self._frames.size)

    def frames(self) -> np.ndarray:
        """Every frame, spelled out (once; later reads and writes go to that array)."""
        if self._frames is None:
            rows = np.uint64(self.first) + np.uint64(self.row_step) * np.arange(self.rows, dtype=np.uint64)
            self._frames = (rows[:, None] + np.arange(self.cols, dtype=np.uint64)).reshape(-1)
        return self._frames

    def min(self) -> int:
        return self.first if self._frames is None else int(self._frames.min())

    def max(self) -> int:
        if self._frames is None:
            return self.first + (self.rows - 1) * self.row_step + self.cols - 1
        return int(self._frames.max())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.frames() if dtype is None else self.frames().astype(dtype)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: Any) -> Any:
        return self.frames()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.frames()[key] = value

    def reshape(self, *shape: Any) -> np.ndarray:
        return self.frames().reshape(*shape)

    def consecutive_first(self) -> int | None:
        """The first frame where the frames are first, first + 1, ... (one contiguous run,
        in order), else None."""
        if self._frames is None:
            return self.first if self.rows == 1 and self.size else None
        return consecutive_first(self._frames)


Frames = np.ndarray | FrameRun  # frames as the walk collects them


def consecutive_first(pfns: Frames) -> int | None:
    """The first frame where `pfns` are first, first + 1, ... in order, else None."""
    if isinstance(pfns, FrameRun):
        return pfns.consecutive_first()
    flat = pfns.reshape(-1)
    if not flat.size or (flat.size > 1 and not (np.diff(flat) == 1).all()):
        return None
    return int(flat[0])


@mutable
class FrameLog:
    """Every allocation, free and copy since the log was last cleared."""

    allocations: list[Allocation] = field(default_factory=list)
    freed: list[Frames] = field(default_factory=list)
    copies: list[tuple[Frames, Frames]] = field(default_factory=list)  # (to pfns, from pfns)

    def allocated_pages(self, purpose: str, source: str | None = None) -> int:
        return sum(
            a.nr_pages for a in self.allocations if a.purpose == purpose and (source is None or a.source == source)
        )


class FrameAllocator:
    """A bump allocator per source; frees are counted by source, never reused."""

    def __init__(self, first_pfn: int, boot_span_pages: int):
        self.boot_next = first_pfn
        self.buddy_base = first_pfn + boot_span_pages
        self.buddy_next = self.buddy_base
        self.log = FrameLog()
        self.vmemmap_tails: dict[tuple[int, str, int], int] = {}  # (node, zone, order) -> pfn

    def clear_log(self) -> FrameLog:
        """The log so far, and a fresh one from here on."""
        log, self.log = self.log, FrameLog()
        return log

    def alloc(self, nr_pages: int, purpose: str, source: str = BUDDY, align: int = 1) -> int:
        """First pfn of `nr_pages` contiguous frames aligned to `align` frames."""
        if source == BOOT:
            first = -(-self.boot_next // align) * align
            self.boot_next = first + nr_pages
            if self.boot_next > self.buddy_base:
                raise MemoryError("the model's boot frame range is exhausted")
        else:
            first = -(-self.buddy_next // align) * align
            self.buddy_next = first + nr_pages
        self.log.allocations.append(Allocation(first, nr_pages, purpose, source))
        return first

    def alloc_array(self, nr_pages: int, purpose: str, source: str = BUDDY) -> FrameRun:
        """`nr_pages` frames as the kernel's list of pages: a run that reads as an array of
        pfns (spelled out only where something reads it page by page)."""
        first = self.alloc(nr_pages, purpose, source)
        return FrameRun(first, 1, nr_pages, nr_pages)

    def free(self, pfns: Frames, span: tuple[int, int]) -> int:
        """Return frames: boot frames via the bootmem path, the others to buddy.

        `span` is the lowest and highest of `pfns`, which the caller keeps for its own
        checks. Returns how many were boot frames, so callers need not count them again.
        """
        boot = self.count_boot(pfns, span)
        self.log.freed.append(pfns)
        return boot

    def copy_pages(self, to_pfns: Frames, from_pfns: Frames) -> None:
        """copy_page: each frame of `to_pfns` now holds what the same place in `from_pfns` held
        (runs as runs where both are; one frame copied into many is spread out)."""
        if isinstance(to_pfns, FrameRun) and isinstance(from_pfns, FrameRun) and to_pfns.size == from_pfns.size:
            self.log.copies.append((to_pfns, from_pfns))
            return
        shape = to_pfns.shape if isinstance(to_pfns, np.ndarray) else (to_pfns.size,)
        self.log.copies.append((to_pfns, np.broadcast_to(np.asarray(from_pfns), shape)))

    def vmemmap_tail(self, key: tuple[int, str, int], source: str) -> tuple[int, bool]:
        """The shared tail page of (node, zone, order), allocated (zeroed) on first use and
        never freed; and whether this call allocated it."""
        if key in self.vmemmap_tails:
            return self.vmemmap_tails[key], False
        self.vmemmap_tails[key] = self.alloc(1, "vmemmap_tail", source)
        return self.vmemmap_tails[key], True

    def count_boot(self, pfns: Frames, span: tuple[int, int]) -> int:
        """How many of `pfns` are boot frames; their span settles the usual all-one-source
        case without a per-frame comparison array."""
        lowest, highest = span
        if highest < self.buddy_base:
            return int(pfns.size)
        if lowest >= self.buddy_base:
            return 0
        return int(np.count_nonzero(np.asarray(pfns) < np.uint64(self.buddy_base)))
