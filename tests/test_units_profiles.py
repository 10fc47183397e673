"""Sizes, architecture profiles and kernel data: parsing and validation."""

from pathlib import Path

import pytest

from hvo_calc.errors import InputError
from hvo_calc.kernels import behaviour, last_release_with_hvo, resolve_version
from hvo_calc.profiles import all_profiles, find_profile, load_profile
from hvo_calc.units import GiB, KiB, MiB, human_size, parse_size, short_size


@pytest.mark.parametrize("text, expected", [
    ("64K", 64 * KiB), ("64KiB", 64 * KiB), ("64k", 64 * KiB), ("2M", 2 * MiB), ("1G", GiB),
    ("16G", 16 * GiB), ("512MiB", 512 * MiB), ("4096", 4096), (" 2m ", 2 * MiB),
])
def test_parse_size_accepts_binary_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "2X", "1.5G", "-2M", "G", "2MB5"])
def test_parse_size_rejects_with_the_accepted_forms(text):
    with pytest.raises(InputError, match="64K, 64KiB, 2M, 1G, 16G"):
        parse_size(text)


def test_size_spellings():
    assert short_size(2 * MiB) == "2M" and short_size(16 * GiB) == "16G" and short_size(64 * KiB) == "64K"
    assert human_size(2 * MiB) == "2.00 MiB" and human_size(GiB) == "1.00 GiB"


def test_shipped_profiles_match_the_kernel_tables():
    sizes = {p.name: [short_size(h.size) for h in p.hugepage] for p in all_profiles()}
    assert sizes == {
        "arm64 4K": ["64K", "2M", "32M", "1G"],
        "arm64 16K": ["2M", "32M", "1G"],
        "arm64 64K": ["2M", "512M", "16G"],
        "x86-64 4K": ["2M", "1G"],
    }


def test_x86_64_can_address_64_tib_with_64_byte_struct_pages():
    assert find_profile("x86-64").max_memory_bytes(64) == 64 << 40


def test_level_shifts_follow_the_page_size():
    assert find_profile("x86-64").level_shift("pmd") == 21
    assert find_profile("arm64", 64 * KiB).level_shift("pmd") == 29
    assert find_profile("arm64", 16 * KiB).level_shift("pmd") == 25


def test_unknown_key_in_a_profile_is_an_input_error(tmp_path: Path):
    text = (Path(__file__).parents[1] / "configs/arch/x86-64-4k.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n" + text)
    with pytest.raises(InputError, match=r"bad.toml: colour: Extra inputs are not permitted"):
        load_profile(bad)


def test_malformed_toml_is_an_input_error(tmp_path: Path):
    bad = tmp_path / "broken.toml"
    bad.write_text("arch = ")
    with pytest.raises(InputError, match="broken.toml: cannot read TOML"):
        load_profile(bad)


def test_kernel_behaviour_by_release():
    assert behaviour("5.14", "x86-64").reserve_pages == 2
    assert behaviour("5.17", "x86-64").reserve_pages == 2
    assert behaviour("5.18", "x86-64").reserve_pages == 1
    assert behaviour("6.6", "x86-64").restore_policy == "same-node"
    assert behaviour("6.7", "x86-64").restore_policy == "any-node"
    assert behaviour("6.6", "x86-64").tlb_flush == "per-hugepage"
    assert not behaviour("5.13", "x86-64").hvo_available


def test_arm64_has_hvo_from_5_19_to_6_2_only():
    available = {v: behaviour(v, "arm64").hvo_available for v in ("5.18", "5.19", "6.1", "6.2", "6.3", "latest")}
    assert available == {"5.18": False, "5.19": True, "6.1": True, "6.2": True, "6.3": False, "latest": False}
    assert last_release_with_hvo("arm64") == "6.2"
    assert "stable" in behaviour("6.1", "arm64").note


def test_unknown_kernel_version_names_the_accepted_ones():
    with pytest.raises(InputError, match="accepted: 5.10 to .* or latest"):
        resolve_version("4.19")
