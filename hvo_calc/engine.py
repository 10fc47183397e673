"""Simulate one pool on the model, window by window, verifying every window.

A pool is `count` hugepages at a fixed physical stride (its placement). The engine
populates their vmemmap, performs HVO on all of them with the kernel's walk, optionally
gives some back (restore), has the verifier (`verify`) check the page tables and the
frame allocator, and lets the window's PTE tables go before the next window. Windows are
cut only where no PMD block is shared, so a windowed run does exactly what a whole-pool
run does, in bounded memory.
"""

from collections.abc import Callable
from dataclasses import fields
from math import gcd

from hvo_calc.errors import VerificationError
from hvo_calc.frames import BOOT, BUDDY, FrameAllocator, FrameLog
from hvo_calc.pagetable import PageTable, PmdSlots, Ranges
from hvo_calc.record import frozen, mutable
from hvo_calc.rules import PoolRules, WindowRules, stated_rules, window_rules
from hvo_calc.units import human_size, short_size
from hvo_calc.verify import Observed, Snapshot, check_pool_claims, check_window_claims, snapshot, verify_window
from hvo_calc.vmemmap import vmemmap_remap_alloc, vmemmap_remap_free

DEFAULT_WINDOW_PTES = 1 << 20  # 8 MiB of PTEs: fastest measured (benchmarks/bench_engine.py)

# Called once per window after it is verified, before its PTE tables are let go: the page
# table, the allocator, the window's rules, what it mapped before the remap, and the
# allocator's log of the window (for `explain`, which draws what the model holds).
WindowObserver = Callable[[PageTable, FrameAllocator, WindowRules, Snapshot, FrameLog], None]


@frozen
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
            return (
                f"struct page is {size} bytes, not a power of two: the kernel builds no HVO "
                "(vm.hugetlb_optimize_vmemmap is absent)"
            )
        if self.vmemmap_pages <= reserve_pages:
            return (
                f"a {short_size(self.hugepage_bytes)} hugepage with {short_size(self.base_page_bytes)} "
                f"base pages has {human_size(self.vmemmap_bytes)} of struct pages, no more than the "
                f"{reserve_pages} vmemmap page(s) HVO keeps: there is nothing to free"
            )
        return None


@frozen
class Extent:
    """Where a pool's hugepages are: first_pfn, first_pfn + stride_pages, ..."""

    first_pfn: int
    stride_pages: int
    count: int


@frozen
class SimOptions:
    """What the kernel does to this pool (from the kernel behaviour and the plan)."""

    optimize: bool
    reserve_pages: int = 1
    copy_reuse: bool = False
    tlb_per_batch: bool = True
    # 7.1+: tails map the shared tail page of this (node, zone, hugepage order)
    shared_tail: tuple[int, str, int] | None = None
    # Boot-time gigantic pages the kernel populates already optimized (x86-64 6.15+): the
    # head stays where memblock put it, tables and the shared tail come from boot memory.
    preoptimized: bool = False
    keep_hugepages: int | None = None  # shrink: hugepages past this index are restored
    window_ptes: int = DEFAULT_WINDOW_PTES
    # The rules the verifier holds the pool to, from the kernel data (`rules.pool_rules`);
    # without them, these options read as the kernel's choices (`rules.stated_rules`).
    rules: PoolRules | None = None


@mutable
class PoolStats:
    """What the simulation did to one pool, counted as it did it (and, for the pages
    it keeps, as the verifier saw them)."""

    hugepages: int = 0
    vmemmap_pages: int = 0
    reserved_pages: int = 0
    freed_pages: int = 0
    pagetable_pages: int = 0
    split_pmds: int = 0
    tlb_flushes: int = 0
    ptes_remapped: int = 0
    boot_pages_freed: int = 0
    buddy_pages_freed: int = 0
    boot_pages_allocated: int = 0
    head_copies: int = 0
    shared_tail_pages: int = 0
    memmap_pages: int = 0  # vmemmap pages held from buddy (head copies, restored tails)
    restored_hugepages: int = 0
    restore_pages_allocated: int = 0
    windows: int = 0

    def add(self, other: "PoolStats") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def window_hugepages(pt: PageTable, geometry: HugepageGeometry, extent: Extent, window_ptes: int) -> int:
    """Hugepages per window: a multiple of the run after which vmemmap meets a PMD boundary,
    sized by the PTEs the window's tables hold (a scattered hugepage fills a table alone)."""
    pmd_bytes = 1 << pt.pmd_shift
    stride_bytes = extent.stride_pages * geometry.struct_page_bytes
    unit = pmd_bytes // gcd(pmd_bytes, stride_bytes)
    pages_each = max(1, -(-geometry.vmemmap_bytes // geometry.base_page_bytes))
    tables_each = -(-pages_each // pt.entries_per_table) * pt.entries_per_table
    ptes_each = max(pages_each, min(stride_bytes // geometry.base_page_bytes, tables_each))
    return max(unit, window_ptes // ptes_each // unit * unit)


def simulate_pool(
    pt: PageTable,
    frames: FrameAllocator,
    geometry: HugepageGeometry,
    extent: Extent,
    opts: SimOptions,
    progress: Callable[[int], None] | None = None,
    observe: WindowObserver | None = None,
) -> PoolStats:
    """Populate, optimize, restore and verify a pool, one window at a time."""
    profile = pt.profile
    vstart = profile.vmemmap_start + extent.first_pfn * geometry.struct_page_bytes
    if vstart % (1 << pt.pmd_shift):
        raise VerificationError("the model placed a pool whose vmemmap does not start on a PMD boundary")
    stride = extent.stride_pages * geometry.struct_page_bytes
    per_window = window_hugepages(pt, geometry, extent, opts.window_ptes)
    rules = opts.rules or stated_rules(
        opts, geometry.hugepage_bytes, geometry.base_page_bytes, geometry.struct_page_bytes
    )
    stats, seen = PoolStats(), Observed()
    for first in range(0, extent.count, per_window):
        count = min(per_window, extent.count - first)
        window = _Window(pt, frames, geometry, opts, vstart + first * stride, stride, count, first)
        seen.add(window.run(window_rules(rules, profile, extent, first, count), observe))
        stats.add(window.stats)
        if progress:
            progress(count)
    if opts.optimize and opts.tlb_per_batch:
        # 6.7+: one flush after the split pass (if it split anything), one after the remap pass.
        stats.tlb_flushes = (1 if stats.split_pmds else 0) + (1 if extent.count else 0)
    check_pool_claims(stats, seen, rules)
    return stats


class _Window:
    """One window of a pool: hugepages [first, first + count) of the pool."""

    def __init__(
        self,
        pt: PageTable,
        frames: FrameAllocator,
        geometry: HugepageGeometry,
        opts: SimOptions,
        head_vaddr: int,
        stride: int,
        count: int,
        first: int,
    ):
        self.pt, self.frames, self.geometry, self.opts = pt, frames, geometry, opts
        self.page = geometry.base_page_bytes
        self.head_vaddr, self.stride, self.count, self.first = head_vaddr, stride, count, first
        self.stats = PoolStats(hugepages=count, windows=1)

    def cover(self) -> Ranges:
        """Every vmemmap page holding the window's struct pages (one span when packed)."""
        page, vmemmap_bytes = self.page, self.geometry.vmemmap_bytes
        if self.stride == vmemmap_bytes:
            first = self.head_vaddr // page * page
            last = -(-(self.head_vaddr + self.count * vmemmap_bytes) // page) * page
            return Ranges(first, 0, 1, (last - first) // page)
        if self.head_vaddr % page or self.stride % page:
            raise VerificationError("the model placed scattered hugepages whose vmemmap does not start on a page")
        return Ranges(self.head_vaddr, self.stride, self.count, -(-vmemmap_bytes // page))

    def hugepage_ranges(self, first: int, count: int, skip_pages: int) -> Ranges:
        v = self.geometry.vmemmap_pages
        return Ranges(
            self.head_vaddr + first * self.stride + skip_pages * self.page, self.stride, count, v - skip_pages
        )

    def copies_head(self) -> bool:
        """Whether the kept head is a fresh copy: 6.2+, except where boot pages are populated
        already optimized (the head page is then the one memblock gave)."""
        return self.opts.copy_reuse and not self.opts.preoptimized

    def run(self, rules: WindowRules, observe: WindowObserver | None = None) -> Observed:
        """Populate, optimize, restore; then the verifier checks the window against `rules`
        and the engine's figures against what it saw."""
        cover = self.cover()
        self.slots = self.populate(cover)
        self.stats.vmemmap_pages = cover.count * cover.nr_pages
        before = snapshot(self.pt, self.frames, rules)
        if self.opts.optimize:
            self.optimize()
            self.restore()
        log = self.frames.log  # the window's; verify_window takes it and starts a new one
        seen = verify_window(self.pt, self.frames, rules, before)
        check_window_claims(self.stats, seen)
        self.stats.reserved_pages = seen.reserved_pages
        if observe is not None:
            observe(self.pt, self.frames, rules, before, log)
        self.pt.retire_ptes(self.slots)
        return seen

    def populate(self, cover: Ranges) -> PmdSlots:
        """vmemmap_populate for the window; returns the PMD slots it filled."""
        if self.pt.profile.vmemmap_leaf == "pmd":
            return self.pt.populate_pmd_leaves(cover)
        return self.pt.populate_basepages(cover)

    def optimize(self) -> None:
        """hugetlb_vmemmap_optimize for every hugepage of the window."""
        opts, stats = self.opts, self.stats
        source = BOOT if opts.preoptimized else BUDDY
        tail_pfn = None
        if opts.shared_tail is not None:
            tail_pfn, new = self.frames.vmemmap_tail(opts.shared_tail, source)
            stats.shared_tail_pages += int(new)
            stats.boot_pages_allocated += int(new and source == BOOT)
        ranges = self.hugepage_ranges(0, self.count, opts.reserve_pages)
        walk = vmemmap_remap_free(
            self.pt, ranges, ranges.start - self.page, self.frames, self.copies_head(), tail_pfn, source
        )
        stats.freed_pages += walk.nr_collected - walk.nr_allocated
        stats.split_pmds += walk.nr_split
        stats.pagetable_pages += walk.nr_split
        stats.ptes_remapped += ranges.count * ranges.nr_pages
        stats.head_copies += walk.nr_allocated
        stats.memmap_pages += walk.nr_allocated
        stats.boot_pages_freed += walk.nr_boot_freed
        stats.buddy_pages_freed += walk.nr_collected - walk.nr_boot_freed
        if opts.preoptimized:
            stats.boot_pages_allocated += walk.nr_split
        if not opts.tlb_per_batch:
            # Before 6.7: a flush after every PMD split, and one after each hugepage's remap.
            stats.tlb_flushes += walk.nr_split + ranges.count

    def restore(self) -> None:
        """hugetlb_vmemmap_restore for the hugepages a shrink gives back."""
        kept = self.optimized_hugepages()
        if kept == self.count:
            return
        ranges = self.hugepage_ranges(kept, self.count - kept, self.opts.reserve_pages)
        walk = vmemmap_remap_alloc(self.pt, ranges, ranges.start - self.page, self.frames)
        self.stats.restored_hugepages += ranges.count
        self.stats.restore_pages_allocated += walk.nr_allocated
        self.stats.memmap_pages += walk.nr_allocated

    def optimized_hugepages(self) -> int:
        """How many of the window's hugepages stay optimized (the rest a shrink restored)."""
        keep = self.opts.keep_hugepages
        return self.count if keep is None else min(self.count, max(0, keep - self.first))
