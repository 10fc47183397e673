"""The compare and recommend reports: what `--format json` prints, and what the renderers show.

Each has a `schema_version` of its own, under the plan report's rules (a minor bump only
adds fields); a compare scenario's `report` is a plan report in the plan's schema."""

from typing import Literal

from pydantic import ConfigDict, Field

from hvo_calc.base import Model
from hvo_calc.models import PlanReport

COMPARE_SCHEMA_VERSION = "2.0"
RECOMMEND_SCHEMA_VERSION = "1.0"

SCHEMA_VERSION_TEXT = "this report's schema version: a minor bump only adds fields, a major one renames or removes"


class Figures(Model):
    """A scenario's figures in bytes (a delta: each one less the baseline's)."""

    hugepages: int = Field(description="hugepages of all pools")
    pool_bytes: int = Field(description="bytes of all hugepages")
    vmemmap_bytes: int = Field(description="bytes of the vmemmap pages that hold the hugepages' struct pages")
    reserved_bytes: int = Field(
        description="reserved_pages x base page: vmemmap pages that keep a frame of their own (1 per optimized "
        "hugepage since 5.18, 2 in 5.14-5.17; all of them without HVO)"
    )
    freed_bytes: int = Field(description="freed_pages x base page: vmemmap HVO returns, net of head copies")
    pagetable_bytes: int = Field(description="pagetable_pages x base page: PTE tables of the vmemmap PMDs HVO split")
    shared_tail_bytes: int = Field(description="shared_tail_pages x base page: 7.1+'s shared read-only tail pages")
    saved_bytes: int = Field(description="freed_bytes - pagetable_bytes - shared_tail_bytes: what MemFree gains")
    memtotal_gain_bytes: int = Field(description="vmemmap returned from boot memory: what MemTotal grows by")
    memfree_gain_bytes: int = Field(description="what MemFree grows by once the pools exist (saved_bytes)")
    vmemmap_percent_before: float | None = Field(
        description="struct pages as a share of RAM without HVO, in percent; null without node memory"
    )
    vmemmap_percent_after: float | None = Field(
        description="struct pages as a share of RAM with HVO, in percent; null without node memory"
    )


class Scenario(Model):
    """One combination of the axes (or one plan file), planned as `plan` plans it."""

    name: str = Field(description="what sets it apart: the plan file's name and AXIS=VALUE of each axis that varies")
    varies: dict[str, str] = Field(description="the value of each axis that varies, by option name")
    report: PlanReport | None = Field(description="the plan report (same schema as plan); null: cannot exist")
    figures: Figures | None = Field(description="the report's figures in bytes; null for an impossible scenario")
    delta: Figures | None = Field(description="figures less the baseline's; null for an impossible scenario")
    reason: str | None = Field(description="why the scenario cannot exist; null when it was planned")
    no_hvo: str | None = Field(
        default=None,
        description="why HVO frees nothing in a planned scenario (off, or the release or architecture lacks it); "
        "null where it frees vmemmap",
    )


class CompareReport(Model):
    """What `hvo-calc compare --format json` prints: each scenario planned, with its figures
    and their difference from the baseline's."""

    model_config = ConfigDict(title="hvo-calc compare report")

    schema_version: str = Field(default=COMPARE_SCHEMA_VERSION, description=SCHEMA_VERSION_TEXT)
    baseline: str = Field(description="name of the scenario the deltas are taken from")
    pool_basis: Literal["memory", "count"] | None = Field(
        description="when --huge varies: whether each pool kept its memory (given by size) or its count"
    )
    scenarios: list[Scenario] = Field(
        description="every scenario: for each plan file, each combination of the axes' values in the order given"
    )


class Layout(Model):
    """Pools of one hugepage size on one release that hold the need, and what they return."""

    rank: int = Field(description="1 for the best: most memory returned (saved_bytes), then least extra_bytes")
    kernel: str = Field(description="the mainline release whose rules the layout is planned on")
    hugepage_size: str = Field(description="the hugepage size in short form (2M, 1G)")
    hugepage_bytes: int = Field(description="the hugepage size in bytes")
    boot: bool = Field(description="allocated at boot (hugepages= on the command line), else at run time (sysfs)")
    nodes: int = Field(description="NUMA nodes the hugepages are spread over")
    extra_bytes: int = Field(description="hugepage memory above the need (whole hugepages per node)")
    hvo_active: bool = Field(description="whether HVO frees vmemmap for every pool of the layout")
    reason: str | None = Field(description="why HVO frees nothing here, where it does not")
    figures: Figures = Field(description="the layout's figures in bytes, as compare reports them")
    cmdline: str = Field(description="kernel command line that sets the layout up")


class Impossible(Model):
    """A hugepage size on a release that cannot hold the need, and why."""

    kernel: str = Field(description="the release, as asked for")
    hugepage_size: str = Field(description="the hugepage size in short form (2M, 1G)")
    reason: str = Field(description="why no layout of this size can be planned (one line, as plan would say it)")


class RecommendReport(Model):
    """What `hvo-calc recommend --format json` prints: the layouts that hold the need, best
    first, and the sizes that cannot."""

    model_config = ConfigDict(title="hvo-calc recommend report")

    schema_version: str = Field(default=RECOMMEND_SCHEMA_VERSION, description=SCHEMA_VERSION_TEXT)
    need_bytes: int = Field(description="the hugepage memory asked for (--need), in bytes")
    arch: str = Field(description="the architecture, as hvo-calc names it (x86-64, arm64, ...)")
    base_page_bytes: int = Field(description="the base page size in bytes")
    layouts: list[Layout] = Field(description="best first: most memory returned (saved), then least extra")
    impossible: list[Impossible] = Field(description="each release and hugepage size that cannot hold the need")
