"""Sizes and architecture profiles: parsing, validation, selection. Expected values are the
reference tables (hvo-facts.md, kernels-2026.md) and the kernel sources the profile files
cite, written out here. Kernel data has its own tests (test_kernels.py)."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hvo_calc.cli import _register, cli
from hvo_calc.errors import InputError
from hvo_calc.profiles import all_profiles, check_profile_set, find_profile, load_profile
from hvo_calc.record import replace
from hvo_calc.units import GiB, KiB, MiB, TiB, human_size, parse_size, short_size

ARCH_DIR = Path(__file__).parents[1] / "configs/arch"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("64K", 64 * KiB),
        ("64KiB", 64 * KiB),
        ("64k", 64 * KiB),
        ("2M", 2 * MiB),
        ("1G", GiB),
        ("16G", 16 * GiB),
        ("512MiB", 512 * MiB),
        ("4096", 4096),
        (" 2m ", 2 * MiB),
    ],
)
def test_parse_size_accepts_binary_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "2X", "1.5G", "-2M", "G", "2MB5"])
def test_parse_size_rejects_with_the_accepted_forms(text):
    with pytest.raises(InputError, match="64K, 64KiB, 2M, 1G, 16G"):
        parse_size(text)


def test_size_spellings():
    assert short_size(2 * MiB) == "2M" and short_size(16 * GiB) == "16G" and short_size(64 * KiB) == "64K"
    assert human_size(2 * MiB) == "2.00 MiB" and human_size(GiB) == "1.00 GiB"


# -- every profile, against the reference tables --


def test_shipped_profiles_match_the_kernel_tables():
    sizes = {p.name: [short_size(h.size) for h in p.hugepage] for p in all_profiles()}
    assert sizes == {
        "x86-64 4K": ["2M", "1G"],
        "x86-64 4K 5-level": ["2M", "1G"],
        "arm64 4K": ["64K", "2M", "32M", "1G"],
        "arm64 16K": ["2M", "32M", "1G"],
        "arm64 64K": ["2M", "512M", "16G"],
        "riscv64 4K": ["64K", "2M", "1G"],
        "riscv64 4K Sv39": ["64K", "2M", "1G"],
        "loongarch64 4K": ["2M"],
        "loongarch64 16K": ["32M"],
        "loongarch64 64K": ["512M"],
        "s390x 4K": ["1M", "2G"],
        "powerpc64 4K radix": ["2M", "1G"],
        "powerpc64 64K radix": ["2M", "1G"],
        "powerpc64 64K hash": ["16M", "16G"],
    }


@pytest.mark.parametrize(
    "name, mappings",
    [
        ("riscv64 4K", ["contiguous PTE x16", "PMD", "PUD"]),  # 64K Svnapot
        ("s390x 4K", ["PMD", "PUD"]),  # segment, region-3
        ("loongarch64 16K", ["PMD"]),
        ("powerpc64 64K hash", ["PMD", "PUD"]),
    ],
)
def test_hugepage_sizes_name_the_level_that_maps_them(name, mappings):
    profile = next(p for p in all_profiles() if p.name == name)
    assert [h.mapping for h in profile.hugepage] == mappings


def test_every_hugepage_is_its_levels_block_times_its_run():
    for profile in all_profiles():
        for huge in profile.hugepage:
            assert huge.size == huge.contiguous << profile.level_shift(huge.mapped_by), (profile.name, huge)


@pytest.mark.parametrize(
    "name, leaf",
    [
        ("x86-64 4K", "pmd"),
        ("x86-64 4K 5-level", "pmd"),
        ("arm64 4K", "pmd"),
        ("arm64 16K", "pte"),
        ("arm64 64K", "pte"),
        ("riscv64 4K", "pmd"),
        ("loongarch64 4K", "pmd"),
        ("loongarch64 16K", "pmd"),
        ("loongarch64 64K", "pmd"),
        ("s390x 4K", "pmd"),
        ("powerpc64 64K radix", "pmd"),
    ],
)
def test_how_the_vmemmap_is_mapped(name, leaf):
    assert next(p for p in all_profiles() if p.name == name).vmemmap_leaf == leaf


def test_every_architecture_has_one_default_profile():
    defaults = {p.arch: p.name for p in all_profiles() if p.default}
    assert defaults == {
        "x86-64": "x86-64 4K",
        "arm64": "arm64 4K",
        "riscv64": "riscv64 4K",
        "loongarch64": "loongarch64 16K",
        "s390x": "s390x 4K",
        "powerpc64": "powerpc64 64K radix",
    }


def test_zones_a_pool_may_be_in():
    for profile in all_profiles():
        expected = ("dma32", "normal", "movable") if profile.arch == "x86-64" else ("normal", "movable")
        assert profile.zones == expected, profile.name


# -- selection: arch names, uname -m names, base page, paging, MMU --


@pytest.mark.parametrize(
    "given, arch",
    [
        ("x86-64", "x86-64"),
        ("x86_64", "x86-64"),
        ("X86_64", "x86-64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("riscv64", "riscv64"),
        ("loongarch64", "loongarch64"),
        ("s390x", "s390x"),
        ("ppc64le", "powerpc64"),
        ("ppc64", "powerpc64"),
        ("powerpc64", "powerpc64"),
    ],
)
def test_uname_machine_names_are_accepted(given, arch):
    assert find_profile(given).arch == arch


def test_arch_alone_selects_its_default_profile():
    assert find_profile("x86-64").name == "x86-64 4K"
    assert find_profile("loongarch64").name == "loongarch64 16K"
    assert find_profile("powerpc64").name == "powerpc64 64K radix"
    assert find_profile("powerpc64", 64 * KiB).name == "powerpc64 64K radix"


def test_paging_selects_x86_64_with_5_levels():
    profile = find_profile("x86_64", 4 * KiB, paging=5)
    assert profile.name == "x86-64 4K 5-level" and profile.levels == ("pgd", "p4d", "pud", "pmd", "pte")
    assert profile.va_bits == 57 and profile.vmemmap_start == 0xFFD4000000000000  # Documentation/arch/x86/x86_64/mm.rst
    assert profile.max_memory_bytes(64) == 4 << 50  # 52-bit physical addresses: 4 PiB
    assert find_profile("x86-64", paging=4).name == "x86-64 4K"


def test_mmu_selects_powerpc64_hash():
    assert find_profile("powerpc64", mmu="hash").name == "powerpc64 64K hash"
    assert find_profile("ppc64le", 4 * KiB, mmu="radix").name == "powerpc64 4K radix"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(arch="sparc"),
            "unknown architecture 'sparc'; accepted: arm64, loongarch64, powerpc64, riscv64, s390x, "
            "x86-64 (or aarch64, ppc64, ppc64le, x86_64 as uname -m prints them)",
        ),
        (dict(arch="x86-64", base_page=64 * KiB), "x86-64 has no 64K base page; accepted: 4K"),
        (dict(arch="loongarch64", base_page=8 * KiB), "loongarch64 has no 8K base page; accepted: 4K, 16K, 64K"),
        (dict(arch="x86-64", paging=3), "x86-64 has no 3-level paging; accepted: 4, 5"),
        (dict(arch="riscv64", base_page=4 * KiB, paging=4), "riscv64 4K has no 4-level paging; accepted: 3, 5"),
        (dict(arch="powerpc64", base_page=4 * KiB, mmu="hash"), "powerpc64 4K has no 'hash' MMU; accepted: radix"),
        (dict(arch="x86-64", mmu="radix"), "x86-64 has no 'radix' MMU; accepted: none (x86-64 has one MMU"),
    ],
)
def test_unknown_combinations_are_one_line_with_what_is_accepted(kwargs, message):
    with pytest.raises(InputError) as error:
        find_profile(**kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


# -- geometry: levels, table sizes, shifts, vmemmap --


def test_x86_64_can_address_64_tib_with_64_byte_struct_pages():
    assert find_profile("x86-64").max_memory_bytes(64) == 64 * TiB


def test_level_shifts_follow_the_page_size():
    assert find_profile("x86-64").level_shift("pmd") == 21
    assert find_profile("arm64", 64 * KiB).level_shift("pmd") == 29
    assert find_profile("arm64", 16 * KiB).level_shift("pmd") == 25
    assert find_profile("loongarch64", 16 * KiB).level_shift("pmd") == 25  # 32M
    assert find_profile("loongarch64", 64 * KiB).level_shift("pmd") == 29  # 512M


def test_s390x_tables_are_not_a_page_of_entries():
    profile = find_profile("s390x")
    # PTRS_PER_PTE 256 (2 KiB page tables), _CRST_ENTRIES 2048 (segment and region tables).
    assert [profile.entries(level) for level in profile.levels] == [2048, 2048, 2048, 256]
    assert profile.entries_per_table == 256
    assert profile.level_shift("pmd") == 20 and profile.level_shift("pud") == 31  # 1M segment, 2G region-3


def test_powerpc64_tables_follow_the_index_sizes():
    radix = find_profile("powerpc64", 64 * KiB, mmu="radix")  # 13/9/9/5
    assert [radix.entries(level) for level in radix.levels] == [8192, 512, 512, 32]
    assert radix.level_shift("pmd") == 21 and radix.level_shift("pud") == 30
    hash_ = find_profile("powerpc64", mmu="hash")  # 8/10/10/8
    assert [hash_.entries(level) for level in hash_.levels] == [256, 1024, 1024, 256]
    assert hash_.level_shift("pmd") == 24 and hash_.level_shift("pud") == 34
    assert radix.vmemmap_start == hash_.vmemmap_start == 0xC00C000000000000


def test_riscv64_runs_sv57():
    profile = find_profile("riscv64")
    assert profile.paging == 5 and profile.va_bits == 57
    assert profile.vmemmap_start == 0xFF1C000000000000  # Documentation/arch/riscv/vm-layout.rst, Sv57


# -- the data files' validation --


def test_unknown_key_in_a_profile_is_an_input_error(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n" + (ARCH_DIR / "x86-64-4k.toml").read_text())
    with pytest.raises(InputError, match=r"bad.toml: colour: Extra inputs are not permitted"):
        load_profile(bad)


def test_malformed_toml_is_an_input_error(tmp_path: Path):
    bad = tmp_path / "broken.toml"
    bad.write_text("arch = ")
    with pytest.raises(InputError, match="broken.toml: cannot read TOML"):
        load_profile(bad)


@pytest.mark.parametrize(
    "change, message",
    [
        ("table_entries = { p4d = 512 }", "table_entries names levels the profile does not have: p4d"),
        ("table_entries = { pte = 300 }", "a table holds a power of two"),
        ('zones = ["movable"]', "zones must include 'normal'"),
    ],
)
def test_inconsistent_profiles_are_refused(tmp_path: Path, change, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(change + "\n" + (ARCH_DIR / "x86-64-4k.toml").read_text().replace("zones =", "# zones ="))
    with pytest.raises(InputError, match=message):
        load_profile(bad)


def test_a_vmemmap_off_its_pmd_block_is_refused(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text((ARCH_DIR / "x86-64-4k.toml").read_text().replace("0xffffea0000000000", "0xffffea0000001000"))
    with pytest.raises(InputError, match="vmemmap_start must be aligned to the PMD block"):
        load_profile(bad)


def test_two_defaults_for_one_arch_are_refused():
    five_level = replace(find_profile("x86-64", paging=5), default=True)
    with pytest.raises(InputError, match="x86-64 needs exactly one profile with default = true, has 2"):
        check_profile_set([find_profile("x86-64"), five_level])


# -- `hvo-calc profiles` --


def test_profiles_command_lists_every_profile_with_its_variant_and_hvo_releases():
    _register()
    result = CliRunner().invoke(cli, ["profiles", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == {p.name for p in all_profiles()}
    assert rows["x86-64 4K 5-level"]["variant"] == "5-level" and rows["x86-64 4K"]["default"]
    assert rows["powerpc64 64K hash"]["mmu"] == "hash" and rows["powerpc64 64K hash"]["hvo"] == "never"
    assert rows["arm64 16K"]["hvo"] == "5.19-6.2" and rows["x86-64 4K"]["hvo"] == "5.14+"
    assert rows["s390x 4K"]["hvo"] == "6.2-6.17"
    assert rows["s390x 4K"]["hvo_dropped_in_stable"] == ["6.6.117", "6.12.58", "6.17.8"]
    assert rows["s390x 4K"]["table_entries"]["pte"] == 256


def test_profiles_table_shows_the_variants():
    _register()
    result = CliRunner().invoke(cli, ["profiles"])
    assert result.exit_code == 0 and "5-level" in result.output and "hash" in result.output
