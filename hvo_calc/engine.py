"""Simulate one pool on the model, window by window, verifying every window.

A pool is `count` hugepages at a fixed physical stride (its placement). The engine
populates their vmemmap, performs HVO on all of them with the kernel's walk, optionally
gives some back (restore), verifies the page tables, and lets the window's PTE tables
go before the next window. Windows are cut only where no PMD block is shared, so a
windowed run does exactly what a whole-pool run does, in bounded memory.
"""

from dataclasses import dataclass, fields
from math import gcd
from typing import Callable

import numpy as np

from hvo_calc.errors import VerificationError
from hvo_calc.frames import FrameAllocator
from hvo_calc.pagetable import (LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable, PmdSlots, Ranges, all_present, all_set,
                                column_slabs, entry_pfn, mk_entry, table_positions)
from hvo_calc.units import human_size, short_size
from hvo_calc.vmemmap import (NOT_PRESENT, RemapWalk, check_translates, tails_match, translate_ptes, vmemmap_remap_alloc,
                              vmemmap_remap_free)

DEFAULT_WINDOW_PTES = 1 << 19  # 4 MiB of PTEs: fastest measured (benchmarks/bench_engine.py)


@dataclass(frozen=True)
class HugepageGeometry:
    """The struct pages and vmemmap of one hugepage size."""

    hugepage_bytes: int
    base_page_bytes: int
    struct_page_bytes: int

    @property
    def struct_pages(self) -> int:
        return self.hugepage_bytes // self.base_page_bytes

    @property
    def vmemmap_bytes(self) -> int:
        return self.struct_pages * self.struct_page_bytes

    @property
    def vmemmap_pages(self) -> int:
        """Whole vmemmap pages of its own (0 when several hugepages share one)."""
        return self.vmemmap_bytes // self.base_page_bytes

    def why_not_optimizable(self, reserve_pages: int) -> str | None:
        """Why HVO can never free anything for this size, or None if it can."""
        size = self.struct_page_bytes
        if size & (size - 1):
            return (f"struct page is {size} bytes, not a power of two: the kernel builds no HVO "
                    "(vm.hugetlb_optimize_vmemmap is absent)")
        if self.vmemmap_pages <= reserve_pages:
            return (f"a {short_size(self.hugepage_bytes)} hugepage with {short_size(self.base_page_bytes)} "
                    f"base pages has {human_size(self.vmemmap_bytes)} of struct pages, no more than the "
                    f"{reserve_pages} vmemmap page(s) HVO keeps: there is nothing to free")
        return None


@dataclass(frozen=True)
class Extent:
    """Where a pool's hugepages are: first_pfn, first_pfn + stride_pages, ..."""

    first_pfn: int
    stride_pages: int
    count: int


@dataclass(frozen=True)
class SimOptions:
    """What the kernel does to this pool (from the kernel behaviour and the plan)."""

    optimize: bool
    reserve_pages: int = 1
    copy_reuse: bool = False
    populate_basepages: bool = False
    tlb_per_batch: bool = True
    keep_hugepages: int | None = None  # shrink: hugepages past this index are restored
    window_ptes: int = DEFAULT_WINDOW_PTES


@dataclass
class PoolStats:
    """What the simulation did to one pool, counted as it did it."""

    hugepages: int = 0
    vmemmap_pages: int = 0
    freed_pages: int = 0
    pagetable_pages: int = 0
    split_pmds: int = 0
    tlb_flushes: int = 0
    ptes_remapped: int = 0
    boot_pages_freed: int = 0
    buddy_pages_freed: int = 0
    head_copies: int = 0
    restored_hugepages: int = 0
    restore_pages_allocated: int = 0
    windows: int = 0

    @property
    def reserved_pages(self) -> int:
        return self.vmemmap_pages - self.freed_pages

    def add(self, other: "PoolStats") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def window_hugepages(pt: PageTable, geometry: HugepageGeometry, extent: Extent, window_ptes: int) -> int:
    """Hugepages per window: a multiple of the run after which vmemmap meets a PMD boundary."""
    pmd_bytes = 1 << pt.pmd_shift
    stride_bytes = extent.stride_pages * geometry.struct_page_bytes
    unit = pmd_bytes // gcd(pmd_bytes, stride_bytes)
    pages_each = max(1, -(-geometry.vmemmap_bytes // geometry.base_page_bytes))
    return max(unit, window_ptes // pages_each // unit * unit)


def simulate_pool(pt: PageTable, frames: FrameAllocator, geometry: HugepageGeometry, extent: Extent,
                  opts: SimOptions, progress: Callable[[int], None] | None = None) -> PoolStats:
    """Populate, optimize, restore and verify a pool, one window at a time."""
    profile = pt.profile
    vstart = profile.vmemmap_start + extent.first_pfn * geometry.struct_page_bytes
    if vstart % (1 << pt.pmd_shift):
        raise AssertionError("a pool's vmemmap must start on a PMD boundary")
    stride = extent.stride_pages * geometry.struct_page_bytes
    per_window = window_hugepages(pt, geometry, extent, opts.window_ptes)
    stats = PoolStats()
    for first in range(0, extent.count, per_window):
        count = min(per_window, extent.count - first)
        window = _Window(pt, frames, geometry, opts, vstart + first * stride, stride, count, first)
        stats.add(window.run())
        if progress:
            progress(count)
    if opts.optimize and opts.tlb_per_batch:
        # 6.7+: one flush after the split pass (if it split anything), one after the remap pass.
        stats.tlb_flushes = (1 if stats.split_pmds else 0) + (1 if extent.count else 0)
    return stats


class _Window:
    """One window of a pool: hugepages [first, first + count) of the pool."""

    def __init__(self, pt: PageTable, frames: FrameAllocator, geometry: HugepageGeometry,
                 opts: SimOptions, head_vaddr: int, stride: int, count: int, first: int):
        self.pt, self.frames, self.geometry, self.opts = pt, frames, geometry, opts
        self.page = geometry.base_page_bytes
        self.head_vaddr, self.stride, self.count, self.first = head_vaddr, stride, count, first
        self.stats = PoolStats(hugepages=count, windows=1)
        self.freed: list[np.ndarray] = []
        self.freed_spans: list[tuple[int, int]] = []

    def cover(self) -> Ranges:
        """Every vmemmap page holding the window's struct pages (one span when packed)."""
        page, vmemmap_bytes = self.page, self.geometry.vmemmap_bytes
        if self.stride == vmemmap_bytes:
            first = self.head_vaddr // page * page
            last = -(-(self.head_vaddr + self.count * vmemmap_bytes) // page) * page
            return Ranges(first, 0, 1, (last - first) // page)
        if self.head_vaddr % page or self.stride % page:
            raise AssertionError("scattered hugepages must start their vmemmap on a page")
        return Ranges(self.head_vaddr, self.stride, self.count, -(-vmemmap_bytes // page))

    def hugepage_ranges(self, first: int, count: int, skip_pages: int) -> Ranges:
        v = self.geometry.vmemmap_pages
        return Ranges(self.head_vaddr + first * self.stride + skip_pages * self.page, self.stride, count, v - skip_pages)

    def run(self) -> PoolStats:
        cover = self.cover()
        self.slots = self.populate(cover)
        self.stats.vmemmap_pages = cover.count * cover.nr_pages
        if self.opts.optimize:
            self.optimize()
            self.restore()
        self.verify(cover)
        self.pt.retire_ptes(self.slots)
        return self.stats

    def populate(self, cover: Ranges) -> PmdSlots:
        """vmemmap_populate for the window; returns the PMD slots it filled."""
        pt = self.pt
        if pt.profile.vmemmap_leaf == "pmd" and not (self.opts.optimize and self.opts.populate_basepages):
            return pt.populate_pmd_leaves(cover)
        tables_before = pt.pte.nr_tables
        slots = pt.populate_basepages(cover)
        if pt.profile.vmemmap_leaf == "pmd":  # 5.14: HVO made the vmemmap base-page mapped
            self.stats.pagetable_pages += pt.pte.nr_tables - tables_before
        return slots

    def optimize(self) -> None:
        """hugetlb_vmemmap_optimize for every hugepage of the window."""
        opts, stats = self.opts, self.stats
        ranges = self.hugepage_ranges(0, self.count, opts.reserve_pages)
        in_use = self.frames.counts.in_use_pages
        walk = vmemmap_remap_free(self.pt, ranges, ranges.start - self.page, self.frames, opts.copy_reuse)
        # The walk stopped mapping every tail frame, and every old head frame it replaced.
        unmapped = ranges.count * ranges.nr_pages + (ranges.count if opts.copy_reuse else 0)
        self.check_conserved(in_use, walk, unmapped)
        self.freed, self.freed_spans = walk.vmemmap_pages, walk.freed_spans
        nr_freed = walk.nr_collected - walk.nr_allocated
        stats.freed_pages += nr_freed
        stats.split_pmds += walk.nr_split
        stats.pagetable_pages += walk.nr_split
        stats.ptes_remapped += ranges.count * ranges.nr_pages
        stats.head_copies += walk.nr_allocated
        stats.boot_pages_freed += walk.nr_boot_freed
        stats.buddy_pages_freed += walk.nr_collected - walk.nr_boot_freed
        if not opts.tlb_per_batch:
            stats.tlb_flushes += ranges.count + walk.nr_split_hugepages

    def restore(self) -> None:
        """hugetlb_vmemmap_restore for the hugepages a shrink gives back."""
        kept = self.optimized_hugepages()
        if kept == self.count:
            return
        ranges = self.hugepage_ranges(kept, self.count - kept, self.opts.reserve_pages)
        in_use = self.frames.counts.in_use_pages
        walk = vmemmap_remap_alloc(self.pt, ranges, ranges.start - self.page, self.frames)
        self.check_conserved(in_use, walk, unmapped_pages=0)  # tails left a shared page: nothing to free
        self.stats.restored_hugepages += ranges.count
        self.stats.restore_pages_allocated += walk.nr_allocated

    def check_conserved(self, in_use_before: int, walk: RemapWalk, unmapped_pages: int) -> None:
        """Frames before = frames after + freed - frames allocated, where "freed" is what
        the remap stopped mapping, counted from the ranges rather than from the walk's
        own list, so a frame dropped from the list without being freed is caught."""
        after = self.frames.counts.in_use_pages
        if in_use_before != after + unmapped_pages - walk.nr_split - walk.nr_allocated:
            raise VerificationError(
                f"frames not conserved: {in_use_before} in use before, {after} after, "
                f"{unmapped_pages} unmapped, {walk.nr_split + walk.nr_allocated} allocated")

    def verify(self, cover: Ranges) -> None:
        """Every struct page translates; tails map the kept page read-only; freed frames are gone.

        Presence is checked within the comparisons below (kept pages, tails against a
        present read-only entry, restored tails) rather than in a pass of its own.
        """
        if not self.opts.optimize:
            check_translates(self.pt, cover)
            return
        v, reserve = self.geometry.vmemmap_pages, self.opts.reserve_pages
        ptes = translate_ptes(self.pt, cover).reshape(self.count, v)
        keep = self.optimized_hugepages()
        kept = ptes[:, :reserve].copy()  # the kept pages' PTEs, gathered once for the checks below
        if not all_present(kept):
            raise VerificationError(NOT_PRESENT)
        if not all_set(kept, WRITE):
            raise VerificationError("a kept vmemmap page is read-only")
        kept_ro = mk_entry(entry_pfn(kept[:keep, -1]), PRESENT)
        if not tails_match(ptes[:keep], reserve, kept_ro):
            self.explain_bad_tails(ptes[:keep])
        self.verify_restored(ptes[keep:])
        self.verify_freed_unmapped(keep, kept[:keep])

    def optimized_hugepages(self) -> int:
        """How many of the window's hugepages stay optimized (the rest a shrink restored)."""
        keep = self.opts.keep_hugepages
        return self.count if keep is None else min(self.count, max(0, keep - self.first))

    def verify_restored(self, ptes: np.ndarray) -> None:
        """Restored hugepages map every tail to a frame of its own again, present and writable."""
        if not ptes.size:
            return
        reserve = self.opts.reserve_pages
        if not all_present(ptes):
            raise VerificationError(NOT_PRESENT)
        pfns, writable = entry_pfn(ptes), (ptes & WRITE) != 0
        if not (writable.all() and (pfns[:, reserve:] != pfns[:, reserve - 1 : reserve]).all()):
            raise VerificationError("a restored hugepage's tails are not its own writable pages")

    def explain_bad_tails(self, ptes: np.ndarray) -> None:
        """Which rule a tail PTE breaks (the fast check compared whole entries)."""
        reserve = self.opts.reserve_pages
        if not all_present(ptes[:, reserve:]):
            raise VerificationError(NOT_PRESENT)
        pfns, writable = entry_pfn(ptes), (ptes & WRITE) != 0
        if not (pfns[:, reserve:] == pfns[:, reserve - 1 : reserve]).all():
            raise VerificationError("a tail vmemmap page does not map the kept page")
        if writable[:, reserve:].any():
            raise VerificationError("a tail vmemmap page is writable: HVO maps tails read-only")
        raise VerificationError("a tail vmemmap PTE is not the kept page's read-only entry")

    def verify_freed_unmapped(self, keep: int, kept: np.ndarray) -> None:
        """No frame the walk freed is still mapped by the window's page tables.

        The frames mapped are those of every PTE in the window's tables and every PMD
        leaf. The tails of kept hugepages were just checked to map their kept page, whose
        PTE is among the rest, so only the rest is scanned. Mapped frames inside the
        freed frames' span [low, high] are then looked up in a bitmap of that span.
        """
        if not self.freed_spans:
            return
        freed = [pages for pages in self.freed if pages.size]
        low, high = min(lo for lo, _ in self.freed_spans), max(hi for _, hi in self.freed_spans)
        inside = [_pfns_within(piece, low, high) for piece in self.mapped_besides_tails(keep, kept)]
        inside += self.leaf_pfns_within(low, high)
        inside = [pfns for pfns in inside if pfns.size]
        if not inside:
            return
        mapped = np.zeros(high - low + 1, dtype=bool)
        for pfns in inside:
            mapped[(pfns - np.uint64(low)).astype(np.int64)] = True
        for pages in freed:
            if np.take(mapped, (pages - np.uint64(low)).view(np.int64)).any():
                raise VerificationError("a freed vmemmap frame is still mapped")

    def mapped_besides_tails(self, keep: int, kept: np.ndarray) -> list[np.ndarray]:
        """Views of every PTE in the window's tables except the tails of kept hugepages.

        `kept` holds the kept pages' PTEs of those hugepages: where they are all that lies
        between the tails (packed hugepages), it stands for them.
        """
        pt, reserve, slots = self.pt, self.opts.reserve_pages, self.slots
        rows = pt.pte_rows(slots)
        first_row = int(rows[0])
        all_ptes = pt.pte.entries[: pt.pte.nr_tables]
        outside = [all_ptes[:first_row].reshape(-1), all_ptes[first_row + len(rows) :].reshape(-1)]
        flat = all_ptes[first_row : first_row + len(rows)].reshape(-1)
        if keep == 0:
            return outside + [flat]
        tails = self.hugepage_ranges(0, keep, reserve)
        first, step = table_positions(pt, slots.keys, tails)
        end = first + (keep - 1) * step + tails.nr_pages  # just past the last tail
        if first < 0 or step < tails.nr_pages or end > flat.size:
            raise AssertionError("the kept hugepages' tails do not lie inside the window's tables")
        if first == reserve and step == tails.nr_pages + reserve:
            return outside + [kept.reshape(-1), flat[end:]]
        pieces = outside + [flat[:first], flat[end:]]
        if keep > 1 and step > tails.nr_pages:
            gaps = np.lib.stride_tricks.as_strided(
                flat[first + tails.nr_pages :], shape=(keep - 1, step - tails.nr_pages),
                strides=(step * flat.itemsize, flat.itemsize))
            pieces += [piece for piece, _ in column_slabs(gaps)]
        return pieces

    def leaf_pfns_within(self, low: int, high: int) -> list[np.ndarray]:
        """Frames in [low, high] that the window's PMD leaves map."""
        pmd = self.pt.pmd_entries(self.slots)
        found = []
        for block in entry_pfn(pmd[(pmd & LEAF) != 0]):
            lo, hi = max(int(block), low), min(int(block) + self.pt.entries_per_table - 1, high)
            if lo <= hi:
                found.append(np.arange(lo, hi + 1, dtype=np.uint64))
        return found


def _pfns_within(ptes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Frames of the present entries that lie in [low, high]."""
    if ptes.size == 0:
        return np.empty(0, np.uint64)
    lowest, highest = np.uint64(low) << PFN_SHIFT, (np.uint64(high) + np.uint64(1)) << PFN_SHIFT
    near = ptes[(ptes >= lowest) & (ptes < highest)]
    return entry_pfn(near[(near & PRESENT) != 0])
