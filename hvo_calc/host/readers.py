"""One small reader per file of /proc and /sys that `inspect` needs, each returning a
typed result, after the fashion of prometheus/procfs and psutil.

Each `parse_*` function turns a file's text into a value or raises `ValueError` with a
message that names what is wrong; each `read_*` function reads the file through `HostFS`
and turns an absent, unreadable or garbled file into a `Problem` in `problems` and a
`None` result. Optional values stay `None`: a kernel without a counter gives "absent",
never 0.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from hvo_calc.host.fs import FileText, HostFS, Problem

KB = 1024

T = TypeVar("T")


# -- single values -------------------------------------------------------------------


def parse_int(text: str) -> int:
    """A file holding one non-negative decimal integer ("1024\\n")."""
    value = text.strip()
    if not re.fullmatch(r"[0-9]+", value):
        raise ValueError(f"expected a whole number, found {_show(value)}")
    return int(value)


def parse_hex(text: str) -> int:
    """A file holding one hexadecimal number without 0x ("8000000\\n": block_size_bytes)."""
    value = text.strip().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-fA-F]+", value):
        raise ValueError(f"expected a hexadecimal number, found {_show(value)}")
    return int(value, 16)


# The kernel's largest MAX_NUMNODES (NODES_SHIFT 10) and NR_CPUS (8192, x86-64's MAXSMP).
MAX_NODES = 1024
MAX_CPUS = 8192


def parse_id_list(text: str, limit: int = MAX_NODES, what: str = "NUMA nodes") -> list[int]:
    """A kernel list of ids: "0", "0-1", "0-3,8-11" (node online/possible, cpulist). Ids
    are below `limit` (the kernel's own bound); each range is checked before it is expanded."""
    value = text.strip()
    if not value:
        return []
    parts = value.split(",", limit)
    if len(parts) > limit:
        raise ValueError(f"more than {limit:,} entries: beyond the kernel's largest {limit:,} {what}")
    ids: set[int] = set()
    for part in parts:
        match = re.fullmatch(r"([0-9]{1,7})(?:-([0-9]{1,7}))?", part.strip())
        if not match:
            raise ValueError(f"expected a list of ids like 0-1,3 (ASCII digits), found {_show(value)}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last < first:
            raise ValueError(f"the range {first}-{last} goes backwards, in {_show(value)}")
        if last >= limit:
            raise ValueError(f"id {last} is beyond the kernel's largest {limit:,} {what}, in {_show(value)}")
        ids.update(range(first, last + 1))
    return sorted(ids)


def _show(text: str, limit: int = 40) -> str:
    short = text if len(text) <= limit else text[:limit] + "..."
    return repr(short)


# -- meminfo ---------------------------------------------------------------------------

_MEMINFO_LINE = re.compile(r"^([A-Za-z0-9_()]+):\s+([0-9]+)(?:\s+(kB))?\s*$")


@dataclass(frozen=True)
class Meminfo:
    """/proc/meminfo or a node's meminfo: sizes in bytes, page counts as counts."""

    fields: dict[str, int]

    def get(self, key: str) -> int | None:
        return self.fields.get(key)

    @property
    def mem_total_bytes(self) -> int | None:
        return self.fields.get("MemTotal")

    @property
    def hugepagesize_bytes(self) -> int | None:
        return self.fields.get("Hugepagesize")


def parse_meminfo(text: str, node: int | None = None) -> Meminfo:
    """`Key: value [kB]` lines; a node's file prefixes each with `Node N `."""
    fields: dict[str, int] = {}
    prefix = f"Node {node} "
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if node is not None:
            if not line.startswith(prefix):
                raise ValueError(f"line {number} does not start with {prefix.strip()!r}: {_show(line)}")
            line = line[len(prefix) :]
        match = _MEMINFO_LINE.match(line)
        if not match:
            raise ValueError(f"line {number} is not 'Key: value [kB]': {_show(line)}")
        key, value, unit = match.groups()
        fields[key] = int(value) * (KB if unit else 1)
    if "MemTotal" not in fields:
        raise ValueError("no MemTotal line")
    return Meminfo(fields)


# -- vmstat ----------------------------------------------------------------------------


def parse_vmstat(text: str) -> dict[str, int]:
    """`name value` lines of /proc/vmstat."""
    counters: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"[a-z0-9_]+", parts[0]) or not re.fullmatch(r"-?[0-9]+", parts[1]):
            raise ValueError(f"line {number} is not 'name value': {_show(line)}")
        counters[parts[0]] = int(parts[1])
    if not counters:
        raise ValueError("no counters")
    return counters


# -- zoneinfo --------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeZones:
    """A node's zones summed: pages spanned, present (RAM) and managed (MemTotal's pages)."""

    spanned: int = 0
    present: int = 0
    managed: int = 0
    zones: tuple[str, ...] = ()


def parse_zoneinfo(text: str) -> dict[int, NodeZones]:
    """Per node, the `spanned`, `present` and `managed` pages of its zones summed."""
    pages: dict[int, dict[str, int]] = {}  # node -> spanned, present, managed
    zones: dict[int, list[str]] = {}
    node = None
    for line in text.splitlines():
        header = re.match(r"^Node\s+([0-9]+),\s+zone\s+(\S+)", line)
        if header:
            node = int(header.group(1))
            pages.setdefault(node, {"spanned": 0, "present": 0, "managed": 0})
            zones.setdefault(node, []).append(header.group(2))
            continue
        count = re.match(r"^\s+(spanned|present|managed)\s+([0-9]+)\s*$", line)
        if count and node is not None:
            pages[node][count.group(1)] += int(count.group(2))
    if not pages:
        raise ValueError("no 'Node N, zone NAME' sections")
    return {
        n: NodeZones(spanned=e["spanned"], present=e["present"], managed=e["managed"], zones=tuple(zones[n]))
        for n, e in sorted(pages.items())
    }


# -- the kernel command line -----------------------------------------------------------


@dataclass(frozen=True)
class BootHugepages:
    """One `hugepages=` on the command line: its size (None: the default size), and the
    count, for all nodes or per node (`hugepages=0:256,1:128`)."""

    size_bytes: int | None
    count: int
    per_node: dict[int, int] | None = None


@dataclass(frozen=True)
class CommandLine:
    text: str
    hvo: bool | None = None  # hugetlb_free_vmemmap=
    hvo_value: str | None = None
    default_size_bytes: int | None = None  # default_hugepagesz=
    boot: tuple[BootHugepages, ...] = ()
    warnings: tuple[str, ...] = ()


_MEMPARSE = re.compile(r"^([0-9]+)([KMGTPE]?)$", re.IGNORECASE)
_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}


def memparse(text: str) -> int | None:
    """The kernel's memparse for the forms hugepagesz= takes: 2M, 1G, 2048K, bytes."""
    match = _MEMPARSE.match(text.strip())
    return int(match.group(1)) * _SUFFIX[match.group(2).upper()] if match else None


def kstrtobool(text: str) -> bool | None:
    """The kernel's kstrtobool: y/Y/t/T/1/on true, n/N/f/F/0/off false, else None."""
    value = text.strip().lower()
    if value[:1] in ("y", "t", "1") or value == "on":
        return True
    if value[:1] in ("n", "f", "0") or value == "off":
        return False
    return None


def split_cmdline(text: str) -> list[str]:
    """Parameters as the kernel's next_arg splits them: on blanks, double quotes kept together;
    everything after a lone `--` is for init and left out."""
    words: list[str] = []
    word: list[str] = []
    quoted = False
    for char in text.strip():
        if char == '"':
            quoted = not quoted
            continue
        if char.isspace() and not quoted:
            if word:
                words.append("".join(word))
                word = []
            continue
        word.append(char)
    if word:
        words.append("".join(word))
    return words[: words.index("--")] if "--" in words else words


def parse_cmdline(text: str) -> CommandLine:
    """HVO and hugepage parameters of /proc/cmdline, read as mm/hugetlb.c reads them:
    `hugepages=` applies to the `hugepagesz=` before it, or to the default size when none
    came before; a second `hugepages=` for the same size is ignored."""
    hvo = hvo_value = default_size = None
    boot: list[BootHugepages] = []
    warnings: list[str] = []
    size: int | None = None
    seen: set[int | None] = set()
    for word in split_cmdline(text):
        key, _, value = word.partition("=")
        if key == "hugetlb_free_vmemmap":
            hvo_value = value
            hvo = kstrtobool(value) if value else None
            if hvo is None:
                warnings.append(f"hugetlb_free_vmemmap={value!r} is not on or off; the kernel ignores it")
        elif key == "default_hugepagesz":
            default_size = memparse(value)
            if default_size is None:
                warnings.append(f"default_hugepagesz={value!r} is not a size")
        elif key == "hugepagesz":
            size = memparse(value)
            if size is None:
                warnings.append(f"hugepagesz={value!r} is not a size; the hugepages= after it are not read")
        elif key == "hugepages":
            add_boot_hugepages(value, size, boot, seen, warnings)
    return CommandLine(
        text=text.strip(),
        hvo=hvo,
        hvo_value=hvo_value,
        default_size_bytes=default_size,
        boot=tuple(boot),
        warnings=tuple(warnings),
    )


def add_boot_hugepages(
    value: str, size: int | None, boot: list[BootHugepages], seen: set[int | None], warnings: list[str]
) -> None:
    """One `hugepages=` for the size `size`: kept in `boot` unless that size (in `seen`) has one."""
    request = parse_hugepages_value(value, size)
    if request is None:
        warnings.append(f"hugepages={value!r} is not a count nor NODE:COUNT,...")
    elif request.size_bytes in seen:
        warnings.append(f"hugepages={value} given twice for one size; the kernel keeps the first")
    else:
        seen.add(request.size_bytes)
        boot.append(request)


def parse_hugepages_value(value: str, size: int | None) -> BootHugepages | None:
    if re.fullmatch(r"[0-9]+", value):
        return BootHugepages(size, int(value))
    if re.fullmatch(r"[0-9]+:[0-9]+(,[0-9]+:[0-9]+)*", value):
        per_node: dict[int, int] = {}
        for part in value.split(","):
            node, count = part.split(":")
            per_node[int(node)] = per_node.get(int(node), 0) + int(count)
        return BootHugepages(size, sum(per_node.values()), per_node)
    return None


# -- kernel release and machine --------------------------------------------------------


def parse_key_values(text: str) -> dict[str, str]:
    """`key=value` lines (uname.txt, which `--capture` writes beside /proc and /sys)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]+", key.strip()):
            raise ValueError(f"line {number} is not 'key=value': {_show(line)}")
        values[key.strip()] = value.strip()
    return values


_RELEASE = re.compile(r"^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")


def release_major_minor(release: str) -> tuple[int, int] | None:
    match = _RELEASE.match(release)
    return (int(match.group(1)), int(match.group(2))) if match else None


def point_release(release: str, proc_version: str | None, signature: str | None = None) -> str | None:
    """The upstream point release (6.1.192) behind a uname -r (6.1.0-56-cloud-amd64).

    Distributions put it after the build number in /proc/version ("#1 SMP PREEMPT_DYNAMIC
    Debian 6.1.192-2 (2026-11-16)") or in /proc/version_signature (Ubuntu: its last word);
    else uname -r itself when it has three numbers and the third is not Debian's ".0" ABI
    placeholder that /proc/version overrides."""
    major_minor = release_major_minor(release)
    if major_minor is None:
        return None
    candidates: list[str] = []
    if signature and signature.split():
        candidates.append(signature.split()[-1])
    if proc_version and "#" in proc_version:
        candidates += re.findall(
            r"(?<![0-9.])([0-9]+\.[0-9]+\.[0-9]+)(?![0-9.])", proc_version[proc_version.index("#") :]
        )
    for candidate in candidates:
        match = _RELEASE.match(candidate)
        if match and (int(match.group(1)), int(match.group(2))) == major_minor:
            return match.group(0)
    match = _RELEASE.match(release)
    return match.group(0) if match and match.group(3) is not None else None


# -- hugepage sizes in sysfs -------------------------------------------------------------


def hugepage_dir_bytes(name: str) -> int | None:
    """ "hugepages-2048kB" -> 2 MiB in bytes."""
    match = re.fullmatch(r"hugepages-([0-9]+)kB", name)
    return int(match.group(1)) * KB if match else None


# -- dmesg -----------------------------------------------------------------------------

_KERNEL_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(B|KiB|MiB|GiB|TiB)")
_SIZE_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def kernel_size(text: str) -> int | None:
    """string_get_size's "2.00 MiB", "64.0 KiB", "512 MiB" back to bytes."""
    match = _KERNEL_SIZE.fullmatch(text.strip())
    if not match:
        return None
    return round(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


@dataclass(frozen=True)
class HugetlbBootLines:
    """The HugeTLB lines of the kernel log: what each size printed at boot."""

    lines: tuple[str, ...] = ()
    preallocated: dict[int, int] = field(default_factory=dict)  # size -> pages allocated at boot
    can_free_kib: dict[int, int] = field(default_factory=dict)  # size -> "N KiB vmemmap can be freed" (6.0+)
    unknown_parameters: tuple[str, ...] = ()  # hugetlb parameters the kernel did not know


def is_hugetlb_line(line: str) -> bool:
    return "HugeTLB" in line or "hugetlb" in line


def parse_dmesg(text: str) -> HugetlbBootLines:
    """The HugeTLB lines of `dmesg` output (the whole log or already filtered)."""
    lines, preallocated, can_free, unknown = [], {}, {}, []
    for line in text.splitlines():
        if not is_hugetlb_line(line):
            continue
        lines.append(line.rstrip())
        registered = re.search(r"HugeTLB:? registered (.+?) page size, pre-allocated ([0-9]+) pages", line)
        if registered and (size := kernel_size(registered.group(1))):
            preallocated[size] = int(registered.group(2))
        freed = re.search(r"HugeTLB: ([0-9]+) KiB vmemmap can be freed for a (.+?) page", line)
        if freed and (size := kernel_size(freed.group(2))):
            can_free[size] = int(freed.group(1))
        if "Unknown kernel command line parameters" in line:
            unknown += re.findall(r"(hugetlb\w*=\S*?)(?=[\s\"]|$)", line)
    return HugetlbBootLines(tuple(lines), preallocated, can_free, tuple(dict.fromkeys(unknown)))


# -- readers: the same parsers on a HostFS, problems collected ---------------------------


def read_parsed(
    fs: HostFS, path: str, parse: Callable[[str], T], problems: list[Problem], *, what: str = "", optional: bool = False
) -> T | None:
    """`parse(text)` of `path`; an absent file is a problem unless `optional`; an
    unreadable or garbled one always is."""
    file = fs.read(path)
    return parse_file(file, parse, problems, what=what, optional=optional)


def parse_file(
    file: FileText, parse: Callable[[str], T], problems: list[Problem], *, what: str = "", optional: bool = False
) -> T | None:
    if file.text is None:
        if not (optional and file.absent):
            problems.append(file.problem(what))
        return None
    try:
        return parse(file.text)
    except ValueError as exc:
        problems.append(Problem(file.path, f"cannot parse: {exc}{f' ({what})' if what else ''}"))
        return None
