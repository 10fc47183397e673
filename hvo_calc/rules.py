"""What the kernel does to a pool, as the verifier holds the engine to it.

The rules come from the kernel data (`KernelBehaviour`), the pool the plan asks for and the
architecture profile, by one function (`pool_rules`) that neither the engine nor the
verifier owns: the engine acts on its own options, the verifier checks the state against
these rules, so a wrong choice on one side is caught by the other. A window's rules are the
pool's, cut to the hugepages of the window, with the addresses computed from the profile
(`window_rules`), not from the engine's own arithmetic.
"""

from typing import Protocol

from hvo_calc.frames import BOOT, BUDDY
from hvo_calc.profiles import ArchProfile, HugepageSize
from hvo_calc.record import frozen


class Behaviour(Protocol):
    """The kernel facts the rules read (a `KernelBehaviour` has them all)."""

    @property
    def hvo_available(self) -> bool: ...
    @property
    def reserve_pages(self) -> int: ...
    @property
    def head_page_copy(self) -> bool: ...
    @property
    def shared_tail_page(self) -> bool: ...
    @property
    def tlb_flush(self) -> str: ...
    @property
    def boot_preoptimize(self) -> bool: ...


class Pool(Protocol):
    """The pool facts the rules read (a planner `PoolRequest` has them all)."""

    @property
    def node(self) -> int: ...
    @property
    def zone(self) -> str: ...
    @property
    def boot(self) -> bool: ...
    @property
    def shrink_to(self) -> int | None: ...


class Placed(Protocol):
    """Where a pool's hugepages are (the engine's `Extent`)."""

    @property
    def first_pfn(self) -> int: ...
    @property
    def stride_pages(self) -> int: ...


@frozen
class PoolRules:
    """What the kernel does to every hugepage of one pool: the rules, not the figures."""

    base_page_bytes: int
    struct_page_bytes: int
    hugepage_bytes: int
    optimized: bool  # HVO acts on this pool
    reserve: int = 1  # pages kept per hugepage; the last one is the reuse page
    copy_head: bool = False  # the reuse page is replaced by a fresh copy (6.2+)
    tail_key: tuple[int, str, int] | None = None  # 7.1+: tails map this zone's shared tail page
    preoptimized: bool = False  # boot pages populated already optimized
    keep_hugepages: int | None = None  # a shrink keeps this many optimized, restores the rest
    tlb_per_batch: bool = True  # 6.7+: one flush per pass, not per split and per hugepage

    @property
    def vmemmap_pages(self) -> int:
        """Whole vmemmap pages of one hugepage (0 when several share one)."""
        return self.hugepage_bytes // self.base_page_bytes * self.struct_page_bytes // self.base_page_bytes

    @property
    def table_source(self) -> str:
        """Where split page tables and the shared tail page come from: memblock for boot
        pages optimized before they are populated, the buddy allocator otherwise."""
        return BOOT if self.preoptimized else BUDDY

    def expected_tlb_flushes(self, split_pmds: int, hugepages: int) -> int:
        """Flushes the kernel issues for a pool it split and remapped so."""
        if not self.optimized:
            return 0
        if self.tlb_per_batch:
            return (1 if split_pmds else 0) + (1 if hugepages else 0)
        return split_pmds + hugepages


@frozen
class WindowRules:
    """What the kernel does to one window of a pool, with the window's addresses."""

    head_vaddr: int  # vmemmap address of the first hugepage's first struct page
    cover_start: int  # first vmemmap page (address) holding the window's struct pages
    stride: int  # bytes of vmemmap from one hugepage's head to the next
    count: int  # hugepages in the window
    vmemmap_pages: int  # vmemmap pages of one hugepage (v)
    cover_pages: int  # vmemmap pages holding the window's struct pages
    optimized: bool  # HVO acts on this pool
    reserve: int = 1  # pages kept per hugepage; the last one is the reuse page
    copy_head: bool = False  # the reuse page is replaced by a fresh copy (6.2+)
    tail_key: tuple[int, str, int] | None = None  # 7.1+: tails map this zone's shared tail page
    keep: int = 0  # hugepages still optimized; the rest were restored (a shrink)
    preoptimized: bool = False  # boot pages populated already optimized: tables and tail page from boot memory


def pool_rules(
    kernel: Behaviour,
    pool: Pool,
    profile: ArchProfile,
    hugepage_bytes: int,
    struct_page_bytes: int,
    hvo_on: bool = True,
    what_if: bool = False,
) -> PoolRules:
    """The rules of one pool, from the kernel data, the pool and the profile. `what_if`: the
    pool as that kernel would treat it were it allocated at run time, all of it kept (what
    HVO would free; `explain`)."""
    base = profile.base_page
    vmemmap_bytes = hugepage_bytes // base * struct_page_bytes
    optimizable = not struct_page_bytes & (struct_page_bytes - 1) and vmemmap_bytes // base > kernel.reserve_pages
    optimized = hvo_on and kernel.hvo_available and optimizable
    preoptimized = optimized and not what_if and _preoptimized(kernel, pool, profile.hugepage_size(hugepage_bytes))
    order = (hugepage_bytes // base).bit_length() - 1  # zone->vmemmap_tails[] is indexed by order
    return PoolRules(
        base_page_bytes=base,
        struct_page_bytes=struct_page_bytes,
        hugepage_bytes=hugepage_bytes,
        optimized=optimized,
        reserve=kernel.reserve_pages,
        # 6.2+ copies the head, except where boot pages are populated already optimized
        # (their head is the page memblock gave).
        copy_head=kernel.head_page_copy and not preoptimized,
        tail_key=(pool.node, pool.zone, order) if kernel.shared_tail_page else None,
        preoptimized=preoptimized,
        keep_hugepages=None if what_if else pool.shrink_to,
        tlb_per_batch=kernel.tlb_flush == "per-batch",
    )


def _preoptimized(kernel: Behaviour, pool: Pool, size: HugepageSize | None) -> bool:
    """Boot-time gigantic pages the kernel populates already optimized (x86-64 6.15+: the
    PUD-mapped sizes, aligned as those need)."""
    return bool(pool.boot and kernel.boot_preoptimize and size is not None and size.mapped_by == "pud")


class Stated(Protocol):
    """A kernel's choices stated directly (the engine's `SimOptions`), for callers that
    simulate without kernel data: tests and library use."""

    @property
    def optimize(self) -> bool: ...
    @property
    def reserve_pages(self) -> int: ...
    @property
    def copy_reuse(self) -> bool: ...
    @property
    def tlb_per_batch(self) -> bool: ...
    @property
    def shared_tail(self) -> tuple[int, str, int] | None: ...
    @property
    def preoptimized(self) -> bool: ...
    @property
    def keep_hugepages(self) -> int | None: ...


def stated_rules(stated: Stated, hugepage_bytes: int, base_page_bytes: int, struct_page_bytes: int) -> PoolRules:
    """The rules of a kernel given as its choices rather than as kernel data."""
    return PoolRules(
        base_page_bytes=base_page_bytes,
        struct_page_bytes=struct_page_bytes,
        hugepage_bytes=hugepage_bytes,
        optimized=stated.optimize,
        reserve=stated.reserve_pages,
        copy_head=stated.copy_reuse and not stated.preoptimized,
        tail_key=stated.shared_tail,
        preoptimized=stated.preoptimized,
        keep_hugepages=stated.keep_hugepages,
        tlb_per_batch=stated.tlb_per_batch,
    )


def window_rules(pool: PoolRules, profile: ArchProfile, extent: Placed, first: int, count: int) -> WindowRules:
    """The rules of hugepages [first, first + count) of a pool placed at first_pfn,
    first_pfn + stride_pages, ...: where their struct pages lie, and what is done to them."""
    page, struct_page = pool.base_page_bytes, pool.struct_page_bytes
    stride = extent.stride_pages * struct_page
    head = profile.vmemmap_start + (extent.first_pfn + first * extent.stride_pages) * struct_page
    vmemmap_bytes = pool.hugepage_bytes // page * struct_page
    if stride == vmemmap_bytes:  # packed: the struct pages are one run of vmemmap pages
        cover_start = head // page * page
        cover_pages = (-(-(head + count * vmemmap_bytes) // page) * page - cover_start) // page
    else:
        cover_start, cover_pages = head, count * -(-vmemmap_bytes // page)
    keep = pool.keep_hugepages
    return WindowRules(
        head_vaddr=head,
        cover_start=cover_start,
        stride=stride,
        count=count,
        vmemmap_pages=pool.vmemmap_pages,
        cover_pages=cover_pages,
        optimized=pool.optimized,
        reserve=pool.reserve,
        copy_head=pool.copy_head,
        tail_key=pool.tail_key if pool.optimized else None,
        preoptimized=pool.preoptimized,
        keep=count if keep is None else min(count, max(0, keep - first)),
    )
