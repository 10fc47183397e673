"""The report: records (frozen dataclasses) that are the JSON schema users script against.

`SCHEMA_VERSION` follows semantic rules: a minor bump only adds fields; renaming or
removing one is a major bump. Every field carries a description: `hvo-calc schema`
publishes them, and a test fails on a field without one.
"""

from typing import TYPE_CHECKING, ClassVar, Literal

from hvo_calc.record import Record, field, record

SCHEMA_VERSION = "2.0"
# 1.1: zone, shared_tail_pages, memmap counters, known_issues, hvo_enable_hint
# 1.2: checks
# 1.3: after a shrink a pool's figures are the host's once the shrink is done, with those at
#      the full count in shrink.at_count (and shrink.hugepages_kept); boot lines size
#      hugepages as the kernel prints them ("32.0 MiB")
# 2.0: memmap_boot_pages_freed is memmap_boot_freed_pages, the Prometheus metric's name (the old
#      name stays in the JSON as a deprecated alias through 2.x, gone in 3.0); pools without a
#      name are <size>-node<N> (2M-node0), as inspect names them (the last 1.3 already did so,
#      without a bump; earlier 1.x numbered them, 2M-0)

# Descriptions used by more than one model: the same figure means the same thing everywhere.
ARCH = "the architecture, as hvo-calc names it (x86-64, arm64, riscv64, ...; `hvo-calc profiles` lists them)"
BASE_PAGE_BYTES = "the base page size in bytes (PAGE_SIZE: 4096 on x86-64)"
STRUCT_PAGE_BYTES = "sizeof(struct page) in bytes (64 normally); HVO needs a power of two"
HUGEPAGES = "hugepages counted"
POOL_BYTES = "memory of the hugepages in bytes: hugepages x hugepage_bytes"
HVO_ACTIVE = (
    "whether HVO frees vmemmap here: the kernel has it on this architecture, it is on, and the sizes "
    "allow it (struct page a power of two, more vmemmap per hugepage than the reserve)"
)
REASON = "why HVO frees nothing here (one sentence naming the release or setting); null when hvo_active"
VMEMMAP_PAGES = "base pages of vmemmap (the virtual array of struct pages) that hold the hugepages' struct pages"
VMEMMAP_BYTES = "the memory those vmemmap pages take: vmemmap_pages x base_page_bytes"
RESERVED_PAGES = (
    "vmemmap pages that keep a frame of their own: per optimized hugepage the kernel's reserve "
    "(HUGETLB_VMEMMAP_RESERVE_SIZE: 1 page since 5.18, the head the tails map; 2 in 5.14-5.17), "
    "and every page of a hugepage HVO does not optimize: vmemmap_pages - freed_pages"
)
FREED_PAGES = (
    "vmemmap pages HVO returns, net: the frames the remap frees (boot-time vmemmap included), less the "
    "head copies it allocates (6.2+)"
)
PAGETABLE_PAGES = (
    "page-table pages HVO allocates: one PTE table for each vmemmap PMD leaf the remap splits "
    "(where vmemmap is mapped by PMD leaves: x86-64, arm64 4K, riscv64, ...); a split is never undone"
)
SAVED_PAGES = "net base pages HVO gives back: freed_pages - pagetable_pages - shared_tail_pages"
SAVED_BYTES = "saved_pages x base_page_bytes: what MemFree gains"
SAVED_PERCENT = "saved_bytes as a share of pool_bytes, in percent (at most 100 x struct_page_bytes / base_page_bytes)"
SHARED_TAIL_PAGES = (
    "7.1+: shared read-only tail pages allocated (one per node, zone and hugepage order, charged to "
    "the first pool of its kind); 0 on older kernels"
)
KERNEL = "the mainline release whose rules the plan uses (major.minor, e.g. 7.3)"


class InBytes:
    """The page counts of a pool, a node or the totals in bytes, for the renderers: properties,
    not fields, so the JSON, CSV and schema stay as they are."""

    if TYPE_CHECKING:
        reserved_pages: int
        freed_pages: int
        pagetable_pages: int
        shared_tail_pages: int

    @property
    def page_bytes(self) -> int:
        base_page_bytes: int = self.__dict__["base_page_bytes"]  # a field of PoolReport and Totals
        return base_page_bytes

    @property
    def reserved_bytes(self) -> int:
        return self.reserved_pages * self.page_bytes

    @property
    def freed_bytes(self) -> int:
        return self.freed_pages * self.page_bytes

    @property
    def pagetable_bytes(self) -> int:
        return self.pagetable_pages * self.page_bytes

    @property
    def shared_tail_bytes(self) -> int:
        return self.shared_tail_pages * self.page_bytes


@record
class PerHugepage(Record):
    """One hugepage of the pool, as the simulation treated it."""

    struct_pages: int = field(description="struct pages that describe one hugepage: hugepage_bytes / base_page_bytes")
    vmemmap_bytes: int = field(description="bytes of those struct pages: struct_pages x struct_page_bytes")
    vmemmap_pages: int = field(
        description="whole vmemmap pages of its own: vmemmap_bytes / base_page_bytes (0 when hugepages share one)"
    )
    reserved_pages: int = field(
        description="vmemmap pages kept for it: the kernel's reserve (1 since 5.18, 2 in 5.14-5.17) when "
        "HVO optimizes it, else all of vmemmap_pages"
    )
    freed_pages: int = field(
        description="vmemmap pages HVO returns for it, net of a head copy: vmemmap_pages - reserved_pages"
    )


@record
class Savings(Record):
    """What remap-and-free did (or would do) to a pool."""

    freed_pages: int = field(description=FREED_PAGES)
    pagetable_pages: int = field(description=PAGETABLE_PAGES)
    saved_pages: int = field(description=SAVED_PAGES)
    saved_bytes: int = field(description=SAVED_BYTES)


@record
class WouldFree(Savings):
    """What HVO would free where the kernel has it, when this plan's kernel does not."""

    kernel: str = field(
        description="the release these figures are modelled on: the planned one when HVO is only switched "
        "off, else the newest release with HVO on this architecture (the latest, if none has it)"
    )
    hypothetical: bool = field(
        default=False,
        description="no release has HVO on this architecture: these are the figures of "
        "the named release's HVO, as if the architecture had it",
    )


@record
class CountFigures(Record):
    """A pool's figures at its full count, before a shrink gives hugepages back."""

    hugepages: int = field(description="hugepages of the pool before the shrink")
    vmemmap_pages: int = field(description=VMEMMAP_PAGES)
    reserved_pages: int = field(description=RESERVED_PAGES)
    freed_pages: int = field(description=FREED_PAGES)
    saved_pages: int = field(description=SAVED_PAGES)
    saved_bytes: int = field(description=SAVED_BYTES)
    saved_percent: float = field(description=SAVED_PERCENT)


@record
class ShrinkReport(Record):
    """Giving hugepages back: the restore path allocates their tails again first."""

    shrink_to: int = field(description="the hugepage count the pool is shrunk to (nr_hugepages written)")
    hugepages_released: int = field(description="hugepages asked to leave the pool: its count - shrink_to")
    restore_pages: int = field(description="frames the restore allocates (vmemmap_remap_alloc)")
    restore_bytes: int = field(description="restore_pages x base_page_bytes: memory the shrink needs free first")
    policy: str = field(description="same-node (5.14-6.3), same-node-retry (6.4-6.6) or any-node (6.7+)")
    available_bytes: int | None = field(description="free memory the policy may use; null without node memory")
    succeeds: bool | None = field(
        description="whether every released hugepage can be restored; null without node memory or "
        "when no hugepage is released"
    )
    surplus_hugepages: int = field(description="hugepages that cannot be restored and stay as surplus")
    missing_bytes: int = field(description="restore_bytes above available_bytes; 0 when the restore fits")
    pagetable_pages_kept: int = field(description="split page tables, which a shrink never returns")
    hugepages_kept: int | None = field(
        default=None,
        description="optimized hugepages the pool holds once the shrink is done: shrink_to and any surplus",
    )
    at_count: CountFigures | None = field(
        default=None,
        description="the pool's figures at its full count; the pool's own figures are those after the shrink",
    )


@record
class VmemmapFigures(Record):
    """What HVO does to the vmemmap, the figures a pool and the totals share (in this order,
    after their own identity fields)."""

    vmemmap_pages: int = field(description=VMEMMAP_PAGES)
    vmemmap_bytes: int = field(description=VMEMMAP_BYTES)
    reserved_pages: int = field(description=RESERVED_PAGES)
    freed_pages: int = field(description=FREED_PAGES)
    pagetable_pages: int = field(description=PAGETABLE_PAGES)
    saved_pages: int = field(description=SAVED_PAGES)
    saved_bytes: int = field(description=SAVED_BYTES)
    saved_percent: float = field(description="saved_bytes as a share of pool_bytes, in percent")


@record
class PoolIdentity(Record):
    """A pool's fields before its figures (`PoolReport` puts them first)."""

    name: str = field(
        description="the pool's name, unique in the report: as given (name= in --pool or a plan file), "
        "else made by the tool from its hugepage size and node, as inspect names a host's pools "
        "(2M-node0; 2M-node0-2 for a second)"
    )
    arch: str = field(description=ARCH)
    node: int = field(description="the NUMA node the pool's hugepages are on")
    base_page_bytes: int = field(description=BASE_PAGE_BYTES)
    hugepage_bytes: int = field(description="the hugepage size in bytes")
    hugepage_size: str = field(description="the hugepage size in short form (2M, 1G)")
    mapped_by: str = field(
        description="the page-table level that maps one hugepage (PMD, PUD, contiguous PTE x16, ...)"
    )
    hugepages: int = field(description="hugepages in the pool")
    pool_bytes: int = field(description=POOL_BYTES)
    struct_page_bytes: int = field(description=STRUCT_PAGE_BYTES)
    kernel: str = field(description=KERNEL)
    hvo_active: bool = field(description=HVO_ACTIVE)
    reason: str | None = field(description=REASON)
    per_hugepage: PerHugepage = field(description="the figures of one hugepage of the pool")


@record
class PoolReport(InBytes, VmemmapFigures, PoolIdentity):
    """One pool: hugepages of one size on one node and zone, and what HVO does to its vmemmap.
    After a shrink its figures are those once the shrink is done."""

    split_pmds: int = field(description="vmemmap PMD leaves the remap split into PTE tables")
    tlb_flushes: int = field(
        description="TLB flushes the remap issued: before 6.7 one after each PMD split and one after each "
        "hugepage's remap; 6.7+ one after the split pass and one after the remap pass"
    )
    boot_line: str | None = field(
        description="the line hugetlb prints at boot for this hugepage size, in the release's wording (6.0+: "
        "HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page, printed with HVO off too); "
        "null where the release predates HVO (5.14)"
    )
    would_free: WouldFree | None = field(
        description="what HVO would free where it frees nothing here (off, or not in this release); null otherwise"
    )
    boot_time: bool = field(
        description="allocated at boot (hugepages= on the command line), not at run time (nr_hugepages)"
    )
    memtotal_gain_bytes: int = field(description="vmemmap frames returned from boot memory: MemTotal grows")
    memfree_gain_bytes: int = field(description="saved_bytes: what MemFree gains once the pool exists")
    peak_vmemmap_bytes: int = field(description="most vmemmap and split tables in use while the pool is allocated")
    transient_bytes: int = field(description="peak_vmemmap_bytes above what stays after HVO")
    shrink: ShrinkReport | None = field(description="what the shrink to shrink_to needs and does; null without one")
    zone: str = field(default="normal", description="the zone of its node the pool lives in")
    shared_tail_pages: int = field(
        default=0,
        description="7.1+: shared read-only tail pages this pool allocated (one per node, zone and "
        "hugepage order, charged to the first pool of its kind); 0 on older kernels",
    )
    preoptimized: bool = field(
        default=False,
        description="boot-time gigantic pages whose vmemmap was populated already optimized "
        "(x86-64 6.15+): the freed pages never existed",
    )
    memmap_pages: int = field(
        default=0,
        description="vmemmap pages the pool holds from the buddy allocator, as /proc/vmstat "
        "nr_memmap_pages counts them (6.11+): head copies and restored tails",
    )
    renamed: ClassVar[dict[str, str]] = {"memmap_boot_pages_freed": "memmap_boot_freed_pages"}
    memmap_boot_freed_pages: int = field(
        default=0,
        description="boot-memory vmemmap pages the pool's HVO freed or never populated: what it takes "
        "off /proc/vmstat nr_memmap_boot_pages (6.11+)",
    )

    @property
    def would_free_bytes(self) -> int:
        """What turning HVO on would free (0 where it is on)."""
        return self.would_free.freed_pages * self.base_page_bytes if self.would_free else 0


@record
class KnownIssueReport(Record):
    """A known kernel problem that the planned release is (or may be) in range of."""

    id: str = field(description="the issue's id, as check --allow-known-issue takes it")
    first: str = field(description="first affected release")
    last: str = field(description="last affected release")
    applies: str = field(description="yes: the planned point release is in range; maybe: only the mainline is known")
    summary: str = field(description="what goes wrong, in one line")
    detail: str = field(description="what is known of it: where it was seen, what was measured, what to do")
    source: str = field(description="where it was reported, fixed or measured")
    pools: list[str] = field(description="pools of this plan it bites (for a shrink leak: pools with shrink_to)")


@record
class TotalsIdentity(Record):
    """The totals' fields before their figures (`Totals` puts them first)."""

    arch: str = field(description=ARCH)
    base_page_bytes: int = field(description=BASE_PAGE_BYTES)
    struct_page_bytes: int = field(description=STRUCT_PAGE_BYTES)
    hugepages: int = field(description="hugepages of all pools")
    hugepage_bytes: int = field(description="bytes of all hugepages: the same as pool_bytes")
    pool_bytes: int = field(description="bytes of all hugepages")
    hvo_active: bool = field(description="whether HVO is active for every pool")
    reason: str | None = field(
        description="the reason of the first pool where HVO frees nothing; null when it is active for every pool"
    )
    per_hugepage: PerHugepage | None = field(
        description="the figures of one hugepage, when every pool has the same hugepage size; else null"
    )


@record
class Totals(InBytes, VmemmapFigures, TotalsIdentity):
    """All pools summed. `hugepage_bytes` is the bytes of all hugepages (pool_bytes);
    `per_hugepage` is given when every pool has the same hugepage size, else null."""

    shared_tail_pages: int = field(default=0, description=SHARED_TAIL_PAGES)


@record
class NodeReport(InBytes, Record):
    """One NUMA node's pools, summed."""

    @property
    def page_bytes(self) -> int:
        """The plan's base page, which `PlanReport` gives each of its nodes (not a field)."""
        base_page_bytes: int = self.__dict__.get("_base_page_bytes", 0)
        return base_page_bytes

    node: int = field(description="the NUMA node's number")
    memory_bytes: int | None = field(description="the node's memory as the plan gives it; null without node memory")
    free_bytes: int | None = field(description="free memory assumed when a pool shrinks")
    pools: int = field(description="pools on the node")
    hugepages: int = field(description="hugepages of the node's pools")
    pool_bytes: int = field(description="bytes of the node's hugepages")
    vmemmap_pages: int = field(description=VMEMMAP_PAGES)
    reserved_pages: int = field(description=RESERVED_PAGES)
    freed_pages: int = field(description=FREED_PAGES)
    pagetable_pages: int = field(description=PAGETABLE_PAGES)
    saved_pages: int = field(description=SAVED_PAGES)
    saved_bytes: int = field(description=SAVED_BYTES)
    shared_tail_pages: int = field(default=0, description=SHARED_TAIL_PAGES)


@record
class MemoryBudget(Record):
    """The host's struct-page memory before and after HVO (when node memory is given)."""

    memory_bytes: int = field(description="host RAM: the nodes' memory summed")
    vmemmap_bytes_before: int = field(description="struct pages of all RAM")
    vmemmap_bytes_after: int = field(description="vmemmap_bytes_before less all pools' saved_bytes")
    vmemmap_percent_before: float = field(description="vmemmap_bytes_before as a share of memory_bytes, in percent")
    vmemmap_percent_after: float = field(description="vmemmap_bytes_after as a share of memory_bytes, in percent")
    memtotal_gain_bytes: int = field(description="what MemTotal grows by: all pools' memtotal_gain_bytes")
    memfree_gain_bytes: int = field(description="what MemFree grows by: all pools' memfree_gain_bytes")
    peak_transient_bytes: int = field(description="the largest transient_bytes of one pool")


@record
class HostReport(Record):
    """The host as planned: architecture, kernel, and what the request said of HVO."""

    arch: str = field(description=ARCH)
    base_page_bytes: int = field(description=BASE_PAGE_BYTES)
    kernel: str = field(description=KERNEL)
    kernel_requested: str = field(description="the release as asked for (--kernel or the plan file): latest, 6.12, ...")
    struct_page_bytes: int = field(description=STRUCT_PAGE_BYTES)
    hvo_enabled: bool = field(description="whether the plan has HVO switched on (--hvo on, hugetlb_free_vmemmap=on)")
    placement: str = field(
        description="packed: hugepages side by side; scattered: each hugepage's vmemmap in a PMD of its own"
    )
    memory_bytes: int | None = field(default=None, description="host RAM, when the plan gives node memory")
    notes: list[str] = field(
        description="what the kernel data notes of the modelled release (a point release it differs from, ...)"
    )
    kernel_release: str = field(default="", description="the release as given: mainline, stable or uname -r")
    head_copy_mandatory: bool = field(
        default=False,
        description="7.1+: each optimized hugepage needs its head copy allocated, or it stays "
        "unoptimized (6.2-7.0 fell back to keeping the old frame)",
    )
    hvo_enable_hint: str | None = field(
        default=None, description="how to switch HVO on, where distribution kernels leave it off"
    )


@record
class CheckResult(Record):
    """One check of `hvo-calc check`: a budget, a known issue of the release, or a drift finding
    (`check --host --expect`: the host against the plan)."""

    name: str = field(
        description="the budget's option (--min-saved), `known issue ID`, or what a drift finding is about "
        "(hvo, pool 2M node 0, boot pool 1G node 1, counter nr_memmap_pages host, ...)"
    )
    kind: Literal["budget", "known_issue", "drift"] = field(description="what the check is")
    limit: int | float | str | None = field(description="the limit, or what the plan expects")
    value: int | float | str | None = field(description="the figure, or what the host has")
    passed: bool = field(description="whether it holds; one that does not makes check exit 1")
    message: str = field(description="one line, as check prints it")


@record
class PlanReport(Record):
    """What `hvo-calc plan --format json` (and `check --format json`) prints: the host, each
    pool's figures from simulating HVO on every hugepage, and the sums per node and in all."""

    __pydantic_config__: ClassVar[dict[str, object]] = {"extra": "forbid", "title": "hvo-calc plan report"}

    schema_version: str = field(
        default=SCHEMA_VERSION,
        description="this report's schema version: a minor bump only adds fields, a major one renames or removes",
    )
    tool: str = field(description="the tool and its version (hvo-calc 0.1.0)")
    host: HostReport = field(description="the host as planned")
    pools: list[PoolReport] = field(description="each pool, in the order asked for")
    nodes: list[NodeReport] = field(description="each NUMA node's pools summed")
    totals: Totals = field(description="all pools summed")
    memory: MemoryBudget | None = field(
        description="struct-page memory of all RAM before and after HVO; null when the plan gives no node memory"
    )
    known_issues: list[KnownIssueReport] = field(
        default_factory=list, description="known kernel problems the planned release is (or may be) in range of"
    )
    checks: list[CheckResult] = field(
        default_factory=list, description="`check`: every budget and drift finding, in order; empty from `plan`"
    )

    def __post_init__(self) -> None:
        """Each node's figures in bytes are in the host's base page."""
        super().__post_init__()
        for node in self.nodes:
            object.__setattr__(node, "_base_page_bytes", self.host.base_page_bytes)
