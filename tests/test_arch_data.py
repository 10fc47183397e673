"""Architecture facts are the profiles' data: a profile added as one file (riscv64 Sv39, 3
levels) is planned and recognised on a host without a code edit; the CLI's and the plan
file's choices are the profiles' own."""

import json
import shutil
from pathlib import Path

import pytest

from hvo_calc.host.resolve import host_profile
from hvo_calc.profiles import all_profiles, find_profile, mmu_names, paging_levels, zone_names

HOSTS = Path(__file__).parent / "fixtures" / "hosts"
RISCV_HOST = "riscv64_7.2.13_1node_hvo-on_synthetic"
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def test_sv39_profile_has_three_levels_and_a_256_gib_vmemmap_limit():
    sv39 = find_profile("riscv64", 4 * KiB, paging=3)
    assert sv39.name == "riscv64 4K Sv39" and sv39.levels == ("pgd", "pmd", "pte")
    assert sv39.level_shift("pgd") == 30  # PGDIR_SIZE 1 GiB: what maps a 1G hugepage
    assert sv39.max_memory_bytes(64) == 256 * GiB  # 4 GiB of vmemmap / 64 B per 4 KiB page
    assert find_profile("riscv64").paging == 5  # Sv57 stays the default


def test_plan_riscv64_sv39(run):
    result = run("plan", "--arch", "riscv64", "--paging", "3", "--huge", "2M", "--count", "8", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    (pool,) = report["pools"]
    # The kernel's figure: 28 KiB of vmemmap freed per 2 MiB page with 4 KiB pages and a 64-byte struct page.
    assert pool["freed_pages"] * 4 * KiB == 8 * 28 * KiB
    assert pool["vmemmap_bytes"] == 8 * 32 * KiB
    assert (pool["reserved_pages"], pool["pagetable_pages"], pool["split_pmds"]) == (8, 1, 1)


@pytest.mark.parametrize("paging, exit_code", [(3, 2), (5, 0)])
def test_sv39_describes_at_most_256_gib(run, tmp_path, paging, exit_code):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        f'[host]\narch = "riscv64"\npaging = {paging}\n[[node]]\nmemory = "512G"\n[[pool]]\nsize = "1G"\ncount = 300\n'
    )
    result = run("plan", "--config", str(plan), "--format", "json")
    assert result.exit_code == exit_code, result.stderr
    if exit_code:
        assert "riscv64 4K Sv39 can address at most 256.00 GiB" in result.stderr


def test_choices_are_the_profiles(run):
    assert paging_levels() == (3, 4, 5)
    assert set(mmu_names()) == {p.mmu for p in all_profiles() if p.mmu}
    assert set(zone_names()) == {z for p in all_profiles() for z in p.zones}
    text = " ".join(run("plan", "--help").stdout.split())
    assert "--paging [3|4|5]" in text and f"--mmu [{'|'.join(mmu_names())}]" in text


@pytest.mark.parametrize(
    "vmalloc_kib, name, paging",
    [
        (67108863, "riscv64 4K Sv39", 3),  # Sv39: 64 GiB of vmalloc
        (17592186044415, "riscv64 4K", 5),  # Sv57: 16 PiB
        (135288315904, "riscv64 4K", None),  # neither: the default profile, levels not told
    ],
)
def test_inspect_tells_sv39_from_sv57_by_vmalloc_total(run, tmp_path, vmalloc_kib, name, paging):
    tree = tmp_path / "host"
    shutil.copytree(HOSTS / RISCV_HOST, tree)
    meminfo = tree / "proc" / "meminfo"
    lines = [
        f"VmallocTotal:   {vmalloc_kib} kB" if line.startswith("VmallocTotal:") else line
        for line in meminfo.read_text().splitlines()
    ]
    meminfo.write_text("\n".join(lines) + "\n")
    result = run("inspect", "--root", str(tree), "--format", "json")
    assert result.exit_code == 0, result.stderr
    host = json.loads(result.stdout)["host"]
    assert host["paging"] == paging
    assert host_profile("riscv64", 4 * KiB, vmalloc_kib * KiB)[0].name == name


@pytest.mark.parametrize(
    "machine, arch", [("x86_64", "x86-64"), ("amd64", "x86-64"), ("aarch64", "arm64"), ("ppc64le", "powerpc64")]
)
def test_uname_machine_names_and_suffixes_come_from_the_profiles(machine, arch):
    assert host_profile(machine, 4 * KiB)[0].arch == arch


def test_every_profile_has_its_section_size():
    for profile in all_profiles():
        assert profile.section_bytes is not None and profile.section_bytes >= 16 * MiB, profile.name


NEW_ARCH = """
arch = "newarch64"
base_page = "4K"
default = true
uname_machine = ["newm64"]
release_suffixes = ["newm"]
section_bits = 27
va_bits = 48
levels = ["pgd", "pud", "pmd", "pte"]
max_physmem_bits = 46
vmemmap_start = 0xffffea0000000000
vmemmap_bytes = "1T"
vmemmap_leaf = "pmd"

[[hugepage]]
size = "2M"
mapped_by = "pmd"
"""


@pytest.fixture
def new_arch(tmp_path, monkeypatch):
    """The shipped profiles and one more architecture file, and nothing else changed."""
    import hvo_calc.profiles as profiles

    configs = tmp_path / "configs"
    shutil.copytree(profiles.config_dir() / "arch", configs / "arch")
    (configs / "arch" / "newarch64-4k.toml").write_text(NEW_ARCH)
    monkeypatch.setattr(profiles, "config_dir", lambda: configs)
    profiles.all_profiles.cache_clear()
    yield
    profiles.all_profiles.cache_clear()


def test_a_new_architecture_is_one_file_for_plan_and_inspect(run, tmp_path, new_arch):
    result = run("plan", "--arch", "newm64", "--huge", "2M", "--count", "8", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (pool,) = json.loads(result.stdout)["pools"]
    assert pool["arch"] == "newarch64" and not pool["hvo_active"]  # the kernel data has no HVO for it
    assert "no HVO entry for newarch64" in pool["reason"]
    tree = tmp_path / "host"
    shutil.copytree(HOSTS / RISCV_HOST, tree)
    (tree / "uname.txt").unlink()  # told by the release's flavour suffix alone
    (tree / "proc" / "sys" / "kernel" / "osrelease").write_text("7.2.13+deb13-newm\n")
    result = run("inspect", "--root", str(tree), "--format", "json")
    assert result.exit_code == 0, result.stderr
    host = json.loads(result.stdout)["host"]
    assert (host["machine"], host["arch"]) == ("newm64", "newarch64")
