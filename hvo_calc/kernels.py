"""Kernel behaviour by release: the data in `configs/kernel.toml`, resolved for one release.

Every behaviour is a table keyed by the first mainline release it holds in, so a new
kernel change is one line of data. `behaviour(version, arch)` answers the questions the
engine asks ("how many pages are kept?", "is HVO there at all?") for one release.
"""

from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import ValidationError

from hvo_calc.errors import InputError
from hvo_calc.profiles import Strict, config_dir, read_toml, validation_message

T = TypeVar("T")
Version = tuple[int, int]


def parse_version(text: str) -> Version:
    """"6.12" -> (6, 12); anything else is an InputError."""
    try:
        major, minor = text.split(".")
        return int(major), int(minor)
    except ValueError:
        raise InputError(f"kernel version {text!r} is not MAJOR.MINOR, e.g. 6.12") from None


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def at(changes: dict[str, T], version: Version) -> T | None:
    """The value in force at `version`: the one under the newest key not after it."""
    keys = sorted((k for k in changes if parse_version(k) <= version), key=parse_version)
    return changes[keys[-1]] if keys else None


class Availability(Strict):
    """Whether an architecture has HVO from a release on, and why not."""

    available: bool
    why: str = ""
    note: str = ""


class KernelData(Strict):
    """`configs/kernel.toml` as read."""

    releases: tuple[str, ...]
    reserve_pages: dict[str, int]
    head_page_copy: dict[str, bool]
    vmemmap_pmd: dict[str, Literal["populate-basepages", "split-on-demand"]]
    tlb_flush: dict[str, Literal["per-hugepage", "per-batch"]]
    restore_policy: dict[str, Literal["same-node", "any-node"]]
    boot_line: dict[str, str]
    boot_preoptimize: dict[str, dict[str, bool]]
    hvo: dict[str, dict[str, Availability]]


class KernelBehaviour(Strict):
    """What one kernel release does, for one architecture."""

    version: str
    arch: str
    hvo_available: bool
    why_unavailable: str
    note: str
    reserve_pages: int
    head_page_copy: bool
    vmemmap_pmd: Literal["populate-basepages", "split-on-demand"]
    tlb_flush: Literal["per-hugepage", "per-batch"]
    restore_policy: Literal["same-node", "any-node"]
    boot_line: str
    boot_preoptimize: bool


@lru_cache(maxsize=1)
def kernel_data() -> KernelData:
    path = config_dir() / "kernel.toml"
    try:
        return KernelData.model_validate(read_toml(path))
    except ValidationError as exc:
        raise InputError(validation_message(path, exc)) from None


def resolve_version(text: str) -> str:
    """A release the data knows, with "latest" meaning the newest; else InputError."""
    releases = kernel_data().releases
    if text == "latest":
        return releases[-1]
    if text not in releases:
        raise InputError(
            f"unknown kernel version {text!r}; accepted: {releases[0]} to {releases[-1]} "
            "(mainline MAJOR.MINOR) or latest"
        )
    return text


def _at(changes: dict[str, T], version: Version) -> T:
    """Like `at`, but releases before the first key take its value (the earliest we model)."""
    value = at(changes, version)
    return value if value is not None else changes[min(changes, key=parse_version)]


def behaviour(version_or_latest: str, arch: str) -> KernelBehaviour:
    """The behaviour of one release on one architecture."""
    data = kernel_data()
    version_str = resolve_version(version_or_latest)
    version = parse_version(version_str)
    availability = at(data.hvo.get(arch, {}), version)
    if availability is None:
        availability = Availability(available=False, why=f"the kernel data has no HVO entry for {arch}")
    return KernelBehaviour(
        version=version_str,
        arch=arch,
        hvo_available=availability.available,
        why_unavailable=availability.why,
        note=availability.note,
        reserve_pages=_at(data.reserve_pages, version),
        head_page_copy=_at(data.head_page_copy, version),
        vmemmap_pmd=_at(data.vmemmap_pmd, version),
        tlb_flush=_at(data.tlb_flush, version),
        restore_policy=_at(data.restore_policy, version),
        boot_line=_at(data.boot_line, version),
        boot_preoptimize=bool(at(data.boot_preoptimize.get(arch, {}), version)),
    )


def last_release_with_hvo(arch: str) -> str | None:
    """The newest known release in which `arch` has HVO (for "what it would free")."""
    for release in reversed(kernel_data().releases):
        if behaviour(release, arch).hvo_available:
            return release
    return None
