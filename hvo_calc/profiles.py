"""Architecture profiles: the data in `configs/arch/*.toml`, validated.

A profile says everything the model needs to know about one architecture with one base
page size and one paging mode: page-table levels and how many entries each table holds,
where the vmemmap lives, how it is populated (PMD leaves or base-page PTEs), which
hugepage sizes exist and which zones a pool may live in. Adding an architecture, or
another paging mode of one, is a new file; no code names an architecture.

Profiles are keyed by (arch, base page, variant): x86-64 has a 4-level and a 5-level 4K
profile, powerpc64 a radix and a hash 64K one. The profile marked `default` is the one
chosen when only the architecture is given.
"""

import dataclasses
import tomllib
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from hvo_calc.errors import InputError
from hvo_calc.record import Record, RecordError, build, record
from hvo_calc.units import parse_size, short_size

DEFAULT_ARCH = "x86-64"
DEFAULT_ZONE = "normal"  # where hugepages come from unless a pool says otherwise
PTE_BYTES = 8  # every supported architecture is 64-bit: 8-byte page-table entries
LevelName = Literal["pgd", "p4d", "pud", "pmd", "pte"]
Size = Annotated[int, parse_size]  # bytes, given as a size ("64K", "2M") or a number


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _within(name: str, value: int | None, least: int, most: int | None = None) -> None:
    if value is not None and (value < least or (most is not None and value > most)):
        bounds = f"at least {least}" if most is None else f"{least} to {most}"
        raise RecordError(name, f"{value} is out of range; accepted: {bounds}")


@record
class HugepageSize(Record):
    """One hugepage size and the page-table level (and contiguous run) that maps it."""

    size: Size
    mapped_by: LevelName
    contiguous: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        _within("contiguous", self.contiguous, 1)

    @property
    def mapping(self) -> str:
        """How the MMU maps it, as the kernel docs say: "PMD", "contiguous PTE x16"."""
        level = self.mapped_by.upper()
        return level if self.contiguous == 1 else f"contiguous {level} x{self.contiguous}"


@record
class ArchProfile(Record):
    """One architecture with one base page size and one paging mode (MMU, levels)."""

    arch: str
    base_page: Size
    variant: str = ""  # what tells it from the arch's other profiles of this page size; defaults to mmu
    mmu: str = ""  # "radix" or "hash" where an architecture has both (powerpc64)
    default: bool = False  # the profile chosen when only the architecture is given
    uname_machine: tuple[str, ...] = ()  # what `uname -m` prints on it (x86_64, aarch64, ...)
    release_suffixes: tuple[str, ...] = ()  # flavour suffixes of uname -r that name it (-amd64, .x86_64)
    section_bits: int | None = None  # SECTION_SIZE_BITS (SPARSEMEM)
    vmalloc_bytes: Size | None = None  # /proc/meminfo VmallocTotal: tells paging modes apart on a host
    zones: tuple[str, ...] = (DEFAULT_ZONE, "movable")  # zones a hugepage pool may be in
    va_bits: int
    levels: tuple[LevelName, ...]
    table_entries: dict[LevelName, int] = dataclasses.field(default_factory=dict)  # where not base_page / 8
    max_physmem_bits: int
    vmemmap_start: int
    vmemmap_bytes: Size
    vmemmap_leaf: Literal["pmd", "pte"]
    hugepage: tuple[HugepageSize, ...]

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.variant and self.mmu:
            object.__setattr__(self, "variant", self.mmu)
        _within("section_bits", self.section_bits, 12, 48)
        _within("va_bits", self.va_bits, 32, 64)
        _within("max_physmem_bits", self.max_physmem_bits, 32, 64)
        if self.base_page < 4096 or not _is_power_of_two(self.base_page):
            raise RecordError("base_page", "base_page must be a power of two of at least 4K")
        if self.levels[-2:] != ("pmd", "pte"):
            raise RecordError("levels", "levels must end with 'pmd', 'pte'")
        for level, entries in self.table_entries.items():
            if entries < 2 or not _is_power_of_two(entries):
                raise RecordError(
                    "table_entries", f"{level}: a table holds a power of two of at least 2 entries, not {entries}"
                )
        if DEFAULT_ZONE not in self.zones:
            raise RecordError("zones", f"zones must include {DEFAULT_ZONE!r}, where pools go by default")
        unknown = sorted(set(self.table_entries) - set(self.levels))
        if unknown:
            raise ValueError(f"table_entries names levels the profile does not have: {', '.join(unknown)}")
        covered = self.level_shift(self.levels[0]) + self.entries(self.levels[0]).bit_length() - 1
        if covered < self.va_bits:
            raise ValueError(f"the levels translate {covered} address bits, fewer than va_bits {self.va_bits}")
        if self.vmemmap_start % (1 << self.level_shift("pmd")):
            raise ValueError("vmemmap_start must be aligned to the PMD block (the kernel maps it by blocks)")

    @property
    def name(self) -> str:
        """The profile's key, as `profiles` lists it: "arm64 64K", "x86-64 4K 5-level"."""
        base = f"{self.arch} {short_size(self.base_page)}"
        return f"{base} {self.variant}" if self.variant else base

    @property
    def paging(self) -> int:
        """Page-table levels in use (4 or 5 on x86-64), as `find_profile(paging=)` takes them."""
        return len(self.levels)

    @property
    def section_bytes(self) -> int | None:
        """SPARSEMEM section size: the vmemmap is populated per present section."""
        return None if self.section_bits is None else 1 << self.section_bits

    @cached_property
    def page_shift(self) -> int:
        return self.base_page.bit_length() - 1

    @cached_property
    def entries_by_level(self) -> dict[str, int]:
        """Entries per table at each level, top first."""
        return {level: self.table_entries.get(level, self.base_page // PTE_BYTES) for level in self.levels}

    def entries(self, level: str) -> int:
        """PTRS_PER_PTE, PTRS_PER_PMD, ...: entries in one table of `level`."""
        return self.entries_by_level[level]

    @cached_property
    def entries_per_table(self) -> int:
        """Entries of a PTE table (PTRS_PER_PTE): what a split PMD leaf becomes."""
        return self.entries("pte")

    def level_shift(self, level: str) -> int:
        """Address bits below the entries of `level` (PAGE_SHIFT, PMD_SHIFT, ...)."""
        below = self.levels[self.levels.index(level) + 1 :]
        return self.page_shift + sum(self.entries(lower).bit_length() - 1 for lower in below)

    def hugepage_size(self, size_bytes: int) -> HugepageSize | None:
        return next((h for h in self.hugepage if h.size == size_bytes), None)

    def max_memory_bytes(self, struct_page_bytes: int) -> int:
        """Physical memory the vmemmap window and MAX_PHYSMEM_BITS can describe."""
        by_vmemmap = self.vmemmap_bytes // struct_page_bytes * self.base_page
        return min(1 << self.max_physmem_bits, by_vmemmap)


def config_dir() -> Path:
    """The `configs/` shipped inside the package, beside this file (so installed copies find it)."""
    return Path(__file__).resolve().parent / "configs"


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's data, or an InputError naming the file and the problem."""
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read TOML: {exc}") from None


def load_profile(path: Path) -> ArchProfile:
    try:
        return build(ArchProfile, read_toml(path))
    except RecordError as exc:
        raise InputError(f"{path}: {exc}") from None


@lru_cache(maxsize=1)
def all_profiles() -> tuple[ArchProfile, ...]:
    """Every shipped profile, sorted by architecture, base page, then default first."""
    paths = sorted((config_dir() / "arch").glob("*.toml"))
    profiles = sorted((load_profile(p) for p in paths), key=lambda p: (p.arch, p.base_page, not p.default, p.name))
    check_profile_set(profiles)
    return tuple(profiles)


def check_profile_set(profiles: list[ArchProfile]) -> None:
    """Names are unique and every architecture has exactly one default profile."""
    names = [p.name for p in profiles]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"configs/arch: more than one profile is named {twice[0]!r}; give each a variant")
    for arch in sorted({p.arch for p in profiles}):
        defaults = [p.name for p in profiles if p.arch == arch and p.default]
        if len(defaults) != 1:
            raise InputError(
                f"configs/arch: {arch} needs exactly one profile with default = true, "
                f"has {len(defaults)}: {', '.join(defaults) or 'none'}"
            )


def arch_names() -> tuple[str, ...]:
    """The architectures the profiles describe, sorted."""
    return tuple(sorted({p.arch for p in all_profiles()}))


def resolve_arch(name: str) -> str:
    """The architecture a name means: its own name, or what `uname -m` prints on it."""
    wanted = name.strip().lower()
    for profile in all_profiles():
        if wanted == profile.arch.lower() or wanted in profile.uname_machine:
            return profile.arch
    aliases = sorted({m for p in all_profiles() for m in p.uname_machine} - set(arch_names()))
    raise InputError(
        f"unknown architecture {name!r}; accepted: {', '.join(arch_names())} "
        f"(or {', '.join(aliases)} as uname -m prints them)"
    )


def _pick(candidates: list[ArchProfile]) -> ArchProfile:
    """Among matching profiles: the arch's default, else the smallest page, fewest levels."""
    return min(candidates, key=lambda p: (not p.default, p.base_page, p.paging, p.name))


def find_profile(
    arch: str, base_page: int | None = None, paging: int | None = None, mmu: str | None = None
) -> ArchProfile:
    """The profile for `arch` (or its `uname -m` name), narrowed by base page, page-table
    levels and MMU where given; the arch's default among what is left."""
    canonical = resolve_arch(arch)
    matching = [p for p in all_profiles() if p.arch == canonical]
    if base_page is not None:
        pages = ", ".join(dict.fromkeys(short_size(p.base_page) for p in matching))
        matching = [p for p in matching if p.base_page == base_page]
        if not matching:
            raise InputError(f"{canonical} has no {short_size(base_page)} base page; accepted: {pages}")
    what = canonical if base_page is None else f"{canonical} {short_size(base_page)}"
    if paging is not None:
        levels = ", ".join(str(n) for n in sorted({p.paging for p in matching}))
        matching = [p for p in matching if p.paging == paging]
        if not matching:
            raise InputError(f"{what} has no {paging}-level paging; accepted: {levels}")
    if mmu is not None:
        mmus = sorted({p.mmu for p in matching if p.mmu})
        matching = [p for p in matching if p.mmu == mmu.strip().lower()]
        if not matching:
            accepted = ", ".join(mmus) if mmus else f"none ({what} has one MMU; leave the MMU out)"
            raise InputError(f"{what} has no {mmu!r} MMU; accepted: {accepted}")
    return _pick(matching)


# -- what the profiles offer: the choices of the CLI and the plan file are built from these --


def paging_levels() -> tuple[int, ...]:
    """Page-table levels some profile has (`--paging`, the plan file's `paging`)."""
    return tuple(sorted({p.paging for p in all_profiles()}))


def mmu_names() -> tuple[str, ...]:
    """MMU modes where an architecture has more than one (`--mmu`, the plan file's `mmu`)."""
    return tuple(dict.fromkeys(p.mmu for p in all_profiles() if p.mmu))


def zone_names() -> tuple[str, ...]:
    """Zones a pool may be in on some architecture (the plan file's `zone`)."""
    return tuple(dict.fromkeys(zone for p in all_profiles() for zone in p.zones))


# -- from what a host says to a profile (`inspect`) --


def machine_arch(machine: str) -> str | None:
    """The architecture a `uname -m` name, an architecture name or a uname -r flavour suffix
    means; None when no profile has it."""
    wanted = machine.strip().lower()
    for profile in all_profiles():
        if wanted in (profile.arch.lower(), *profile.uname_machine, *profile.release_suffixes):
            return profile.arch
    return None


def machine_of_suffix(word: str) -> str | None:
    """What `uname -m` prints on the architecture a uname -r flavour suffix names (-amd64:
    x86_64), or None when no profile has the suffix."""
    for profile in all_profiles():
        if word in profile.release_suffixes:
            return word if word in profile.uname_machine else (profile.uname_machine or (profile.arch,))[0]
    return None


def profile_by_vmalloc(profile: ArchProfile, vmalloc_total_bytes: int | None) -> ArchProfile | None:
    """Among the profiles of `profile`'s architecture and base page, the one whose vmalloc
    area is the host's VmallocTotal (within a factor of two: the kernel prints the area less
    a page or a guard); None when the host does not tell which."""
    if not vmalloc_total_bytes:
        return None
    for candidate in all_profiles():
        size = candidate.vmalloc_bytes
        same = candidate.arch == profile.arch and candidate.base_page == profile.base_page
        if same and size and size // 2 < vmalloc_total_bytes <= size * 2:
            return candidate
    return None
