"""Read everything `inspect` needs from one host (live or a captured tree), file by file.

`collect` calls one reader per file and keeps what each returned, typed; whatever is
absent, unreadable or garbled becomes a `Problem` and the rest goes on. Nothing here
knows the model: deciding the architecture's profile, the kernel's rules and HVO's
state is `resolve`'s job.

Files read (relative to the root; the same paths on a live host and in a capture):

    proc/meminfo proc/vmstat proc/zoneinfo proc/cmdline proc/version proc/version_signature
    proc/sys/kernel/osrelease proc/sys/kernel/arch
    proc/sys/vm/hugetlb_optimize_vmemmap proc/sys/vm/nr_hugepages proc/sys/vm/nr_overcommit_hugepages
    sys/kernel/mm/hugepages/hugepages-*/{nr,free,surplus,resv}_hugepages, nr_overcommit_hugepages
    sys/devices/system/node/online, node*/meminfo, node*/hugepages/hugepages-*/{nr,free,surplus}_hugepages
    sys/devices/system/memory/block_size_bytes
    uname.txt, dmesg-hugetlb.txt (captured trees only: what uname and dmesg said)
    unreadable.txt (captured trees only: the files the captured host could not read, and why)

On a live host, the machine and page size come from uname(2) and sysconf(_SC_PAGE_SIZE)
and the kernel log from /dev/kmsg (readable by root, or when kernel.dmesg_restrict is 0).
"""

import os
import re
import stat
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from hvo_calc.host.fs import (
    MAX_FILE_BYTES,
    UNREADABLE_FILE,
    HostFS,
    Problem,
    Refused,
    kind_of,
    parse_unreadable,
    read_regular,
)
from hvo_calc.host.readers import (
    MAX_CPUS,
    MAX_NODES,
    CommandLine,
    HugetlbBootLines,
    Meminfo,
    NodeZones,
    hugepage_dir_bytes,
    is_hugetlb_line,
    parse_cmdline,
    parse_dmesg,
    parse_hex,
    parse_id_list,
    parse_int,
    parse_key_values,
    parse_meminfo,
    parse_vmstat,
    parse_zoneinfo,
    read_parsed,
)

UNAME_FILE = "uname.txt"
DMESG_FILE = "dmesg-hugetlb.txt"
HUGEPAGES_DIR = "sys/kernel/mm/hugepages"
NODE_DIR = "sys/devices/system/node"
HVO_SYSCTL = "proc/sys/vm/hugetlb_optimize_vmemmap"


@dataclass(frozen=True)
class Counts:
    """One hugepage size's counters, as sysfs gives them (None: not read)."""

    total: int | None = None
    free: int | None = None
    surplus: int | None = None
    reserved: int | None = None
    overcommit: int | None = None


@dataclass
class Collected:
    """What the readers returned, typed; None where a file was absent or unreadable."""

    live: bool
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    uname: dict[str, str] = field(default_factory=dict)  # uname.txt or uname(2)
    sysconf_page_bytes: int | None = None
    release: str | None = None
    arch_sysctl: str | None = None
    proc_version: str | None = None
    version_signature: str | None = None
    meminfo: Meminfo | None = None
    vmstat: dict[str, int] | None = None
    zones: dict[int, NodeZones] | None = None
    cmdline: CommandLine | None = None
    hvo_sysctl: int | None = None
    hvo_built: bool | None = None
    vm_nr_hugepages: int | None = None
    hugepages: dict[int, Counts] = field(default_factory=dict)  # size -> host-wide counts
    node_ids: list[int] = field(default_factory=list)
    numa: bool = False  # sys/devices/system/node read
    node_meminfo: dict[int, Meminfo | None] = field(default_factory=dict)
    node_hugepages: dict[int, dict[int, Counts]] = field(default_factory=dict)
    block_bytes: int | None = None
    dmesg: HugetlbBootLines | None = None


def collect(fs: HostFS, dmesg_file: Path | None = None) -> Collected:
    found = Collected(live=fs.live)
    problems = found.problems
    if not fs.live:  # a capture says which files its host could not read
        fs.record_unreadable(read_parsed(fs, UNREADABLE_FILE, parse_unreadable, problems, optional=True) or {})
    read_identity(fs, found)
    found.meminfo = read_parsed(fs, "proc/meminfo", parse_meminfo, problems, what="MemTotal and HugePages_*")
    found.vmstat = read_parsed(fs, "proc/vmstat", parse_vmstat, problems, what="nr_memmap_pages")
    found.zones = read_parsed(fs, "proc/zoneinfo", parse_zoneinfo, problems, what="present memory sections")
    found.cmdline = read_parsed(
        fs, "proc/cmdline", parse_cmdline, problems, what="hugetlb_free_vmemmap= and the pools allocated at boot"
    )
    for warning in found.cmdline.warnings if found.cmdline else ():
        problems.append(Problem("proc/cmdline", warning))
    read_hvo_sysctl(fs, found)
    found.hugepages = read_hugepage_dirs(fs, HUGEPAGES_DIR, problems, host_wide=True)
    read_nodes(fs, found)
    found.block_bytes = read_parsed(
        fs, "sys/devices/system/memory/block_size_bytes", parse_hex, problems, optional=True
    )
    found.dmesg = read_kernel_log(fs, dmesg_file, found)
    return found


def read_identity(fs: HostFS, found: Collected) -> None:
    """uname: from uname(2) on the live host, from uname.txt in a capture; the kernel's own
    files (osrelease, version, arch) either way."""
    if fs.live:
        name = os.uname()
        found.uname = {"machine": name.machine, "release": name.release}
        try:
            found.sysconf_page_bytes = os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            found.sysconf_page_bytes = None
    else:
        found.uname = read_parsed(fs, UNAME_FILE, parse_key_values, found.problems, optional=True) or {}
        page = found.uname.get("page_size")
        if page and not re.fullmatch(r"[0-9]+", page):
            found.problems.append(Problem(UNAME_FILE, f"page_size={page!r} is not a number of bytes (ASCII digits)"))
            del found.uname["page_size"]
    release = read_parsed(
        fs,
        "proc/sys/kernel/osrelease",
        lambda t: _one_word(t, "a release"),
        found.problems,
        what="uname -r",
        optional=bool(found.uname.get("release")),
    )
    found.release = release or found.uname.get("release")
    found.arch_sysctl = read_parsed(
        fs, "proc/sys/kernel/arch", lambda t: _one_word(t, "a machine name"), found.problems, optional=True
    )
    found.proc_version = read_parsed(fs, "proc/version", lambda t: t.strip(), found.problems, optional=True)
    found.version_signature = read_parsed(
        fs, "proc/version_signature", lambda t: t.strip(), found.problems, optional=True
    )


def _one_word(text: str, what: str) -> str:
    value = text.strip()
    if not re.fullmatch(r"[\w.+~:-]{1,128}", value):
        raise ValueError(f"expected {what}, found {value[:40]!r}")
    return value


def read_hvo_sysctl(fs: HostFS, found: Collected) -> None:
    """vm.hugetlb_optimize_vmemmap: present when HVO is built (its value is the current
    setting). Absent means not built, if the vm sysctls are there at all."""

    def zero_or_one(text: str) -> int:
        value = parse_int(text)
        if value > 1:
            raise ValueError(f"expected 0 or 1, found {value}")
        return value

    file = fs.read(HVO_SYSCTL)
    found.vm_nr_hugepages = read_parsed(fs, "proc/sys/vm/nr_hugepages", parse_int, found.problems, optional=True)
    read_parsed(fs, "proc/sys/vm/nr_overcommit_hugepages", parse_int, found.problems, optional=True)
    if file.absent:
        vm_readable = fs.live or fs.read("proc/sys/vm/nr_hugepages").text is not None
        found.hvo_built = False if vm_readable else None
        if not vm_readable:
            found.problems.append(
                Problem(HVO_SYSCTL, "absent, and so is proc/sys/vm/nr_hugepages: cannot tell whether HVO is built")
            )
        return
    found.hvo_sysctl = read_parsed(fs, HVO_SYSCTL, zero_or_one, found.problems, what="whether HVO is on")
    found.hvo_built = True


FILES_HOST_WIDE = ("nr_hugepages", "free_hugepages", "surplus_hugepages", "resv_hugepages", "nr_overcommit_hugepages")
FILES_NODE = ("nr_hugepages", "free_hugepages", "surplus_hugepages")


def read_hugepage_dirs(fs: HostFS, directory: str, problems: list[Problem], host_wide: bool) -> dict[int, Counts]:
    """Each hugepages-<N>kB directory's counters, by hugepage size in bytes. The host-wide
    directory must be there; a node's may be absent (no hugepages there), never unreadable."""
    listing = fs.listdir(directory)
    if listing.error is not None:
        if host_wide or not listing.absent:
            problems.append(Problem(directory, f"{listing.error} (hugepage sizes and counts)"))
        return {}
    sizes: dict[int, Counts] = {}
    for name in listing.names:
        size = hugepage_dir_bytes(name)
        if size is None:
            continue
        values = {}
        for file in FILES_HOST_WIDE if host_wide else FILES_NODE:
            values[file] = read_parsed(
                fs, f"{directory}/{name}/{file}", parse_int, problems, optional=file != "nr_hugepages"
            )
        sizes[size] = Counts(
            total=values["nr_hugepages"],
            free=values["free_hugepages"],
            surplus=values["surplus_hugepages"],
            reserved=values.get("resv_hugepages"),
            overcommit=values.get("nr_overcommit_hugepages"),
        )
    return dict(sorted(sizes.items()))


def node_ids(fs: HostFS, problems: list[Problem]) -> list[int]:
    """The online node list, else the nodeN directories; an unreadable list is a problem."""
    ids = read_parsed(fs, f"{NODE_DIR}/online", parse_id_list, problems, optional=True)
    if ids is not None:
        read_parsed(fs, f"{NODE_DIR}/possible", parse_id_list, problems, optional=True)
        return ids
    listing = fs.listdir(NODE_DIR)
    if listing.error is not None and not listing.absent:
        problems.append(Problem(NODE_DIR, f"{listing.error} (NUMA nodes)"))
    named = [int(n[4:]) for n in listing.names if re.fullmatch(r"node[0-9]{1,7}", n)]
    if len(named) > MAX_NODES or any(n >= MAX_NODES for n in named):
        problems.append(
            Problem(NODE_DIR, f"node directories beyond the kernel's largest {MAX_NODES:,} NUMA nodes: not read")
        )
        return []
    return sorted(named)


def read_nodes(fs: HostFS, found: Collected) -> None:
    """NUMA nodes: the online list (else the nodeN directories), each one's meminfo and
    hugepage counts. A kernel without NUMA has no node directory: one node, host-wide files."""
    ids = node_ids(fs, found.problems)
    if not ids:
        found.node_ids = [0]
        found.notes.append(f"no NUMA node information ({NODE_DIR}): one node, host-wide counts")
        return
    found.numa = True
    found.node_ids = ids
    cpus = partial(parse_id_list, limit=MAX_CPUS, what="CPUs")
    for node in ids:
        base = f"{NODE_DIR}/node{node}"
        found.node_meminfo[node] = read_parsed(
            fs, f"{base}/meminfo", partial(parse_meminfo, node=node), found.problems, what=f"node {node}'s memory"
        )
        read_parsed(fs, f"{base}/cpulist", cpus, found.problems, optional=True)
        found.node_hugepages[node] = read_hugepage_dirs(fs, f"{base}/hugepages", found.problems, host_wide=False)


# -- the kernel log ---------------------------------------------------------------------


def read_kernel_log(fs: HostFS, dmesg_file: Path | None, found: Collected) -> HugetlbBootLines | None:
    """The HugeTLB boot lines: from --dmesg FILE, else the capture's dmesg-hugetlb.txt, else
    (live) /dev/kmsg. Optional: a tool must not rely on them (they can scroll out of the log)."""
    if dmesg_file is not None:
        try:
            text = read_dmesg_file(dmesg_file)
        except Refused as exc:
            found.problems.append(Problem(str(dmesg_file), f"cannot read --dmesg: {exc}"))
            return None
        return parse_dmesg(text)
    if not fs.live:
        file = fs.read(DMESG_FILE)
        if file.absent:
            found.notes.append(f"no {DMESG_FILE} in the tree: no HugeTLB boot lines (optional)")
            return None
        return read_parsed(fs, DMESG_FILE, parse_dmesg, found.problems)
    lines = read_kmsg()
    if isinstance(lines, str):
        found.notes.append(
            f"kernel log not readable ({lines}): no HugeTLB boot lines; give them with --dmesg FILE (optional)"
        )
        return None
    return parse_dmesg("\n".join(lines))


KMSG_DEVICE = (1, 11)  # /dev/kmsg's major and minor


def read_dmesg_file(path: Path) -> str:
    """--dmesg FILE: a regular file of at most MAX_FILE_BYTES (undecodable bytes replaced),
    or the kernel's /dev/kmsg; anything else (a FIFO, /dev/zero, a socket) is refused unopened."""
    try:
        status = os.stat(path)
        if stat.S_ISCHR(status.st_mode) and (os.major(status.st_rdev), os.minor(status.st_rdev)) == KMSG_DEVICE:
            lines = read_kmsg(str(path))
            if isinstance(lines, str):
                raise Refused(lines)
            return "\n".join(lines)
        if not stat.S_ISREG(status.st_mode):
            raise Refused(f"{kind_of(status.st_mode)}, not a regular file (nor /dev/kmsg); not read")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            return read_regular(fd).decode("utf-8", errors="replace")
        finally:
            os.close(fd)
    except OSError as exc:
        raise Refused(exc.strerror or str(exc)) from None


def read_kmsg(path: str = "/dev/kmsg", limit: int = MAX_FILE_BYTES) -> list[str] | str:
    """The HugeTLB records of the kernel's ring buffer, formatted as dmesg prints them,
    or why they could not be read. Read non-blocking until EAGAIN (the end of the buffer),
    at most `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    lines: list[str] = []
    size = 0
    try:
        for _ in range(limit):  # records, and EPIPEs of records overwritten while reading
            if size >= limit:
                break
            try:
                record = os.read(fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:  # overwritten while reading: go on with the next record
                continue
            except OSError as exc:
                return f"{path}: {exc.strerror or exc}"
            if not record:
                break
            size += len(record)
            head, _, message = record.decode("utf-8", "replace").partition(";")
            message = message.split("\n", 1)[0]
            fields = head.split(",")
            if len(fields) >= 3 and re.fullmatch(r"[0-9]+", fields[2]) and is_hugetlb_line(message):
                usec = int(fields[2])
                lines.append(f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] {message}")
    finally:
        os.close(fd)
    return lines
