"""Physical frames for the vmemmap and its page tables: handed out, taken back, counted.

The kernel populates the vmemmap at boot from memblock and later allocates page-table
pages (PMD splits), head copies and restored tails from the buddy allocator. Freed
frames go back the way they came (`free_bootmem_page` or `__free_page`). The model keeps
the two sources in separate frame-number ranges, so `pfn < buddy_base` means "boot".
Frame numbers are the model's own, drawn from above the memory the pools can occupy,
so they never collide with hugepage pfns.
"""

from dataclasses import dataclass, field

import numpy as np

BOOT, BUDDY = "boot", "buddy"


@dataclass
class FrameCounts:
    """Running totals, by what the frames were for."""

    allocated_pages: dict[str, int] = field(default_factory=dict)
    freed_boot_pages: int = 0
    freed_buddy_pages: int = 0

    @property
    def freed_pages(self) -> int:
        return self.freed_boot_pages + self.freed_buddy_pages

    @property
    def in_use_pages(self) -> int:
        return sum(self.allocated_pages.values()) - self.freed_pages


class FrameAllocator:
    """A bump allocator per source; frees are counted by source, never reused."""

    def __init__(self, first_pfn: int, boot_span_pages: int):
        self.boot_next = first_pfn
        self.buddy_base = first_pfn + boot_span_pages
        self.buddy_next = self.buddy_base
        self.counts = FrameCounts()

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
        self.counts.allocated_pages[purpose] = self.counts.allocated_pages.get(purpose, 0) + nr_pages
        return first

    def alloc_array(self, nr_pages: int, purpose: str, source: str = BUDDY) -> np.ndarray:
        """`nr_pages` frames as an array of pfns (the kernel's list of pages)."""
        first = self.alloc(nr_pages, purpose, source)
        return np.arange(first, first + nr_pages, dtype=np.uint64)

    def free(self, pfns: np.ndarray, span: tuple[int, int]) -> int:
        """Return frames: boot frames via the bootmem path, the others to buddy.

        `span` is the lowest and highest of `pfns`, which the caller keeps for its own
        checks. Returns how many were boot frames, so callers need not count them again.
        """
        boot = self.count_boot(pfns, span)
        self.counts.freed_boot_pages += boot
        self.counts.freed_buddy_pages += int(pfns.size) - boot
        return boot

    def count_boot(self, pfns: np.ndarray, span: tuple[int, int]) -> int:
        """How many of `pfns` are boot frames; their span settles the usual all-one-source
        case without a per-frame comparison array."""
        lowest, highest = span
        if highest < self.buddy_base:
            return int(pfns.size)
        if lowest >= self.buddy_base:
            return 0
        return int(np.count_nonzero(pfns < np.uint64(self.buddy_base)))
