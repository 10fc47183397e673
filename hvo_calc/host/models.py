"""The inspect report: what was read from the host, the plan made from it, and the
comparison of the model's figures with the kernel's own counters.

`INSPECT_SCHEMA_VERSION` follows the same rules as the plan report's: a minor bump only
adds fields, renaming or removing one is a major bump. The plan inside is a `PlanReport`
with its own `schema_version`. Every field carries a description (`hvo-calc schema
--command inspect` publishes them).
"""

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, computed_field

from hvo_calc.base import Model, Renamed
from hvo_calc.models import PlanReport

INSPECT_SCHEMA_VERSION = "2.0"
# 2.0: host.hvo.planned_on is host.hvo.hvo_enabled, the plan report's name (planned_on stays as a
#      deprecated alias through 2.x); the plan inside is a plan report 2.0; host.hvo.unavailable_reason
#      and host.unknown_parameters added (the facts the summary is worded from)

HvoState = Literal["on", "off", "not built", "not available", "unknown"]
Basis = Literal["model", "plan input"]
Status = Literal["agrees", "explained", "unexplained", "not available", "not compared"]

HUGEPAGE_SIZE = "the hugepage size in short form (2M, 1G)"
HUGEPAGE_BYTES = "the hugepage size in bytes"


class HugepageCounts(Model):
    """One hugepage size, host-wide (/sys/kernel/mm/hugepages) or on one node."""

    hugepage_size: str = Field(description=HUGEPAGE_SIZE)
    hugepage_bytes: int = Field(description=HUGEPAGE_BYTES)
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

    total: int | None = Field(description="HugePages_Total; null: not in the file")
    free: int | None = Field(description="HugePages_Free; null: not in the file")
    surplus: int | None = Field(description="HugePages_Surp; null: not in the file")
    reserved: int | None = Field(default=None, description="HugePages_Rsvd (host-wide /proc/meminfo only)")


class NodeFacts(Model):
    """One NUMA node as read from /sys/devices/system/node/nodeN and /proc/zoneinfo."""

    node: int = Field(description="the NUMA node's number")
    memory_bytes: int | None = Field(description="MemTotal of the node's meminfo: the memory the kernel manages")
    present_pages: int | None = Field(description="present pages of its zones (/proc/zoneinfo)")
    managed_pages: int | None = Field(description="managed pages of its zones (/proc/zoneinfo)")
    hugepages: list[HugepageCounts] = Field(description="the node's hugepage counts, one entry per size")
    meminfo_hugepages: MeminfoHugepages | None = Field(
        description="the HugePages_* lines of the node's meminfo (host-wide /proc/meminfo without NUMA); null: unread"
    )


class BootHugepagesFact(Model):
    """One `hugepages=` of the command line."""

    hugepage_size: str = Field(description=HUGEPAGE_SIZE + ": the hugepagesz= before it, else the default size")
    hugepage_bytes: int = Field(description=HUGEPAGE_BYTES)
    count: int = Field(description="hugepages it allocates at boot, on all nodes together")
    per_node: dict[int, int] | None = Field(description="the NODE:COUNT form; null for a count on all nodes")


class HvoFacts(Renamed):
    """Whether HVO is built, and whether it is on."""

    built: bool | None = Field(description="vm.hugetlb_optimize_vmemmap exists (null: could not tell)")
    sysctl: int | None = Field(description="vm.hugetlb_optimize_vmemmap: the current setting, not the pools' state")
    cmdline: bool | None = Field(description="hugetlb_free_vmemmap= on the command line: the boot setting")
    available: bool | None = Field(
        description="whether this kernel has HVO on this architecture at all (the model's kernel data)"
    )
    state: HvoState = Field(
        description="on or off: the sysctl; not built: no sysctl; not available: the kernel data has no HVO "
        "for this architecture and release; unknown: nothing tells"
    )
    renamed: ClassVar[dict[str, str]] = {"planned_on": "hvo_enabled"}
    hvo_enabled: bool = Field(
        description="whether the plan of the host's pools has HVO switched on: the plan report's host.hvo_enabled"
    )

    unavailable_reason: str | None = Field(
        default=None,
        description="why the kernel data has no HVO for this architecture and release; null where it has",
    )

    @computed_field(description="deprecated alias of hvo_enabled (its 1.x name); gone in 3.0")  # type: ignore[prop-decorator]
    @property
    def planned_on(self) -> bool:
        return self.hvo_enabled


class BootLineFact(Model):
    """What the HugeTLB boot lines of the kernel log say of one hugepage size."""

    hugepage_size: str = Field(description=HUGEPAGE_SIZE)
    hugepage_bytes: int = Field(description=HUGEPAGE_BYTES)
    preallocated: int | None = Field(
        description="hugepages allocated at boot (HugeTLB: registered ... page size, pre-allocated N pages)"
    )
    can_free_kib: int | None = Field(
        description="vmemmap the kernel says HVO can free per hugepage, in KiB (6.0+: N KiB vmemmap can be freed)"
    )


class HostFacts(Model):
    """What inspect read from the host (live, or a captured tree) and what it made of it."""

    machine: str | None = Field(description="uname -m")
    machine_source: str = Field(
        description="where machine was read: uname, uname.txt, proc/sys/kernel/arch, the release's suffix "
        "(-amd64), or not found"
    )
    arch: str | None = Field(description="the hvo-calc profile's architecture")
    base_page_bytes: int | None = Field(description="the base page size in bytes")
    base_page_source: str = Field(
        description="where the base page size was read: sysconf(_SC_PAGE_SIZE), uname.txt, or derived "
        "from MemTotal and managed pages; not found"
    )
    paging: int | None = Field(
        default=None,
        description="page-table levels where the architecture has two: "
        "x86-64 from VmallocTotal (32 TiB with 4 levels, 12800 TiB with 5)",
    )
    kernel_release: str | None = Field(description="uname -r")
    kernel_version: str | None = Field(description="the upstream point release, where it can be told")
    kernel_modelled: str | None = Field(description="the release whose rules the plan uses")
    cmdline: str | None = Field(description="the kernel command line (/proc/cmdline); null: not read")
    hvo: HvoFacts = Field(description="whether HVO is built and on")
    default_hugepage_size: str | None = Field(
        description="the default hugepage size (default_hugepagesz=, else meminfo's Hugepagesize)"
    )
    boot_hugepages: list[BootHugepagesFact] = Field(description="each hugepages= of the command line, by size")
    memory_bytes: int | None = Field(description="MemTotal of /proc/meminfo")
    meminfo_hugepages: MeminfoHugepages | None = Field(description="the HugePages_* lines of /proc/meminfo")
    hugepages: list[HugepageCounts] = Field(description="host-wide counts per hugepage size (/sys/kernel/mm/hugepages)")
    nodes: list[NodeFacts] = Field(description="each NUMA node's memory and hugepage counts")
    nr_memmap_pages: int | None = Field(description="/proc/vmstat (6.11+): vmemmap pages from the buddy allocator")
    nr_memmap_boot_pages: int | None = Field(description="/proc/vmstat (6.11+): vmemmap pages from boot memory")
    memory_block_bytes: int | None = Field(
        description="the memory hotplug block size in bytes (/sys/devices/system/memory/block_size_bytes)"
    )
    section_bytes: int | None = Field(description="SPARSEMEM section size of the architecture")
    present_sections: int | None = Field(description="estimate: per node, present pages rounded up to whole sections")
    boot_lines: list[BootLineFact] = Field(description="what the HugeTLB boot lines say, per hugepage size")
    dmesg: list[str] = Field(description="the HugeTLB lines of the kernel log, when it was readable")
    unknown_parameters: list[str] = Field(
        default_factory=list,
        description="hugetlb parameters of the command line that the kernel log says it did not know",
    )


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
    predicted: int | None = Field(description="the model's figure (or the plan's input), in unit; null: none")
    observed: int | None = Field(description="what the kernel counts, in unit; null: not read")
    difference: int | None = Field(description="observed - predicted")
    status: Status = Field(
        description="agrees: no difference; explained: a difference accounted for; unexplained: one that is not; "
        "not available: the kernel has no such counter; not compared: a figure is missing"
    )
    explained: bool | None = Field(description="true: agrees or the difference is accounted for; null: not checked")
    explanation: str = Field(
        description="how the prediction is made up, what accounts for a difference, or why it was not compared"
    )


class ProblemReport(Model):
    """Something inspect could not read or understand."""

    source: str = Field(description="the file or source it is about (proc/cmdline, ...)")
    message: str = Field(description="what is wrong, in one line")


class InspectReport(Model):
    """What `hvo-calc inspect --format json` prints: the host as read, the plan of its pools,
    and the model's figures against the kernel's own counters."""

    model_config = ConfigDict(title="hvo-calc inspect report")

    schema_version: str = Field(
        default=INSPECT_SCHEMA_VERSION,
        description="this report's schema version: a minor bump only adds fields, a major one renames or removes",
    )
    tool: str = Field(description="the tool and its version (hvo-calc 0.1.0)")
    summary: list[str] = Field(description="HVO's state first, then what it frees or would free")
    host: HostFacts = Field(description="what was read from the host")
    plan: PlanReport | None = Field(description="the plan of the host's pools (null: no hugepages allocated)")
    comparison: list[ComparisonRow] = Field(description="each figure of the model against the kernel's counter")
    notes: list[str] = Field(description="what inspect assumed or could not tell, one line each")
    problems: list[ProblemReport] = Field(description="what inspect could not read or understand")
