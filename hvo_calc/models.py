"""The report: pydantic models that are the JSON schema users script against.

`SCHEMA_VERSION` follows semantic rules: a minor bump only adds fields; renaming or
removing one is a major bump.
"""

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PrivateAttr, model_validator

from hvo_calc.base import Model

SCHEMA_VERSION = "1.3"
# 1.1: zone, shared_tail_pages, memmap counters, known_issues, hvo_enable_hint
# 1.2: checks
# 1.3: after a shrink a pool's figures are the host's once the shrink is done, with those at
#      the full count in shrink.at_count (and shrink.hugepages_kept); boot lines size
#      hugepages as the kernel prints them ("32.0 MiB")


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


class PerHugepage(Model):
    """One hugepage of the pool, as the simulation treated it."""

    struct_pages: int
    vmemmap_bytes: int
    vmemmap_pages: int = Field(description="whole vmemmap pages of its own (0 when hugepages share one)")
    reserved_pages: int
    freed_pages: int


class Savings(Model):
    """What remap-and-free did (or would do) to a pool."""

    freed_pages: int
    pagetable_pages: int
    saved_pages: int
    saved_bytes: int


class WouldFree(Savings):
    """What HVO would free where the kernel has it, when this plan's kernel does not."""

    kernel: str
    hypothetical: bool = Field(
        default=False,
        description="no release has HVO on this architecture: these are the figures of "
        "the named release's HVO, as if the architecture had it",
    )


class CountFigures(Model):
    """A pool's figures at its full count, before a shrink gives hugepages back."""

    hugepages: int
    vmemmap_pages: int
    reserved_pages: int
    freed_pages: int
    saved_pages: int
    saved_bytes: int
    saved_percent: float


class ShrinkReport(Model):
    """Giving hugepages back: the restore path allocates their tails again first."""

    shrink_to: int
    hugepages_released: int
    restore_pages: int = Field(description="frames the restore allocates (vmemmap_remap_alloc)")
    restore_bytes: int
    policy: str = Field(description="same-node (5.14-6.3), same-node-retry (6.4-6.6) or any-node (6.7+)")
    available_bytes: int | None = Field(description="free memory the policy may use; null without node memory")
    succeeds: bool | None
    surplus_hugepages: int = Field(description="hugepages that cannot be restored and stay as surplus")
    missing_bytes: int
    pagetable_pages_kept: int = Field(description="split page tables, which a shrink never returns")
    hugepages_kept: int | None = Field(
        default=None,
        description="optimized hugepages the pool holds once the shrink is done: shrink_to and any surplus",
    )
    at_count: CountFigures | None = Field(
        default=None,
        description="the pool's figures at its full count; the pool's own figures are those after the shrink",
    )


class PoolReport(InBytes, Model):
    name: str
    arch: str
    node: int
    base_page_bytes: int
    hugepage_bytes: int
    hugepage_size: str
    mapped_by: str
    hugepages: int
    pool_bytes: int
    struct_page_bytes: int
    kernel: str
    hvo_active: bool
    reason: str | None
    per_hugepage: PerHugepage
    vmemmap_pages: int
    vmemmap_bytes: int
    reserved_pages: int
    freed_pages: int
    pagetable_pages: int
    saved_pages: int
    saved_bytes: int
    saved_percent: float = Field(description="saved_bytes as a share of pool_bytes, in percent")
    split_pmds: int
    tlb_flushes: int
    boot_line: str | None
    would_free: WouldFree | None
    boot_time: bool
    memtotal_gain_bytes: int = Field(description="vmemmap frames returned from boot memory: MemTotal grows")
    memfree_gain_bytes: int = Field(description="saved_bytes: what MemFree gains once the pool exists")
    peak_vmemmap_bytes: int = Field(description="most vmemmap and split tables in use while the pool is allocated")
    transient_bytes: int = Field(description="peak_vmemmap_bytes above what stays after HVO")
    shrink: ShrinkReport | None
    zone: str = Field(default="normal", description="the zone of its node the pool lives in")
    shared_tail_pages: int = Field(
        default=0,
        description="7.1+: shared read-only tail pages this pool allocated (one per node, zone and "
        "hugepage order, charged to the first pool of its kind); 0 on older kernels",
    )
    preoptimized: bool = Field(
        default=False,
        description="boot-time gigantic pages whose vmemmap was populated already optimized "
        "(x86-64 6.15+): the freed pages never existed",
    )
    memmap_pages: int = Field(
        default=0,
        description="vmemmap pages the pool holds from the buddy allocator, as /proc/vmstat "
        "nr_memmap_pages counts them (6.11+): head copies and restored tails",
    )
    memmap_boot_pages_freed: int = Field(
        default=0,
        description="boot-memory vmemmap pages the pool's HVO freed or never populated: what it takes "
        "off /proc/vmstat nr_memmap_boot_pages (6.11+)",
    )

    @property
    def would_free_bytes(self) -> int:
        """What turning HVO on would free (0 where it is on)."""
        return self.would_free.freed_pages * self.base_page_bytes if self.would_free else 0


class KnownIssueReport(Model):
    """A known kernel problem that the planned release is (or may be) in range of."""

    id: str
    first: str = Field(description="first affected release")
    last: str = Field(description="last affected release")
    applies: str = Field(description="yes: the planned point release is in range; maybe: only the mainline is known")
    summary: str
    detail: str
    source: str
    pools: list[str] = Field(description="pools of this plan it bites (for a shrink leak: pools with shrink_to)")


class Totals(InBytes, Model):
    """All pools summed. `hugepage_bytes` is the bytes of all hugepages (pool_bytes);
    `per_hugepage` is given when every pool has the same hugepage size, else null."""

    arch: str
    base_page_bytes: int
    struct_page_bytes: int
    hugepages: int
    hugepage_bytes: int
    pool_bytes: int
    hvo_active: bool
    reason: str | None
    per_hugepage: PerHugepage | None
    vmemmap_pages: int
    vmemmap_bytes: int
    reserved_pages: int
    freed_pages: int
    pagetable_pages: int
    saved_pages: int
    saved_bytes: int
    saved_percent: float
    shared_tail_pages: int = 0


class NodeReport(InBytes, Model):
    """One NUMA node's pools, summed."""

    _base_page_bytes: int = PrivateAttr(default=0)  # the plan's, set by `PlanReport`

    @property
    def page_bytes(self) -> int:
        return self._base_page_bytes

    node: int
    memory_bytes: int | None
    free_bytes: int | None = Field(description="free memory assumed when a pool shrinks")
    pools: int
    hugepages: int
    pool_bytes: int
    vmemmap_pages: int
    reserved_pages: int
    freed_pages: int
    pagetable_pages: int
    saved_pages: int
    saved_bytes: int
    shared_tail_pages: int = 0


class MemoryBudget(Model):
    """The host's struct-page memory before and after HVO (when node memory is given)."""

    memory_bytes: int
    vmemmap_bytes_before: int = Field(description="struct pages of all RAM")
    vmemmap_bytes_after: int
    vmemmap_percent_before: float
    vmemmap_percent_after: float
    memtotal_gain_bytes: int
    memfree_gain_bytes: int
    peak_transient_bytes: int


class HostReport(Model):
    arch: str
    base_page_bytes: int
    kernel: str
    kernel_requested: str
    struct_page_bytes: int
    hvo_enabled: bool
    placement: str
    memory_bytes: int | None = Field(default=None, description="host RAM, when the plan gives node memory")
    notes: list[str]
    kernel_release: str = Field(default="", description="the release as given: mainline, stable or uname -r")
    head_copy_mandatory: bool = Field(
        default=False,
        description="7.1+: each optimized hugepage needs its head copy allocated, or it stays "
        "unoptimized (6.2-7.0 fell back to keeping the old frame)",
    )
    hvo_enable_hint: str | None = Field(
        default=None, description="how to switch HVO on, where distribution kernels leave it off"
    )


class CheckResult(Model):
    """One check of `hvo-calc check`: a budget, a known issue of the release, or a drift finding
    (`check --host --expect`: the host against the plan)."""

    name: str = Field(
        description="the budget's option (--min-saved), `known issue ID`, or what a drift finding is about "
        "(hvo, pool 2M node 0, boot pool 1G node 1, counter nr_memmap_pages host, ...)"
    )
    kind: Literal["budget", "known_issue", "drift"]
    limit: int | float | str | None = Field(description="the limit, or what the plan expects")
    value: int | float | str | None = Field(description="the figure, or what the host has")
    passed: bool
    message: str = Field(description="one line, as check prints it")


class PlanReport(Model):
    schema_version: str = SCHEMA_VERSION
    tool: str
    host: HostReport
    pools: list[PoolReport]
    nodes: list[NodeReport]
    totals: Totals
    memory: MemoryBudget | None
    known_issues: list[KnownIssueReport] = Field(default_factory=list)
    checks: list[CheckResult] = Field(
        default_factory=list, description="`check`: every budget and drift finding, in order; empty from `plan`"
    )

    @model_validator(mode="after")
    def _node_page_bytes(self) -> "PlanReport":
        """Each node's figures in bytes are in the host's base page."""
        for node in self.nodes:
            node._base_page_bytes = self.host.base_page_bytes
        return self
