"""The report: pydantic models that are the JSON schema users script against.

`SCHEMA_VERSION` follows semantic rules: a minor bump only adds fields; renaming or
removing one is a major bump.
"""

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class PoolReport(Model):
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


class Totals(Model):
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


class PlanReport(Model):
    schema_version: str = SCHEMA_VERSION
    tool: str
    host: HostReport
    pools: list[PoolReport]
    totals: Totals
