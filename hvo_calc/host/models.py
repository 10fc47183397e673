"""The inspect report: what was read from the host, the plan made from it, and the
comparison of the model's figures with the kernel's own counters.

`INSPECT_SCHEMA_VERSION` follows the same rules as the plan report's: a minor bump only
adds fields, renaming or removing one is a major bump. The plan inside is a `PlanReport`
with its own `schema_version`.
"""

from typing import Literal

from pydantic import Field

from hvo_calc.base import Model
from hvo_calc.models import PlanReport

INSPECT_SCHEMA_VERSION = "1.0"

HvoState = Literal["on", "off", "not built", "not available", "unknown"]
Basis = Literal["model", "plan input"]
Status = Literal["agrees", "explained", "unexplained", "not available", "not compared"]


class HugepageCounts(Model):
    """One hugepage size, host-wide (/sys/kernel/mm/hugepages) or on one node."""

    hugepage_size: str
    hugepage_bytes: int
    total: int | None = Field(description="nr_hugepages: persistent and surplus hugepages")
    free: int | None = Field(description="free_hugepages")
    surplus: int | None = Field(description="surplus_hugepages")
    reserved: int | None = Field(default=None, description="resv_hugepages (host-wide only)")
    overcommit: int | None = Field(default=None, description="nr_overcommit_hugepages (host-wide only)")
    boot: int | None = Field(
        default=None,
        description="allocated at boot by the command line (hugepages=); on a node, as the "
        "per-node form gives it or as the kernel spreads the plain form over the nodes; null: not read",
    )


class MeminfoHugepages(Model):
    """The HugePages_* lines of a meminfo file (the default hugepage size only)."""

    total: int | None
    free: int | None
    surplus: int | None
    reserved: int | None = None


class NodeFacts(Model):
    node: int
    memory_bytes: int | None = Field(description="MemTotal of the node's meminfo: the memory the kernel manages")
    present_pages: int | None = Field(description="present pages of its zones (/proc/zoneinfo)")
    managed_pages: int | None = Field(description="managed pages of its zones (/proc/zoneinfo)")
    hugepages: list[HugepageCounts]
    meminfo_hugepages: MeminfoHugepages | None


class BootHugepagesFact(Model):
    """One `hugepages=` of the command line."""

    hugepage_size: str
    hugepage_bytes: int
    count: int
    per_node: dict[int, int] | None = Field(description="the NODE:COUNT form; null for a count on all nodes")


class HvoFacts(Model):
    """Whether HVO is built, and whether it is on."""

    built: bool | None = Field(description="vm.hugetlb_optimize_vmemmap exists (null: could not tell)")
    sysctl: int | None = Field(description="vm.hugetlb_optimize_vmemmap: the current setting, not the pools' state")
    cmdline: bool | None = Field(description="hugetlb_free_vmemmap= on the command line: the boot setting")
    available: bool | None = Field(
        description="whether this kernel has HVO on this architecture at all (the model's kernel data)"
    )
    state: HvoState
    planned_on: bool = Field(description="what the plan assumed")


class BootLineFact(Model):
    hugepage_size: str
    hugepage_bytes: int
    preallocated: int | None
    can_free_kib: int | None


class HostFacts(Model):
    machine: str | None = Field(description="uname -m")
    machine_source: str
    arch: str | None = Field(description="the hvo-calc profile's architecture")
    base_page_bytes: int | None
    base_page_source: str
    paging: int | None = Field(
        default=None,
        description="page-table levels where the architecture has two: "
        "x86-64 from VmallocTotal (32 TiB with 4 levels, 12800 TiB with 5)",
    )
    kernel_release: str | None = Field(description="uname -r")
    kernel_version: str | None = Field(description="the upstream point release, where it can be told")
    kernel_modelled: str | None = Field(description="the release whose rules the plan uses")
    cmdline: str | None
    hvo: HvoFacts
    default_hugepage_size: str | None
    boot_hugepages: list[BootHugepagesFact]
    memory_bytes: int | None = Field(description="MemTotal of /proc/meminfo")
    meminfo_hugepages: MeminfoHugepages | None
    hugepages: list[HugepageCounts]
    nodes: list[NodeFacts]
    nr_memmap_pages: int | None = Field(description="/proc/vmstat (6.11+): vmemmap pages from the buddy allocator")
    nr_memmap_boot_pages: int | None = Field(description="/proc/vmstat (6.11+): vmemmap pages from boot memory")
    memory_block_bytes: int | None
    section_bytes: int | None = Field(description="SPARSEMEM section size of the architecture")
    present_sections: int | None = Field(description="estimate: per node, present pages rounded up to whole sections")
    boot_lines: list[BootLineFact]
    dmesg: list[str] = Field(description="the HugeTLB lines of the kernel log, when it was readable")


class ComparisonRow(Model):
    """One figure the model predicts (or the plan assumed) against what the kernel counts."""

    counter: str = Field(
        description="the kernel's name for it (nr_memmap_pages, HugePages_Total, ...), or "
        "hugetlb_boot_can_free_kib / hugetlb_boot_preallocated for the HugeTLB boot lines"
    )
    scope: str = Field(description="host or nodeN")
    hugepage_size: str | None = Field(description="the hugepage size the counter is about, if one")
    unit: str = Field(description="pages (base pages), hugepages, bytes or KiB")
    basis: Basis = Field(description="model: the engine's figure; plan input: what inspect read and gave the plan")
    predicted: int | None
    observed: int | None
    difference: int | None = Field(description="observed - predicted")
    status: Status
    explained: bool | None = Field(description="true: agrees or the difference is accounted for; null: not checked")
    explanation: str


class ProblemReport(Model):
    source: str
    message: str


class InspectReport(Model):
    schema_version: str = INSPECT_SCHEMA_VERSION
    tool: str
    summary: list[str] = Field(description="HVO's state first, then what it frees or would free")
    host: HostFacts
    plan: PlanReport | None = Field(description="the plan of the host's pools (null: no hugepages allocated)")
    comparison: list[ComparisonRow]
    notes: list[str]
    problems: list[ProblemReport]
