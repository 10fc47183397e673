"""From what was read to what the model needs: the profile (architecture and base page),
the kernel release whose rules apply, HVO's state, and the pools with their boot flags.

Decisions, each documented where it is made:

- Machine: uname(2) on a live host; in a capture its uname.txt, else
  proc/sys/kernel/arch (newer kernels), else the release's flavour suffix (-amd64,
  -arm64, .x86_64, ...). Names, suffixes and paging modes are the profiles' own
  (`uname_machine`, `release_suffixes`, `vmalloc_bytes`): no architecture is named here.
- Base page: sysconf(_SC_PAGE_SIZE) on a live host; in a capture uname.txt's
  page_size, else MemTotal divided by the managed pages of /proc/zoneinfo (MemTotal is
  exactly the managed pages; a power of two of at least 4 KiB is required).
- Kernel: the upstream point release (from /proc/version or uname -r) first, then uname -r
  as is, then MAJOR.MINOR; a release newer than the model's data is planned with the newest
  release the data has, and the report says so.
"""

import math
from dataclasses import dataclass

from hvo_calc.errors import InputError
from hvo_calc.host.collect import Collected, Counts
from hvo_calc.host.fs import HostFS, Problem
from hvo_calc.host.models import HvoState
from hvo_calc.host.readers import release_major_minor
from hvo_calc.kernels import KernelBehaviour, behaviour, kernel_data, parse_version
from hvo_calc.profiles import ArchProfile, arch_names, find_profile, machine_arch, machine_of_suffix, profile_by_vmalloc


class CannotPlan(Exception):
    """Nothing can be planned: one problem per line. `fs` and `found` are what was read
    (set by the inspector, for --capture)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        self.fs: HostFS | None = None
        self.found: Collected | None = None


@dataclass(frozen=True)
class Identity:
    machine: str
    machine_source: str
    profile: ArchProfile
    paging: int | None  # page-table levels, where VmallocTotal told them among the arch's modes
    base_page_source: str
    release: str
    version: str | None  # upstream point release
    kernel: str  # what the plan is given
    behaviour: KernelBehaviour


def machine_of(found: Collected) -> tuple[str | None, str]:
    if found.uname.get("machine"):
        return found.uname["machine"], "uname" if found.live else "uname.txt"
    if found.arch_sysctl:
        return found.arch_sysctl, "proc/sys/kernel/arch"
    for word in reversed((found.release or "").replace("+", "-").replace(".", "-").split("-")):
        machine = machine_of_suffix(word)
        if machine:
            return machine, f"the release's suffix -{word}"
    return None, "not found"


def page_of(found: Collected) -> tuple[int | None, str, list[Problem]]:
    problems: list[Problem] = []
    if found.sysconf_page_bytes:
        return found.sysconf_page_bytes, "sysconf(_SC_PAGE_SIZE)", problems
    given = found.uname.get("page_size")
    derived = derived_page_bytes(found)
    if given:
        if not given.isdigit():
            problems.append(Problem("uname.txt", f"page_size={given!r} is not a number of bytes"))
        else:
            if derived and derived != int(given):
                problems.append(
                    Problem(
                        "uname.txt", f"page_size={given} but MemTotal / managed pages gives {derived}: using page_size"
                    )
                )
            return int(given), "uname.txt", problems
    if derived:
        return derived, "MemTotal / managed pages (proc/meminfo, proc/zoneinfo)", problems
    return None, "not found", problems


def derived_page_bytes(found: Collected) -> int | None:
    """MemTotal is totalram_pages() x PAGE_SIZE, and totalram_pages() is the sum of the zones'
    managed pages: their ratio is the base page size."""
    if not (found.meminfo and found.zones):
        return None
    managed = sum(z.managed for z in found.zones.values())
    total = found.meminfo.mem_total_bytes or 0
    if not managed or total % managed:
        return None
    page = total // managed
    return page if page >= 4096 and page & (page - 1) == 0 else None


def host_profile(machine: str, page: int, vmalloc_total_bytes: int | None = None) -> tuple[ArchProfile, int | None]:
    """The profile for uname -m and the page size and, where the architecture has paging
    modes that VmallocTotal tells apart, the one it tells and its levels (else None)."""
    arch = machine_arch(machine)
    if arch is None:
        raise InputError(f"unknown architecture {machine!r}; hvo-calc has profiles for: {', '.join(arch_names())}")
    profile = find_profile(arch, page)
    told = profile_by_vmalloc(profile, vmalloc_total_bytes)
    return (told, told.paging) if told else (profile, None)


def kernel_candidates(release: str, version: str | None) -> list[str]:
    """What to offer the kernel data, most precise first."""
    major_minor = release_major_minor(release)
    names = [version, release, f"{major_minor[0]}.{major_minor[1]}" if major_minor else None]
    return list(dict.fromkeys(n for n in names if n))


def kernel_rules(release: str, version: str | None, arch: str) -> tuple[str, KernelBehaviour, str | None]:
    """The release string to plan with, its behaviour, and a note when it is not the host's own."""
    for candidate in kernel_candidates(release, version):
        try:
            return candidate, behaviour(candidate, arch), None
        except InputError:
            continue
    major_minor = release_major_minor(release)
    if major_minor is None:
        raise InputError(f"kernel release {release!r} does not start with MAJOR.MINOR")
    releases = kernel_data().releases
    known = [r for r in releases if parse_version(r) <= major_minor]
    if not known:
        oldest = behaviour(releases[0], arch)
        if oldest.hvo_available:
            raise InputError(
                f"Linux {major_minor[0]}.{major_minor[1]} is older than the model's data "
                f"({releases[0]} to {releases[-1]})"
            )
        return (
            releases[0],
            oldest,
            (
                f"Linux {major_minor[0]}.{major_minor[1]} is older than the model's data "
                f"({releases[0]} to {releases[-1]}); {arch} has no HVO in Linux "
                f"{releases[0]} or before: planned with Linux {releases[0]}'s rules"
            ),
        )
    newest = known[-1]
    note = (
        f"Linux {major_minor[0]}.{major_minor[1]} is newer than the model's data ({releases[0]} to "
        f"{releases[-1]}): planned with Linux {newest}'s rules"
    )
    return newest, behaviour(newest, arch), note


MISSING = {
    "machine": "cannot tell the architecture: no uname.txt machine=, no proc/sys/kernel/arch, "
    "no flavour suffix in the release",
    "page size": "cannot tell the base page size: no uname.txt page_size=, and proc/meminfo "
    "MemTotal / proc/zoneinfo managed pages gives none",
    "kernel release": "cannot tell the kernel release: proc/sys/kernel/osrelease and uname.txt release= are missing",
}


def _profile(
    found: Collected, machine: str, source: str, page: int, fatal: list[Problem]
) -> tuple[ArchProfile | None, int | None]:
    """The host's profile and the page-table levels VmallocTotal told, or a fatal problem."""
    vmalloc = found.meminfo.get("VmallocTotal") if found.meminfo else None
    try:
        return host_profile(machine, page, vmalloc)
    except InputError as exc:
        fatal.append(Problem(f"machine {machine} ({source})", str(exc)))
        return None, None


def identify(found: Collected) -> tuple[Identity, list[str]]:
    """Profile and kernel, or CannotPlan with a problem for each thing missing."""
    from hvo_calc.host.readers import point_release

    notes: list[str] = []
    machine, machine_source = machine_of(found)
    page, page_source, page_problems = page_of(found)
    found.problems.extend(page_problems)
    given = {"machine": machine, "page size": page, "kernel release": found.release}
    fatal = [Problem(what, MISSING[what]) for what, value in given.items() if not value]
    profile, paging = _profile(found, machine, machine_source, page, fatal) if machine and page else (None, None)
    kernel = rules = version = None
    if profile and found.release:
        version = point_release(found.release, found.proc_version, found.version_signature)
        try:
            kernel, rules, note = kernel_rules(found.release, version, profile.arch)
            notes.extend([note] if note else [])
        except InputError as exc:
            fatal.append(Problem(f"kernel {found.release}", str(exc)))
    # A missing machine or release is in `fatal` already; naming them here narrows their types.
    if fatal or machine is None or not found.release or profile is None or kernel is None or rules is None:
        raise CannotPlan(found.problems + fatal)
    return Identity(
        machine=machine,
        machine_source=machine_source,
        profile=profile,
        paging=paging,
        base_page_source=page_source,
        release=found.release,
        version=version,
        kernel=kernel,
        behaviour=rules,
    ), notes


# -- HVO --------------------------------------------------------------------------------


def hvo_state(found: Collected, rules: KernelBehaviour) -> tuple[HvoState, bool, list[str]]:
    """HVO's state ("on", "off", "not built", "not available", "unknown"), whether the
    plan assumes it on, and notes."""
    notes: list[str] = []
    cmdline = found.cmdline.hvo if found.cmdline else None
    if not rules.hvo_available:
        if found.hvo_built:
            notes.append(
                f"the kernel has vm.hugetlb_optimize_vmemmap = {found.hvo_sysctl}, but the model's data "
                f"has no HVO for {rules.arch} in Linux {rules.version}: planned as the data says"
            )
        return "not available", False, notes
    if found.hvo_built is False:
        return "not built", False, notes
    if found.hvo_built and found.hvo_sysctl is not None:
        return ("on" if found.hvo_sysctl else "off"), bool(found.hvo_sysctl), notes
    planned = bool(cmdline)
    notes.append(
        f"whether HVO is on is not known; planned as {'on' if planned else 'off'} "
        f"({'hugetlb_free_vmemmap=on' if planned else 'the distribution default'})"
    )
    return "unknown", planned, notes


# -- pools and boot counts ------------------------------------------------------------------


def default_hugepage_bytes(found: Collected) -> int | None:
    if found.cmdline and found.cmdline.default_size_bytes:
        return found.cmdline.default_size_bytes
    return found.meminfo.hugepagesize_bytes if found.meminfo else None


def boot_requests(found: Collected) -> dict[int, tuple[int, dict[int, int] | None]]:
    """hugepages= of the command line by size: (count, per-node counts or None)."""
    requests: dict[int, tuple[int, dict[int, int] | None]] = {}
    default = default_hugepage_bytes(found)
    for request in found.cmdline.boot if found.cmdline else ():
        size = request.size_bytes if request.size_bytes is not None else default
        if size is None:
            found.problems.append(
                Problem(
                    "proc/cmdline",
                    f"hugepages={request.count} has no hugepagesz= before "
                    "it and the default hugepage size is not known",
                )
            )
            continue
        requests.setdefault(size, (request.count, request.per_node))
    return requests


def boot_on_node(
    requests: dict[int, tuple[int, dict[int, int] | None]], size: int, node: int, nodes_with_memory: list[int]
) -> int:
    """Hugepages of `size` the command line put on `node` at boot. The plain form is spread
    over the nodes with memory round-robin, as the kernel's boot allocation does."""
    if size not in requests:
        return 0
    count, per_node = requests[size]
    if per_node is not None:
        return per_node.get(node, 0)
    if node not in nodes_with_memory:
        return 0
    index, share = nodes_with_memory.index(node), len(nodes_with_memory)
    return count // share + (1 if index < count % share else 0)


def node_counts(found: Collected) -> dict[int, dict[int, Counts]]:
    """Hugepage counts per node: the node's own files, or the host-wide ones without NUMA."""
    if found.numa:
        return found.node_hugepages
    return {found.node_ids[0]: found.hugepages}


def node_memory(found: Collected) -> dict[int, int | None]:
    """Each node's MemTotal; the host's MemTotal for a host without NUMA information."""
    if not found.numa:
        total = found.meminfo.mem_total_bytes if found.meminfo else None
        return {found.node_ids[0]: total}
    return {n: (m.mem_total_bytes if m else None) for n, m in found.node_meminfo.items()}


# -- sections -------------------------------------------------------------------------------


def section_bytes(profile: ArchProfile) -> int | None:
    """SPARSEMEM section size, as the profile gives it (None where it does not)."""
    return profile.section_bytes


def present_sections(found: Collected, profile: ArchProfile) -> int | None:
    """Sections with memory, estimated per node as its present pages (/proc/zoneinfo) rounded
    up to whole sections. Exact where RAM is section-aligned (VM guests, most servers); a
    machine whose firmware leaves holes inside sections has a section or so more."""
    size = section_bytes(profile)
    if not (found.zones and size):
        return None
    return sum(math.ceil(z.present * profile.base_page / size) for z in found.zones.values())


def boot_vmemmap_pages(sections: int, section: int, profile: ArchProfile, struct_page_bytes: int = 64) -> int:
    """Vmemmap pages of `sections` sections, populated from boot memory."""
    return -(-sections * (section // profile.base_page) * struct_page_bytes // profile.base_page)
