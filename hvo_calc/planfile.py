"""Plan files: a host and its pools in UTF-8 TOML, validated, turned into a `PlanRequest`;
and the other way, a `PlanRequest` written as a plan file that reads back as it
(`dump_plan`, for `inspect --write-config`).

    [host]
    arch = "x86-64"          # also: base_page, kernel, struct_page_size, hvo, placement,
    kernel = "6.12"          #       paging, mmu (as the profiles have them)

    [[node]]                 # NUMA nodes in physical address order; optional
    memory = "256G"
    free = "8G"              # free memory when a pool shrinks (default: what the plan leaves)

    [[pool]]
    size = "1G"
    count = 200
    node = 0
    zone = "normal"          # or another zone of the profile ("movable", "dma32")
    boot = true              # allocated at boot (hugepages=) rather than at runtime
    shrink_to = 150          # model giving hugepages back (the restore path)

Every value has one type (strict: no `true` for a count, no `"12"` for a number, no
`"yes"` for a boolean), and the file is bounded (size, nesting, pools, nodes, name
length). Whatever is wrong ends in one `InputError` line naming the file, the key, the
problem and what is accepted: never a traceback.
"""

import os
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hvo_calc.base import Model
from hvo_calc.errors import InputError
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest
from hvo_calc.profiles import mmu_names, paging_levels, zone_names
from hvo_calc.record import RecordError
from hvo_calc.units import parse_size, short_size

MAX_FILE_BYTES = 1 << 20  # a plan with 4096 pools is about 300 KiB
MAX_DEPTH = 8  # tables and arrays inside each other; a plan file needs 3 ([[pool]] -> its keys)
MAX_POOLS = 4096
MAX_NODES = 1024  # the kernel's MAX_NUMNODES at NODES_SHIFT=10
MAX_NAME = 64
MAX_SIZE = 1 << 64  # bytes: more than any address space


def _either(values: Sequence[object]) -> str:
    """'"a", "b" or "c"': a list of TOML values as an accepted-values text."""
    texts = [f'"{v}"' if isinstance(v, str) else str(v) for v in values]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"


def _from_profiles() -> dict[str, str]:
    """The accepted values the profiles decide: page-table levels, MMUs, zones."""
    return {
        "host.paging": f"{_either(paging_levels())} (page-table levels)",
        "host.mmu": _either(mmu_names()),
        "pool[].zone": _either(zone_names()),
    }


ACCEPTED = {
    "host": "a [host] table",
    "host.arch": 'an architecture as `hvo-calc profiles` lists it or `uname -m` prints it, e.g. arch = "x86-64"',
    "host.base_page": 'a base page size, e.g. base_page = "4K"',
    "host.kernel": 'a release: mainline MAJOR.MINOR ("7.3"), stable ("6.12.58"), uname -r '
    '("6.12.118+deb13-amd64") or "latest"',
    "host.struct_page_size": "a whole number of bytes from 8 to 4096, e.g. struct_page_size = 64",
    "host.hvo": "true or false",
    "host.placement": '"packed" or "scattered"',
    "node": f"up to {MAX_NODES} [[node]] tables, each with memory (and free)",
    "node[]": "a [[node]] table with memory (and free), free at most memory",
    "node[].memory": 'a positive size, e.g. memory = "256G" (or a whole number of bytes)',
    "node[].free": 'a size no larger than the node\'s memory, e.g. free = "8G" (or a whole number of bytes)',
    "pool": f"1 to {MAX_POOLS} [[pool]] tables",
    "pool[]": "a [[pool]] table with size and count",
    "pool[].size": 'a hugepage size, e.g. size = "2M" or size = "1G"',
    "pool[].count": "a whole number of at least 1, e.g. count = 64",
    "pool[].node": "a whole number: 0 for the first [[node]], 1 for the second, ...",
    "pool[].name": f'a string of 1 to {MAX_NAME} printable characters on one line, e.g. name = "guests"',
    "pool[].boot": "true or false",
    "pool[].shrink_to": "a whole number from 0 to the pool's count",
}


class _Section(Model):
    """Every value has exactly its type (TOML's, not converted)."""

    model_config = ConfigDict(strict=True)


def _size(value: str | int, what: str) -> int:
    """A size given as a string ("2M") or whole bytes; ValueError (for pydantic) when not one."""
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{what} is empty")
    try:
        size = parse_size(value, what)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    if size < 0:
        raise ValueError(f"{what} {value!r} is negative")
    if size >= MAX_SIZE:
        raise ValueError(f"{what} {value!r} is larger than any address space")
    return size


def _positive_size(value: str | int, what: str) -> int:
    """_size, and more than nothing: a node's memory, a hugepage."""
    size = _size(value, what)
    if size <= 0:
        raise ValueError(f"{what} {value!r} is not positive")
    return size


def _text(value: str, what: str) -> str:
    if not value.strip():
        raise ValueError(f"{what} is empty")
    if not value.isprintable() or len(value) > 200:
        raise ValueError(f"{what} {value[:40]!r} is not one line of printable text")
    return value


def _one_of(value: str, accepted: tuple[str, ...], what: str) -> str:
    """`value` if some profile has it; ValueError (for pydantic) when none does."""
    if value not in accepted:
        raise ValueError(f"no architecture profile has the {what} {value[:40]!r}")
    return value


class HostSection(_Section):
    arch: str | None = None
    base_page: str | int | None = None
    kernel: str | None = None
    struct_page_size: int | None = Field(default=None, ge=8, le=4096)
    hvo: bool | None = None
    placement: Literal["packed", "scattered"] | None = None
    paging: int | None = None
    mmu: str | None = None

    @field_validator("arch", "kernel")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return None if value is None else _text(value, "the value")

    @field_validator("base_page")
    @classmethod
    def _page(cls, value: str | int | None) -> int | None:
        return None if value is None else _size(value, "base page")

    @field_validator("paging")
    @classmethod
    def _levels(cls, value: int | None) -> int | None:
        if value is not None and value not in paging_levels():
            raise ValueError(f"{value} is not a number of page-table levels")
        return value

    @field_validator("mmu")
    @classmethod
    def _mmu(cls, value: str | None) -> str | None:
        return None if value is None else _one_of(value, mmu_names(), "MMU")


class NodeSection(_Section):
    memory: str | int
    free: str | int | None = None

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | int) -> int:
        return _positive_size(value, "node memory")

    @field_validator("free")
    @classmethod
    def _free(cls, value: str | int | None) -> int | None:
        return None if value is None else _size(value, "free memory")

    @model_validator(mode="after")
    def _free_within_memory(self) -> "NodeSection":
        if self.free is not None and int(self.free) > int(self.memory):
            raise ValueError(f"free ({self.free:,} bytes) is more than memory ({self.memory:,} bytes)")
        return self


class PoolSection(_Section):
    name: str | None = None
    size: str | int
    count: int = Field(ge=1)
    node: int = Field(default=0, ge=0, lt=MAX_NODES)
    boot: bool = False
    shrink_to: int | None = Field(default=None, ge=0)
    zone: str | None = None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _one_of(value, zone_names(), "zone")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > MAX_NAME:
            raise ValueError(f"the name is {len(value)} characters long")
        return _text(value, "the name")

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | int) -> int:
        return _positive_size(value, "hugepage size")


class PlanFile(_Section):
    host: HostSection = HostSection()
    node: list[NodeSection] = Field(default_factory=list, max_length=MAX_NODES)
    pool: list[PoolSection] = Field(default_factory=list, max_length=MAX_POOLS)  # none: the host alone


# The tables of a plan file, by where they are (as `_key` spells it generically).
_MODELS: dict[str, type[BaseModel]] = {"": PlanFile, "host": HostSection, "node[]": NodeSection, "pool[]": PoolSection}


def _describe(value: object) -> str:
    """A value as the TOML said it, short and on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        text = repr(value[:40] + ("..." if len(value) > 40 else ""))
        return f"the string {text}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _key(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """pydantic's location as the key ("pool.2.count") and its ACCEPTED entry ("pool[].count").
    Parts that are not keys (the member tags of a union, "str" or "int") are left out: a key
    is a part met inside a table."""
    parts: list[str] = []
    generic = ""
    for part in loc:
        if isinstance(part, int):
            parts.append(str(part))
            generic = f"{generic}[]"
        elif generic in _MODELS:
            parts.append(str(part))
            generic = f"{generic}.{part}" if generic else str(part)
    return ".".join(parts) or "(top level)", generic


def validation_message(path: Path, exc: ValidationError) -> str:
    """pydantic's first complaint as one line: file, key, problem, what is accepted."""
    err = exc.errors()[0]
    key, generic = _key(tuple(err["loc"]))
    kind, problem = err["type"], str(err["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        parent = generic.rsplit(".", 1)[0] if "." in generic else ""
        model = _MODELS.get(parent)
        known = ", ".join(model.model_fields) if model else ""
        return f"{path}: {key}: {problem} (an unknown key); accepted keys{' here' if parent else ''}: {known}"
    if kind not in ("missing", "value_error") and "input" in err:
        problem = f"{problem}, not {_describe(err['input'])}"
    accepted = {**ACCEPTED, **_from_profiles()}.get(generic)
    return f"{path}: {key}: {problem}" + (f"; accepted: {accepted}" if accepted else "")


def _decode(path: Path, data: bytes) -> str:
    """The file's text, if it is UTF-8 (a UTF-8 byte-order mark is allowed)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path}: the file is UTF-16 (or UTF-32) text; plan files are UTF-8 TOML: save it as UTF-8")
    if b"\x00" in data:
        raise InputError(f"{path}: the file holds NUL bytes (binary, or UTF-16/32 text); plan files are UTF-8 TOML")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}: byte 0x{data[exc.start]:02x} on line {line} is not UTF-8 (Latin-1 or "
            "another legacy encoding?); plan files are UTF-8 TOML: save it as UTF-8"
        ) from None


def _depth_and_sizes(path: Path, data: dict[str, object]) -> None:
    """Refuse nesting deeper than a plan needs, and more pools or nodes than the bounds,
    before any validation walks them (iteratively: no recursion to exhaust)."""
    for key, limit, what in (("pool", MAX_POOLS, "pools"), ("node", MAX_NODES, "nodes")):
        items = data.get(key)
        if isinstance(items, list) and len(items) > limit:
            raise InputError(f"{path}: {key}: {len(items)} {what}; accepted: at most {limit} [[{key}]] tables")
    stack: list[tuple[object, str, int]] = [(data, "", 1)]
    while stack:
        value, key, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(
                f"{path}: {key}: nested {depth} levels deep; accepted: at most {MAX_DEPTH} "
                "levels of tables and arrays (a plan needs 3)"
            )
        if isinstance(value, dict):
            stack.extend((item, f"{key}.{name}" if key else str(name), depth + 1) for name, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{key}.{index}", depth + 1) for index, item in enumerate(value))


def read_toml(path: Path) -> dict[str, Any]:
    """A plan file's data: UTF-8 TOML of bounded size and nesting, or one InputError line."""
    try:
        # Non-blocking, so that a FIFO or a device named by mistake is refused, not waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the plan file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path}: the plan file is not a regular file; accepted: a TOML file")
        os.set_blocking(fd, True)
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read the plan file: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(
            f"{path}: the plan file is larger than {MAX_FILE_BYTES >> 10} KiB; accepted: a "
            f"TOML plan of at most {MAX_POOLS} pools"
        )
    text = _decode(path, data)
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: cannot read TOML: {exc}") from None
    except RecursionError:
        raise InputError(
            f"{path}: arrays or tables nested too deeply to read; accepted: at most {MAX_DEPTH} levels (a plan needs 3)"
        ) from None
    _depth_and_sizes(path, parsed)
    return parsed


def read_plan_file(path: Path) -> PlanFile:
    """The plan file's content, or one InputError line naming the file, key and problem."""
    data = read_toml(path)
    try:
        plan_file = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_message(path, exc)) from None
    check_references(path, plan_file)
    return plan_file


def check_references(path: Path, plan_file: PlanFile) -> None:
    """What one key says about another: a pool's node exists, shrink_to is within count.
    (That names differ, the planner checks: default names count too.)"""
    nodes = len(plan_file.node)
    if not plan_file.pool and not nodes:
        raise InputError(
            f"{path}: pool: the file has no [[pool]] tables; accepted: {ACCEPTED['pool']}, "
            "or [[node]] tables alone for a host without pools yet"
        )
    for index, pool in enumerate(plan_file.pool):
        if pool.node >= max(nodes, 1):
            have = (
                f"nodes 0 to {nodes - 1}; accepted: 0 to {nodes - 1}"
                if nodes
                else "no [[node]] entries: accepted: node 0"
            )
            raise InputError(f"{path}: pool.{index}.node: a pool is on node {pool.node}, but the plan has {have}")
        if pool.shrink_to is not None and pool.shrink_to > pool.count:
            raise InputError(
                f"{path}: pool.{index}.shrink_to: shrink_to {pool.shrink_to} is more than the pool's "
                f"{pool.count} hugepages; accepted: 0 to {pool.count}"
            )


def plan_request(plan_file: PlanFile, overrides: Mapping[str, object], path: Path | None = None) -> PlanRequest:
    """The request the file describes, with host values from flags taking precedence."""
    host = {k: v for k, v in plan_file.host.model_dump().items() if v is not None}
    if "struct_page_size" in host:
        host["struct_page_bytes"] = host.pop("struct_page_size")
    host.update(overrides)
    # The sections' field validators have turned every size into bytes: memory, free and size are ints.
    nodes = tuple(NodeRequest(memory=cast(int, n.memory), free=cast(int | None, n.free)) for n in plan_file.node)
    pools = tuple(
        PoolRequest(
            hugepage_size=cast(int, p.size),
            count=p.count,
            node=p.node,
            name=p.name,
            boot=p.boot,
            shrink_to=p.shrink_to,
            **({"zone": p.zone} if p.zone is not None else {}),
        )
        for p in plan_file.pool
    )
    try:
        return PlanRequest(**host, nodes=nodes, pools=pools, host_only=not pools)
    except RecordError as exc:  # a value the file's own checks let through: still one line
        raise InputError(f"{path or 'the plan'}: {exc}") from None


# -- writing ----------------------------------------------------------------------------------

# TOML basic-string escapes; other control characters are written as \uXXXX, every other
# character as itself (the file is UTF-8), so a name outside the BMP stays one character.
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(value: str) -> str:
    """`value` as a TOML basic string."""
    escaped = (_ESCAPES.get(ch) or (f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch) for ch in value)
    return '"' + "".join(escaped) + '"'


def toml_value(value: str | int | bool) -> str:
    """A string, boolean or whole number as TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return toml_string(value) if isinstance(value, str) else str(value)


def _host_keys(request: PlanRequest) -> dict[str, str | int | bool]:
    """The [host] keys a request needs; defaults left out where leaving them out means the same."""
    keys: dict[str, str | int | bool | None] = {
        "arch": request.arch,
        "base_page": short_size(request.base_page) if request.base_page else None,
        "paging": request.paging,
        "mmu": request.mmu,
        "kernel": request.kernel,
        "struct_page_size": request.struct_page_bytes if request.struct_page_bytes != 64 else None,
        "hvo": request.hvo,
        "placement": request.placement if request.placement != "packed" else None,
    }
    return {key: value for key, value in keys.items() if value is not None}


def _pool_keys(pool: PoolRequest) -> dict[str, str | int | bool]:
    keys: dict[str, str | int | bool | None] = {
        "name": pool.name,
        "size": short_size(pool.size_bytes),
        "count": pool.count,
        "node": pool.node,
        "boot": pool.boot,
        "shrink_to": pool.shrink_to,
        "zone": pool.zone if pool.zone != "normal" else None,
    }
    return {key: value for key, value in keys.items() if value is not None}


def _table(header: str, keys: Mapping[str, str | int | bool]) -> list[str]:
    return ["", header, *(f"{key} = {toml_value(value)}" for key, value in keys.items())]


def dump_plan(
    request: PlanRequest, comments: Sequence[str] = (), node_notes: Sequence[str] = (), example_pool: str = ""
) -> str:
    """`request` as a plan file that `read_plan_file` reads back as it: `comments` on top,
    a note beside each [[node]], and, for a request without pools, `example_pool` (a pool
    size) as a commented-out [[pool]] to start from."""
    lines = [f"# {line}" for line in comments]
    lines += _table("[host]", _host_keys(request))[int(not lines) :]
    for index, node in enumerate(request.nodes):
        note = f"  # {node_notes[index]}" if index < len(node_notes) else ""
        free = {"free": node.free} if node.free is not None else {}
        lines += _table(f"[[node]]{note}", {"memory": node.memory, **free})
    for pool in request.pools:
        lines += _table("[[pool]]", _pool_keys(pool))
    if not request.pools and example_pool:
        lines += [
            "",
            f"# No hugepage pools yet: give them on the command line (--pool {example_pool}:64G),",
            "# or start from this example:",
            "# [[pool]]",
        ]
        lines += [f"# size = {toml_string(example_pool)}", "# count = 1", "# node = 0"]
    return "\n".join(lines) + "\n"
