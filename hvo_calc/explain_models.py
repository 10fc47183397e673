"""The explain report: what `hvo-calc explain --format json` prints, as pydantic models.

`explain.as_dict` builds the report from what it read of the model's page tables and
passes it through `ExplainReport`, so the output is what this schema says. Frame numbers
are the model's own (its RAM and the frames it allocates), not a real host's.
`EXPLAIN_SCHEMA_VERSION` follows the plan report's rules: a minor bump only adds fields.
"""

from typing import Any, Literal

from pydantic import ConfigDict, Field

from hvo_calc.base import Model

EXPLAIN_SCHEMA_VERSION = "1.0"

Flags = Literal["RW", "RO", "--"]
Via = Literal["pmd-leaf", "pte"]
Role = Literal["head", "head-copy", "kept", "tail"]
Maps = Literal["head", "kept", "head-copy", "shared-tail"]

HEX = r"^0x[0-9a-f]+$"
# A one-value Literal: older pydantic writes no "type" for it; given here, every version writes the same.
STRING: dict[str, Any] = {"type": "string"}
FLAGS = "RW: present and writable; RO: present, read-only; --: not present"
VIA = "pmd-leaf: a PMD leaf maps the page's block; pte: a PTE of a page table maps it"
MAPS = (
    "what the tails map: kept (the second kept page, 5.14-5.17), head (5.18-6.1), head-copy (6.2-7.0) "
    "or shared-tail (7.1+: the zone's shared read-only tail page)"
)


class PageBefore(Model):
    """How a vmemmap page was mapped right after populate."""

    pfn: int = Field(description="the frame (page frame number) it mapped")
    flags: Flags = Field(description=FLAGS)
    via: Via = Field(description=VIA)


class PageAfter(Model):
    """How a vmemmap page is mapped once the remap is done and verified."""

    pfn: int = Field(description="the frame it maps")
    flags: Flags = Field(description=FLAGS)
    via: Via = Field(description=VIA)
    role: Role = Field(
        description="head: the head page, still on its original frame; head-copy: the head moved to a fresh "
        "copy (6.2+); kept: another page on a frame of its own (5.14-5.17's second page; every page without HVO); "
        "tail: remapped read-only to a page it shares"
    )
    copy_of: int | None = Field(
        default=None, description="the frame its new frame is a copy of (the allocator's log); present only then"
    )
    maps: Maps | None = Field(default=None, description=MAPS + "; present only for a tail")


class PageReport(Model):
    """One vmemmap page of a hugepage, before and after."""

    index: int = Field(description="its place among the hugepage's vmemmap pages, from 0")
    vaddr: str = Field(pattern=HEX, description="its virtual address in the vmemmap, in hex")
    before: PageBefore = Field(description="its mapping right after populate")
    after: PageAfter = Field(description="its mapping once the remap is done")
    freed: bool = Field(description="whether the frame it mapped before was freed")


class RunBefore(Model):
    """What a run of like pages mapped right after populate: consecutive frames."""

    first_pfn: int = Field(description="the frame its first page mapped")
    last_pfn: int = Field(description="the frame its last page mapped")
    flags: Flags = Field(description=FLAGS)


class RunAfter(Model):
    """What a run of like pages maps once the remap is done: one frame (tails) or consecutive ones."""

    first_pfn: int = Field(description="the frame its first page maps")
    last_pfn: int = Field(description="the frame its last page maps (first_pfn for tails sharing one)")
    flags: Flags = Field(description=FLAGS)
    maps: Maps | None = Field(default=None, description=MAPS + "; present only for tails")


class ElidedRun(Model):
    """A run of like pages left out of the drawing (one role and fate), given as spans."""

    first_index: int = Field(description="the index of its first page")
    count: int = Field(description="vmemmap pages in the run")
    role: Role = Field(description="the role every page of the run has (as after.role of a page)")
    first_vaddr: str = Field(pattern=HEX, description="the virtual address of its first page, in hex")
    last_vaddr: str = Field(pattern=HEX, description="the virtual address of its last page, in hex")
    before: RunBefore = Field(description="the frames it mapped right after populate")
    after: RunAfter = Field(description="the frames it maps once the remap is done")
    freed: bool = Field(description="whether the frames it mapped before were freed")


class ExplainedHugepage(Model):
    """One simulated hugepage: where it is, and what the remap did to its vmemmap pages."""

    index: int = Field(description="which of the simulated hugepages, from 0")
    first_pfn: int = Field(description="the first frame of the hugepage itself")
    nr_pfns: int = Field(description="base pages in the hugepage: hugepage_bytes / base_page_bytes")
    struct_pages_vaddr: str = Field(pattern=HEX, description="the virtual address of its first struct page, in hex")
    vmemmap_pages: int = Field(description="vmemmap pages holding its struct pages")
    kept_pages: int = Field(description="vmemmap pages left on frames of their own (head, head copy or kept)")
    tail_pages: int = Field(description="vmemmap pages remapped read-only to a page they share")
    tails_map: Maps | None = Field(description=MAPS + "; null where no tail was remapped")
    tails_pfn: int | None = Field(description="the frame the tails map; null where no tail was remapped")
    pages: list[PageReport] = Field(
        description="the pages drawn: each page, but of a run longer than 8 only its first two and its last"
    )
    elided: list[ElidedRun] = Field(description="the rest of each long run, as one span each")
    freed_pages: int = Field(
        description="frames the remap freed: the tails' and, where the head moves to a copy (6.2+), the old head's"
    )
    freed_pfn_ranges: list[tuple[int, int]] = Field(description="the frames freed, as [first, last] runs")
    allocated_pfns: list[int] = Field(description="vmemmap frames allocated for it (its head copy)")


class SplitBefore(Model):
    """The PMD leaf that mapped a block of the vmemmap before the remap."""

    kind: Literal["leaf"] = Field(description="a PMD leaf", json_schema_extra=STRING)
    pfn: int = Field(description="the first frame of the block it maps")
    pages: int = Field(description="base pages the block maps")
    flags: Flags = Field(description=FLAGS)


class SplitAfter(Model):
    """The PTE table that replaced the leaf."""

    kind: Literal["table"] = Field(description="a page table of PTEs", json_schema_extra=STRING)
    pfn: int = Field(description="the frame of the page-table page")


class PmdSplitReport(Model):
    """A PMD leaf over the vmemmap that the remap replaced with a PTE table (never undone)."""

    vaddr: str = Field(pattern=HEX, description="the virtual address the PMD maps, in hex")
    hugepages: list[int] = Field(description="the simulated hugepages whose vmemmap lies in it (their index)")
    before: SplitBefore = Field(description="the leaf before the split")
    after: SplitAfter = Field(description="the table after it")
    table_pfn: int = Field(description="the page-table page the split cost: one page of pagetable_pages in plan")


class SharedTail(Model):
    """7.1+: the read-only page the tails of every hugepage of one order in one zone map."""

    node: int = Field(description="the NUMA node of the zone")
    zone: str = Field(description="the zone (normal, movable, ...)")
    order: int = Field(description="the hugepage order it serves: log2(hugepage_bytes / base_page_bytes)")
    pfn: int = Field(description="its frame")


class ExplainReport(Model):
    """What `hvo-calc explain --format json` prints: HVO performed on a few hugepages of one
    size on the model, every vmemmap page before and after, read from its page tables."""

    model_config = ConfigDict(title="hvo-calc explain report")

    schema_version: str = Field(
        default=EXPLAIN_SCHEMA_VERSION,
        description="this report's schema version: a minor bump only adds fields, a major one renames or removes",
    )
    tool: str = Field(description="the tool and its version (hvo-calc 0.1.0)")
    arch: str = Field(description="the architecture, as hvo-calc names it (x86-64, arm64, ...)")
    profile: str = Field(description="the architecture profile: arch, base page and paging mode (x86-64 4K)")
    base_page: str = Field(description="the base page size in short form (4K)")
    base_page_bytes: int = Field(description="the base page size in bytes")
    hugepage_size: str = Field(description="the hugepage size in short form (2M, 1G)")
    hugepage_bytes: int = Field(description="the hugepage size in bytes")
    kernel: str = Field(description="the mainline release whose rules the model uses (major.minor)")
    kernel_release: str = Field(description="the release as given: mainline, stable or uname -r")
    struct_page_bytes: int = Field(description="sizeof(struct page) in bytes")
    hvo_active: bool = Field(description="whether HVO frees vmemmap for this size on this release")
    reason: str | None = Field(description="why HVO frees nothing here; null when hvo_active")
    struct_pages: int = Field(description="struct pages per hugepage: hugepage_bytes / base_page_bytes")
    vmemmap_bytes: int = Field(description="bytes of struct pages per hugepage: struct_pages x struct_page_bytes")
    vmemmap_pages: int = Field(description="whole vmemmap pages per hugepage: vmemmap_bytes / base_page_bytes")
    vmemmap_mapped_by: Via = Field(description="how populate maps the vmemmap on this architecture: " + VIA)
    simulated_hugepages: int = Field(description="hugepages simulated (the second shows what hugepages share)")
    hugepages: list[ExplainedHugepage] = Field(description="each simulated hugepage")
    pmd_splits: list[PmdSplitReport] = Field(description="each PMD leaf the remap split, in address order")
    shared_tail_pfn: int | None = Field(description="7.1+: the frame of the shared tail page; null before")
    shared_tail: SharedTail | None = Field(description="7.1+: the shared tail page and what it serves; null before")
