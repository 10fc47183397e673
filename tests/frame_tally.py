"""A frame allocator that also keeps running totals, for tests that compare frame use."""

from dataclasses import dataclass, field

import numpy as np

from hvo_calc.frames import BUDDY, FrameAllocator
from hvo_calc.pagetable import PageTable
from hvo_calc.profiles import ArchProfile


@dataclass
class Tally:
    """Running totals, by what the frames were for."""

    allocated_pages: dict[str, int] = field(default_factory=dict)
    freed_boot_pages: int = 0
    freed_buddy_pages: int = 0

    @property
    def in_use_pages(self) -> int:
        return sum(self.allocated_pages.values()) - self.freed_boot_pages - self.freed_buddy_pages


class TallyingAllocator(FrameAllocator):
    def __init__(self, first_pfn: int, boot_span_pages: int):
        self.tally = Tally()
        super().__init__(first_pfn, boot_span_pages)

    def alloc(self, nr_pages: int, purpose: str, source: str = BUDDY, align: int = 1) -> int:
        self.tally.allocated_pages[purpose] = self.tally.allocated_pages.get(purpose, 0) + nr_pages
        return super().alloc(nr_pages, purpose, source, align)

    def free(self, pfns: np.ndarray, span: tuple[int, int]) -> int:
        boot = super().free(pfns, span)
        self.tally.freed_boot_pages += boot
        self.tally.freed_buddy_pages += int(np.asarray(pfns).size) - boot
        return boot


def tallied_model(profile: ArchProfile, struct_page_bytes: int = 64) -> tuple[TallyingAllocator, PageTable]:
    """The planner's model (planner.new_model), with a tallying allocator."""
    first_model_pfn = (1 << profile.max_physmem_bits) // profile.base_page
    frames = TallyingAllocator(first_model_pfn, boot_span_pages=first_model_pfn)
    return frames, PageTable(profile, frames)
