"""The profiles report: each architecture profile as `hvo-calc profiles` shows it, with the
mainline releases that have HVO there (from the kernel data)."""

from typing import Literal, TypedDict

from hvo_calc.kernels import hvo_releases, stable_releases_without_hvo
from hvo_calc.profiles import ArchProfile, LevelName, all_profiles
from hvo_calc.units import short_size


class ProfileRow(TypedDict):
    """One profile as `profiles --format json` prints it."""

    name: str
    arch: str
    base_page: str
    variant: str
    mmu: str
    default: bool
    uname_machine: list[str]
    va_bits: int
    levels: list[LevelName]
    table_entries: dict[str, int]
    vmemmap_start: str
    vmemmap_leaf: Literal["pmd", "pte"]
    zones: list[str]
    hugepage_sizes: dict[str, str]
    hvo: str
    hvo_dropped_in_stable: list[str]


def profile_row(profile: ArchProfile) -> ProfileRow:
    """One profile as `profiles --format json` prints it."""
    return {
        "name": profile.name,
        "arch": profile.arch,
        "base_page": short_size(profile.base_page),
        "variant": profile.variant,
        "mmu": profile.mmu,
        "default": profile.default,
        "uname_machine": list(profile.uname_machine),
        "va_bits": profile.va_bits,
        "levels": list(profile.levels),
        "table_entries": dict(profile.entries_by_level),
        "vmemmap_start": f"{profile.vmemmap_start:#x}",
        "vmemmap_leaf": profile.vmemmap_leaf,
        "zones": list(profile.zones),
        "hugepage_sizes": {short_size(h.size): h.mapping for h in profile.hugepage},
        "hvo": hvo_releases(profile.arch),
        "hvo_dropped_in_stable": list(stable_releases_without_hvo(profile.arch)),
    }


def profile_rows() -> list[ProfileRow]:
    """Every profile, in the profiles' order."""
    return [profile_row(p) for p in all_profiles()]
