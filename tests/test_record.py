"""Records (hvo_calc/record.py): the plan path's data as dataclasses, checked where data comes
in, set once, and written as JSON byte for byte as pydantic writes the reports that hold them."""

import dataclasses
import json
import subprocess
import sys

import pytest

from hvo_calc.engine import Extent, PoolStats
from hvo_calc.models import PlanReport
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest, plan
from hvo_calc.profiles import ArchProfile, HugepageSize, config_dir, find_profile, read_toml
from hvo_calc.record import RecordError, adapter, build, read, replace, to_json


def x86_64_data() -> dict:
    return read_toml(config_dir() / "arch" / "x86-64-4k.toml")


def test_a_profile_built_from_its_file_is_the_shipped_one():
    assert build(ArchProfile, x86_64_data()) == find_profile("x86-64", paging=4)


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        ({"colour": "red"}, "colour", "Extra inputs are not permitted; accepted keys: arch, base_page"),
        ({"va_bits": "48"}, "va_bits", "expected an integer, not str '48'"),
        ({"va_bits": True}, "va_bits", "expected an integer, not bool True"),
        ({"vmemmap_leaf": "pud"}, "vmemmap_leaf", "expected one of 'pmd', 'pte', not 'pud'"),
        ({"zones": "normal"}, "zones", "expected a list, not str 'normal'"),
        ({"hugepage": [{"size": "2M"}]}, "hugepage.0.mapped_by", "missing"),
        ({"hugepage": [{"size": "2M", "mapped_by": "pmd", "contiguous": 0}]}, "hugepage.0.contiguous", "out of range"),
        ({"base_page": "6K"}, "base_page", "a power of two of at least 4K"),
    ],
)
def test_data_that_does_not_fit_is_named_by_key(change, where, problem):
    with pytest.raises(RecordError) as error:
        build(ArchProfile, {**x86_64_data(), **change})
    assert error.value.where == where and problem in error.value.problem


def test_a_missing_key_is_named():
    data = x86_64_data()
    del data["levels"]
    with pytest.raises(RecordError, match="^levels: missing$"):
        build(ArchProfile, data)


def test_sizes_read_as_bytes_however_the_record_is_made():
    assert HugepageSize(size="2M", mapped_by="pmd").size == 2 << 20
    assert build(PoolRequest, {"hugepage_size": "1G", "count": 1}).hugepage_size == 1 << 30
    assert PlanRequest(base_page="64K").base_page == 64 << 10


def test_a_record_is_set_once_and_compares_by_its_fields():
    pool = PoolRequest(hugepage_size="2M", count=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pool.count = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del pool.count  # type: ignore[misc]
    with pytest.raises(AttributeError, match="PoolRequest has no field 'cuont'"):
        pool.cuont = 3  # type: ignore[attr-defined]
    same, other = PoolRequest(hugepage_size=2 << 20, count=2), replace(pool, count=3)
    assert pool == same and hash(pool) == hash(same) and pool != other and other.count == 3
    assert repr(pool).startswith("PoolRequest(hugepage_size=2097152, count=2, node=0")


def test_the_engines_values_behave_as_dataclasses_would():
    """`frozen` and `mutable` classes compare, hash and print as dataclass(frozen=True) and
    dataclass would, with those methods written once for every class."""
    extent = Extent(4096, 512, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        extent.count = 4  # type: ignore[misc]
    with pytest.raises(AttributeError, match="Extent has no field 'cuont'"):
        extent.cuont = 4  # type: ignore[attr-defined]
    same, other = Extent(first_pfn=4096, stride_pages=512, count=3), dataclasses.replace(extent, count=4)
    assert extent == same and hash(extent) == hash(same) and extent != other and other.count == 4
    assert repr(extent) == "Extent(first_pfn=4096, stride_pages=512, count=3)"
    stats = PoolStats(hugepages=2)
    stats.add(PoolStats(hugepages=3, freed_pages=7))
    assert stats == PoolStats(hugepages=5, freed_pages=7) and stats != PoolStats(hugepages=5)
    assert repr(stats).startswith("PoolStats(hugepages=5, vmemmap_pages=0,")
    with pytest.raises(TypeError, match="unhashable"):
        hash(stats)


def test_a_value_its_checks_refuse_is_refused_on_replace_too():
    with pytest.raises(RecordError, match="count: Input should be greater than or equal to 1"):
        replace(PoolRequest(count=1), count=0)


@pytest.mark.parametrize(
    "request_",
    [
        PlanRequest(pools=(PoolRequest(hugepage_size="1G", count=2, boot=True),)),
        PlanRequest(
            kernel="6.12.117",
            nodes=(NodeRequest(memory="16G"),),
            pools=(PoolRequest(hugepage_size="2M", count=64, shrink_to=3, name='pool ✓ \U0001f600 "q"\n'),),
        ),
        PlanRequest(arch="arm64", base_page="64K", kernel="6.1", pools=(PoolRequest(hugepage_size="512M", count=3),)),
        PlanRequest(arch="powerpc64", hvo=False),
    ],
    ids=["1G-boot", "shrink-and-name", "arm64-64K", "no-hvo-defaults"],
)
def test_a_plan_is_written_as_pydantic_writes_it(request_):
    """The plan JSON is the records' own writer; inside inspect and compare pydantic writes
    it. Both give the same bytes, and the report reads back as it was."""
    report = plan(request_)
    ours = to_json(report)
    assert ours == adapter(PlanReport).dump_json(report, indent=2).decode()
    assert read(PlanReport, ours) == report
    assert json.loads(ours)["pools"][0]["memmap_boot_pages_freed"] == report.pools[0].memmap_boot_freed_pages


def test_a_plan_loads_no_pydantic():
    """Start-up (issue 20): the plan path is records, and pydantic is loaded by no step of it."""
    code = (
        "import io, contextlib, sys, hvo_calc.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: hvo_calc.cli.main(['plan', '--count', '1', '--format', 'json'])\n"
        "    except SystemExit as exit: assert exit.code == 0, exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_count_made_in_code_is_a_whole_number():
    for count in (True, 2.5, "3", 0):
        with pytest.raises(RecordError, match="^count: Input should be"):
            PoolRequest(count=count)


def test_pydantic_leaves_a_renamed_field_out_with_its_alias():
    """Serialized without the new name (pydantic's exclude), the old one has nothing to copy."""
    report = plan(PlanRequest(pools=(PoolRequest(hugepage_size="2M", count=3),)))
    pools = adapter(PlanReport).dump_python(report, exclude={"pools": {"__all__": {"memmap_boot_freed_pages"}}})[
        "pools"
    ]
    assert "memmap_boot_freed_pages" not in pools[0] and "memmap_boot_pages_freed" not in pools[0]
