"""Kernel behaviour by release: the data in `configs/kernel.toml`, resolved for one release.

Every behaviour is a table keyed by the first mainline release it holds in, so a new
kernel change is one line of data. A release is given as a mainline release ("6.12"), a
stable point release ("6.12.58"), a distribution `uname -r` string
("6.12.118+deb13-amd64") or "latest": the mainline decides behaviour, the point release
decides what a stable series later backported (an architecture losing HVO, a known bug).
`behaviour(release, arch)` answers the questions the engine and the reports ask ("how
many pages are kept?", "is HVO there at all?", "what is known to go wrong?").
"""

import dataclasses
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, TypeVar

from hvo_calc.errors import InputError
from hvo_calc.profiles import config_dir, read_toml
from hvo_calc.record import Record, RecordError, build, field_names, record, replace, values

T = TypeVar("T")
Version = tuple[int, int]
StableVersion = tuple[int, int, int]
RestorePolicyName = Literal["same-node", "same-node-retry", "any-node"]
IssueCondition = Literal["hvo-on-shrink"]  # HVO on and optimized hugepages freed (a pool shrinks)
Applies = Literal["yes", "maybe"]

# MAJOR.MINOR, an optional .POINT, an optional distribution suffix (+deb13-amd64, -56-cloud-amd64).
RELEASE_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+)([-+~][0-9A-Za-z._+~-]*)?)?")
STABLE_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> Version:
    """ "6.12" -> (6, 12); anything else is an InputError."""
    try:
        major, minor = text.split(".")
        return int(major), int(minor)
    except ValueError:
        raise InputError(f"kernel version {text!r} is not MAJOR.MINOR, e.g. 6.12") from None


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def parse_stable(text: str) -> StableVersion:
    """ "6.12.58" -> (6, 12, 58), for the data's stable release bounds."""
    match = STABLE_RE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a stable release MAJOR.MINOR.POINT, e.g. 6.12.58")
    return int(match[1]), int(match[2]), int(match[3])


def at(changes: Mapping[str, T], version: Version) -> T | None:
    """The value in force at `version`: the one under the newest key not after it."""
    keys = sorted((k for k in changes if parse_version(k) <= version), key=parse_version)
    return changes[keys[-1]] if keys else None


@record
class Release(Record):
    """A kernel release as given: the mainline decides behaviour, the point release what
    stable backported (None where only the mainline is known, as in Debian 6.1's ABI form
    6.1.0-56-cloud-amd64, whose .0-56 is not a stable point release)."""

    mainline: tuple[int, int]
    point: int | None = None
    text: str

    @property
    def version(self) -> str:
        """The mainline release, "6.12"."""
        return version_text(self.mainline)

    @property
    def stable(self) -> StableVersion | None:
        return None if self.point is None else (*self.mainline, self.point)


@record
class Availability(Record):
    """Whether an architecture has HVO from a release on, and why not."""

    available: bool
    why: str = ""
    note: str = ""
    outlook: str = ""  # where a disable lasts: what is known of a way back


@record
class RestorePolicy(Record):
    """What the restore path asks of the page allocator for the frames it maps back."""

    gfp: str
    same_node: bool  # only the hugepage's own node (__GFP_THISNODE)


@record
class StableRemoval(Record):
    """Stable series that dropped an architecture's HVO: the first point release without it."""

    why: str
    first_point: dict[str, int]

    def __post_init__(self) -> None:
        super().__post_init__()
        for series in self.first_point:
            parse_version(series)


@record
class KnownIssueEntry(Record):
    """A known problem of released kernels, as `[[known_issue]]` in kernel.toml says it."""

    id: str
    first: str  # first affected stable release, "6.12.115"
    last: str  # last affected stable release, "6.12.118"
    arches: tuple[str, ...]
    condition: IssueCondition
    summary: str
    detail: str
    source: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if parse_stable(self.first) > parse_stable(self.last):
            raise ValueError(f"first {self.first} is after last {self.last}")

    def applies_to(self, release: Release, arch: str) -> Applies | None:
        """ "yes" when the point release is in [first, last]; "maybe" when only the mainline
        is known and the range lies in it; else None."""
        if arch not in self.arches:
            return None
        first, last = parse_stable(self.first), parse_stable(self.last)
        if release.stable is not None:
            return "yes" if first <= release.stable <= last else None
        return "maybe" if first[:2] <= release.mainline <= last[:2] else None


@record
class KnownIssue(KnownIssueEntry):
    """A known problem of the release in question, and whether it surely applies."""

    applies: Applies


@record
class Behaviour(Record):
    """Kernel behaviour that changes with the mainline release, declared once: each field is a
    table of kernel.toml of the same name, a timeline {first release it holds in: value}.
    Adding a behaviour flag is a field here and its table; `behaviour()` resolves them all."""

    reserve_pages: int  # vmemmap pages kept mapped per hugepage
    head_page_copy: bool  # the kept head page is replaced by a fresh copy (6.2)
    head_copy_mandatory: bool  # without the copy the hugepage stays unoptimized (7.1)
    shared_tail_page: bool  # tails map one shared page per (node, zone, order) (7.1)
    tlb_flush: Literal["per-hugepage", "per-batch"]
    restore_policy: RestorePolicyName
    boot_line: str


Timeline = dict[str, object]  # first mainline release a value holds in -> the value


@record
class KernelData(Record):
    """`configs/kernel.toml` as read: the releases, one timeline per `Behaviour` field, and
    the facts that are not timelines."""

    releases: tuple[str, ...]
    first_hvo_release: str  # no hugetlb boot line about vmemmap before it
    first_memmap_counters: str  # /proc/vmstat nr_memmap_pages and nr_memmap_boot_pages appeared
    timelines: dict[str, Timeline]  # a Behaviour field's name -> its table
    restore_policies: dict[RestorePolicyName, RestorePolicy]
    boot_preoptimize: dict[str, dict[str, bool]]
    hvo: dict[str, dict[str, Availability]]
    stable_removal: dict[str, StableRemoval] = dataclasses.field(default_factory=dict)
    known_issue: tuple[KnownIssueEntry, ...] = ()

    def __post_init__(self) -> None:
        """Every table is keyed by releases the data lists; every flag has its table, every
        value its type; every policy used is described."""
        super().__post_init__()
        missing_tables = sorted(set(field_names(Behaviour)) - set(self.timelines))
        if missing_tables:
            raise ValueError(f"no [{missing_tables[0]}] table (a timeline of that behaviour)")
        known = set(self.releases)
        tables: dict[str, Mapping[str, object]] = {
            **self.timelines,
            **{f"boot_preoptimize.{arch}": table for arch, table in self.boot_preoptimize.items()},
            **{f"hvo.{arch}": table for arch, table in self.hvo.items()},
            **{f"stable_removal.{arch}": r.first_point for arch, r in self.stable_removal.items()},
            "first_hvo_release": {self.first_hvo_release: None},
            "first_memmap_counters": {self.first_memmap_counters: None},
        }
        for name, table in tables.items():
            unknown = sorted(set(table) - known)
            if unknown:
                raise ValueError(f"{name}: {', '.join(unknown)} is not in releases")
        for release in self.releases:  # every value has its type
            try:
                build(Behaviour, self.behaviour_at(parse_version(release)))
            except RecordError as exc:
                raise RecordError(exc.where, f"{exc.problem} (the value in force at {release})") from None
        missing = sorted({str(p) for p in self.timelines["restore_policy"].values()} - set(self.restore_policies))
        if missing:
            raise ValueError(f"restore_policies: no entry for {', '.join(missing)}")

    def behaviour_at(self, version: Version) -> dict[str, object]:
        """Every timeline's value in force at a mainline release."""
        return {name: _at(table, version) for name, table in self.timelines.items()}


@record
class KernelBehaviour(Behaviour):
    """What one kernel release does, for one architecture."""

    version: str  # the mainline release, "7.3"
    release: str  # the release as given, normalised: "6.12.118+deb13-amd64", "7.3"
    point: int | None  # the stable point release, where known
    arch: str
    hvo_available: bool
    why_unavailable: str
    note: str
    hypothetical: bool = False  # HVO assumed where the architecture never had it (what it would free)
    restore_gfp: str
    restore_same_node: bool
    boot_preoptimize: bool
    known_issues: tuple[KnownIssue, ...] = ()
    hvo_released: bool = True  # HVO existed in mainline by this release (hugetlb prints its boot line)


@lru_cache(maxsize=1)
def kernel_data() -> KernelData:
    path = config_dir() / "kernel.toml"
    try:
        return read_kernel_data(read_toml(path))
    except RecordError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_kernel_data(data: dict[str, Any]) -> KernelData:
    """kernel.toml's data, checked. The Behaviour tables sit at the top of the file; they are
    gathered under `timelines`."""
    names = set(field_names(Behaviour))
    timelines = {name: table for name, table in data.items() if name in names}
    return build(KernelData, {**{k: v for k, v in data.items() if k not in names}, "timelines": timelines})


def accepted_releases() -> str:
    """The forms --kernel takes, for error messages."""
    releases = kernel_data().releases
    return (
        f"{releases[0]} to {releases[-1]} (MAJOR.MINOR), a stable release such as 6.12.58, "
        "a uname -r string such as 6.12.118+deb13-amd64, or latest"
    )


def parse_release(text: str) -> Release:
    """A release as given: "6.12", "6.12.58", "6.12.118+deb13-amd64", "6.1.0-56-cloud-amd64"
    or "latest"; an InputError naming the value and the accepted forms otherwise."""
    releases = kernel_data().releases
    given = text.strip()
    if not given:
        raise InputError(f"kernel version is empty; accepted: {accepted_releases()}")
    if given.lower() == "latest":
        return Release(mainline=parse_version(releases[-1]), text=releases[-1])
    match = RELEASE_RE.fullmatch(given)
    mainline = (int(match[1]), int(match[2])) if match else None
    if match is None or mainline is None or version_text(mainline) not in releases:
        raise InputError(f"unknown kernel version {text!r}; accepted: {accepted_releases()}")
    point_text, suffix = match[3], match[4] or ""
    if point_text is None:
        return Release(mainline=mainline, text=version_text(mainline))
    point: int | None = int(point_text)
    if point == 0 and suffix.startswith("-"):
        point = None  # X.Y.0-N (Debian 6.1, Ubuntu, RHEL): an ABI number, not a stable release
    return Release(mainline=mainline, point=point, text=given)


def _at(changes: Mapping[str, T], version: Version) -> T:
    """Like `at`, but releases before the first key take its value (the earliest we model)."""
    value = at(changes, version)
    return value if value is not None else changes[min(changes, key=parse_version)]


def mainline_availability(mainline: Version, arch: str) -> Availability:
    """HVO on `arch` in a mainline release, by the `hvo` table alone. Where HVO was disabled,
    how long that lasts is said from the timeline: until the release that brings it back, or
    through the newest release the data has."""
    timeline = kernel_data().hvo.get(arch, {})
    availability = at(timeline, mainline)
    if availability is None:
        return Availability(available=False, why=f"the kernel data has no HVO entry for {arch}")
    keys = sorted(timeline, key=parse_version)
    since = [k for k in keys if parse_version(k) <= mainline][-1]
    disabled = not availability.available and any(timeline[k].available for k in keys[: keys.index(since)])
    if not disabled:
        return availability
    back = next((k for k in keys if parse_version(k) > mainline and timeline[k].available), None)
    lasts = f"until Linux {back}" if back else f"and is not re-enabled through {kernel_data().releases[-1]}"
    why = f"{availability.why} {lasts}" + (f"; {availability.outlook}" if availability.outlook and not back else "")
    return replace(availability, why=why)


def hvo_availability(release: Release, arch: str) -> Availability:
    """HVO on `arch` in this release: the mainline's, less what its stable series dropped."""
    availability = mainline_availability(release.mainline, arch)
    removal = kernel_data().stable_removal.get(arch)
    first = removal.first_point.get(release.version) if removal else None
    if removal is None or first is None or not availability.available:
        return availability
    dropped = f"{release.version}.{first}"
    why = (
        f"{removal.why} was backported to stable {dropped}: {release.version} kernels from {dropped} on "
        f"have no HVO on {arch}"
    )
    if release.point is not None:
        return availability if release.point < first else Availability(available=False, why=why)
    note = f"{why}; this models {release.version} as released (give the point release, e.g. {dropped}, for those)"
    return replace(availability, note=" ".join(filter(None, [availability.note, note])))


def known_issues(release: Release, arch: str) -> tuple[KnownIssue, ...]:
    """The known problems that apply (or may) to this release on `arch`."""
    found = []
    for entry in kernel_data().known_issue:
        applies = entry.applies_to(release, arch)
        if applies is not None:
            found.append(KnownIssue(**values(entry), applies=applies))
    return tuple(found)


def behaviour(version_or_latest: str, arch: str) -> KernelBehaviour:
    """The behaviour of one release (any accepted form) on one architecture."""
    data = kernel_data()
    release = parse_release(version_or_latest)
    availability = hvo_availability(release, arch)
    flags = build(Behaviour, data.behaviour_at(release.mainline))
    policy = data.restore_policies[flags.restore_policy]
    return KernelBehaviour(
        **values(flags),
        version=release.version,
        release=release.text,
        point=release.point,
        arch=arch,
        hvo_available=availability.available,
        why_unavailable=availability.why,
        note=availability.note,
        restore_gfp=policy.gfp,
        restore_same_node=policy.same_node,
        boot_preoptimize=bool(at(data.boot_preoptimize.get(arch, {}), release.mainline)),
        known_issues=known_issues(release, arch),
        hvo_released=release.mainline >= parse_version(data.first_hvo_release),
    )


def last_release_with_hvo(arch: str) -> str | None:
    """The newest mainline release in which `arch` has HVO (for "what it would free")."""
    for release in reversed(kernel_data().releases):
        if mainline_availability(parse_version(release), arch).available:
            return release
    return None


def would_be_behaviour(arch: str) -> KernelBehaviour | None:
    """A kernel with HVO on `arch`, for "what HVO would free": the newest release that has
    it; for an architecture that never had it (powerpc64), the latest release with HVO
    assumed, marked hypothetical. None for an architecture the data does not know."""
    if arch not in kernel_data().hvo:
        return None
    release = last_release_with_hvo(arch)
    if release is not None:
        return behaviour(release, arch)
    latest = behaviour("latest", arch)
    note = (
        f"hypothetical: {latest.why_unavailable}; as for arm64 today, this is what HVO would free "
        f"if {arch} had it, modelled on Linux {latest.version}"
    )
    return replace(latest, hvo_available=True, why_unavailable="", hypothetical=True, note=note)


def hvo_releases(arch: str) -> str:
    """The mainline releases with HVO on `arch`, as spans: "5.14+", "5.19-6.2", "never"."""
    releases = kernel_data().releases
    spans: list[list[str]] = []
    previous = False
    for release in releases:
        available = mainline_availability(parse_version(release), arch).available
        if available and not previous:
            spans.append([release, release])
        elif available:
            spans[-1][1] = release
        previous = available
    if not spans:
        return "never"
    return ", ".join(f"{a}+" if b == releases[-1] else (a if a == b else f"{a}-{b}") for a, b in spans)


def stable_releases_without_hvo(arch: str) -> tuple[str, ...]:
    """The first stable point release of each series that dropped HVO on `arch`: "6.12.58"."""
    removal = kernel_data().stable_removal.get(arch)
    if removal is None:
        return ()
    series = sorted(removal.first_point, key=parse_version)
    return tuple(f"{s}.{removal.first_point[s]}" for s in series)
