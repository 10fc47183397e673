"""Architecture profiles: the data in `configs/arch/*.toml`, validated.

A profile says everything the model needs to know about one architecture and base page
size: page-table levels, where the vmemmap lives, how it is populated (PMD leaves or
base-page PTEs) and which hugepage sizes exist. Adding an architecture is a new file.
"""

from functools import cached_property, lru_cache
from importlib.resources import files
from pathlib import Path
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hvo_calc.errors import InputError
from hvo_calc.units import parse_size, short_size

DEFAULT_ARCH = "x86-64"
PTE_BYTES = 8  # every supported architecture is 64-bit: 8-byte page-table entries
LevelName = Literal["pgd", "p4d", "pud", "pmd", "pte"]


class Strict(BaseModel):
    """Unknown keys are errors, values are frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _size(value: str | int) -> int:
    return parse_size(value)


class HugepageSize(Strict):
    """One hugepage size and the page-table level (and contiguous run) that maps it."""

    size: int
    mapped_by: LevelName
    contiguous: int = Field(default=1, ge=1)

    _parse_size = field_validator("size", mode="before")(_size)

    @property
    def mapping(self) -> str:
        """How the MMU maps it, as the kernel docs say: "PMD", "contiguous PTE x16"."""
        level = self.mapped_by.upper()
        return level if self.contiguous == 1 else f"contiguous {level} x{self.contiguous}"


class ArchProfile(Strict):
    """One architecture with one base page size."""

    arch: str
    base_page: int
    va_bits: int = Field(ge=32, le=64)
    levels: tuple[LevelName, ...]
    max_physmem_bits: int = Field(ge=32, le=64)
    vmemmap_start: int
    vmemmap_bytes: int
    vmemmap_leaf: Literal["pmd", "pte"]
    hugepage: tuple[HugepageSize, ...]

    _parse_sizes = field_validator("base_page", "vmemmap_bytes", mode="before")(_size)

    @field_validator("base_page")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 4096 or value & (value - 1):
            raise ValueError("base_page must be a power of two of at least 4K")
        return value

    @field_validator("levels")
    @classmethod
    def _ends_in_pmd_pte(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value[-2:] != ("pmd", "pte"):
            raise ValueError("levels must end with 'pmd', 'pte'")
        return value

    @property
    def name(self) -> str:
        """The profile's key, as `profiles` lists it: "arm64 64K"."""
        return f"{self.arch} {short_size(self.base_page)}"

    @cached_property
    def page_shift(self) -> int:
        return self.base_page.bit_length() - 1

    @cached_property
    def entries_per_table(self) -> int:
        return self.base_page // PTE_BYTES

    def level_shift(self, level: str) -> int:
        """Address bits below the entries of `level` (PAGE_SHIFT, PMD_SHIFT, ...)."""
        depth = len(self.levels) - 1 - self.levels.index(level)
        return self.page_shift + depth * (self.page_shift - 3)

    def hugepage_size(self, size_bytes: int) -> HugepageSize | None:
        return next((h for h in self.hugepage if h.size == size_bytes), None)

    def max_memory_bytes(self, struct_page_bytes: int) -> int:
        """Physical memory the vmemmap window and MAX_PHYSMEM_BITS can describe."""
        by_vmemmap = self.vmemmap_bytes // struct_page_bytes * self.base_page
        return min(1 << self.max_physmem_bits, by_vmemmap)


def config_dir() -> Path:
    """The `configs/` shipped inside the package (so installed copies find it)."""
    return Path(str(files("hvo_calc") / "configs"))


def read_toml(path: Path) -> dict:
    """A TOML file's data, or an InputError naming the file and the problem."""
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read TOML: {exc}") from None


def validation_message(path: Path, exc: ValidationError) -> str:
    """pydantic's first complaint as one line: file, key, problem."""
    err = exc.errors()[0]
    key = ".".join(str(part) for part in err["loc"]) or "(top level)"
    return f"{path}: {key}: {err['msg']}"


def load_profile(path: Path) -> ArchProfile:
    try:
        return ArchProfile.model_validate(read_toml(path))
    except ValidationError as exc:
        raise InputError(validation_message(path, exc)) from None


@lru_cache(maxsize=1)
def all_profiles() -> tuple[ArchProfile, ...]:
    """Every shipped profile, sorted by architecture and base page."""
    paths = sorted((config_dir() / "arch").glob("*.toml"))
    return tuple(sorted((load_profile(p) for p in paths), key=lambda p: (p.arch, p.base_page)))


def find_profile(arch: str, base_page: int | None = None) -> ArchProfile:
    """The profile for `arch` and `base_page` (its smallest base page when not given)."""
    profiles = all_profiles()
    arches = sorted({p.arch for p in profiles})
    matching = [p for p in profiles if p.arch == arch]
    if not matching:
        raise InputError(f"unknown architecture {arch!r}; accepted: {', '.join(arches)}")
    if base_page is None:
        return matching[0]
    for profile in matching:
        if profile.base_page == base_page:
            return profile
    pages = ", ".join(short_size(p.base_page) for p in matching)
    raise InputError(
        f"{arch} has no {short_size(base_page)} base page; accepted: {pages}"
    )
