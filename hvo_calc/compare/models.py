"""The compare and recommend reports: what `--format json` prints, and what the renderers show."""

from typing import Literal

from pydantic import Field

from hvo_calc.base import Model
from hvo_calc.models import PlanReport

COMPARE_SCHEMA_VERSION = "1.1"


class Figures(Model):
    """A scenario's figures in bytes (a delta: each one less the baseline's)."""

    hugepages: int
    pool_bytes: int
    vmemmap_bytes: int
    reserved_bytes: int
    freed_bytes: int
    pagetable_bytes: int
    shared_tail_bytes: int
    saved_bytes: int
    memtotal_gain_bytes: int
    memfree_gain_bytes: int
    vmemmap_percent_before: float | None = Field(description="struct pages as a share of RAM without HVO")
    vmemmap_percent_after: float | None = Field(description="struct pages as a share of RAM with HVO")


class Scenario(Model):
    """One combination of the axes (or one plan file), planned as `plan` plans it."""

    name: str
    varies: dict[str, str] = Field(description="the value of each axis that varies, by option name")
    report: PlanReport | None = Field(description="the plan report (same schema as plan); null: cannot exist")
    figures: Figures | None
    delta: Figures | None = Field(description="figures less the baseline's; null for an impossible scenario")
    reason: str | None = Field(description="why the scenario cannot exist; null when it was planned")
    no_hvo: str | None = Field(
        default=None,
        description="why HVO frees nothing in a planned scenario (off, or the release or architecture lacks it); "
        "null where it frees vmemmap",
    )


class CompareReport(Model):
    schema_version: str = COMPARE_SCHEMA_VERSION
    baseline: str = Field(description="name of the scenario the deltas are taken from")
    pool_basis: Literal["memory", "count"] | None = Field(
        description="when --huge varies: whether each pool kept its memory (given by size) or its count"
    )
    scenarios: list[Scenario]
