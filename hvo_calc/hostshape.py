"""A host described by flags: its memory and NUMA nodes, and pools by size or by count.

`--memory 768G --nodes 2` (RAM split evenly) or `--node-memory 384G,384G`; `--pool 1G:700G`
(700 GiB of 1G pages), `--pool 2M:64G@1` (on node 1), `--pool 1G:340@0,boot,name=guests`
(340 pages, at boot, named). A pool given by total size is resolved to a count only once its
hugepage size is known, so `compare --huge 2M,1G --size 700G` keeps 700 GiB in both; a size
that is not a whole number of hugepages is refused with the two nearest whole counts.
"""

import re
from dataclasses import replace

from hvo_calc.errors import InputError
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest
from hvo_calc.profiles import find_profile
from hvo_calc.record import build, frozen
from hvo_calc.units import human_size, parse_size, short_size

POOL_FORM = "SIZE:AMOUNT[@NODE][,boot][,shrink-to=N][,zone=ZONE][,name=NAME], e.g. 1G:700G, 2M:64G@1 or 1G:340@0,boot"
_POOL_RE = re.compile(r"^\s*([^:@,]+):([^:@,]+)(?:@(\d+))?\s*((?:,[^,]*)*)$")


@frozen
class PoolSpec:
    """A pool as the flags give it: its hugepage size (None: the plan's `--huge`, else the
    profile's default) and either a count or the total bytes its hugepages hold."""

    hugepage_size: int | None = None
    count: int | None = None
    total_bytes: int | None = None
    node: int = 0
    name: str | None = None
    boot: bool = False
    shrink_to: int | None = None
    zone: str | None = None
    given: str = ""  # the flag as typed, for messages

    @property
    def by_size(self) -> bool:
        """Whether the pool keeps its memory (not its count) when its hugepage size changes."""
        return self.total_bytes is not None


def whole_count(total_bytes: int, hugepage_bytes: int, given: str) -> int:
    """Hugepages of `hugepage_bytes` that hold exactly `total_bytes`, or an InputError naming the two nearest."""
    below, rest = divmod(total_bytes, hugepage_bytes)
    if rest == 0 and below > 0:
        return below
    nearest = [n for n in (below, below + 1) if n > 0]
    counts = " or ".join(f"{n} ({human_size(n * hugepage_bytes)})" for n in nearest)
    raise InputError(
        f"{given}: {human_size(total_bytes)} is not a whole number of {short_size(hugepage_bytes)} hugepages; "
        f"accepted: a whole number of them, nearest {counts}"
    )


def default_hugepage_bytes(request: PlanRequest) -> int:
    """The size a pool without one gets, as the planner gives it: the one a PMD maps (2M on x86-64)."""
    profile = find_profile(request.arch, request.base_page, request.paging, request.mmu)
    pmd = [h.size for h in profile.hugepage if h.mapped_by == "pmd" and h.contiguous == 1]
    return (pmd or [profile.hugepage[0].size])[0]


def resolve(spec: PoolSpec, host: PlanRequest) -> PoolRequest:
    """The pool for the planner on `host`; a pool by size without a hugepage size takes the host's default."""
    size = spec.hugepage_size
    count = spec.count
    if spec.total_bytes is not None:
        size = size if size is not None else default_hugepage_bytes(host)
        count = whole_count(spec.total_bytes, size, spec.given)
    values: dict[str, object] = dict(
        hugepage_size=size, count=count, node=spec.node, name=spec.name, boot=spec.boot, shrink_to=spec.shrink_to
    )
    if spec.zone is not None:
        values["zone"] = spec.zone
    return build(PoolRequest, values)


def _size(text: str, what: str) -> int:
    size = parse_size(text.strip(), what)
    if size <= 0:
        raise InputError(f"{what} {text!r} is not positive; accepted: a size such as 2M, 1G or 384G")
    return size


def _amount(text: str, given: str) -> dict[str, int]:
    """A bare whole number is a count; a number with a unit is a total size."""
    text = text.strip()
    if text.isdigit():
        if int(text) < 1:
            raise InputError(f"--pool {given}: a pool holds at least 1 hugepage; accepted: {POOL_FORM}")
        return {"count": int(text)}
    return {"total_bytes": _size(text, f"--pool {given}: pool size")}


_PLAIN_KEYS = {"shrink-to": "shrink_to", "zone": "zone", "name": "name"}


def _extras(text: str, given: str) -> dict[str, object]:
    """`,boot`, `,shrink-to=N`, `,zone=Z`, `,name=N` after the pool's size and amount."""
    extras: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        if item == "boot":
            extras["boot"] = True
        elif key in _PLAIN_KEYS and value:
            extras[_PLAIN_KEYS[key]] = int(value) if key == "shrink-to" and value.isdigit() else value
        else:
            raise InputError(f"--pool {given}: {item!r} is not a pool setting; accepted: {POOL_FORM}")
    if "shrink_to" in extras and not isinstance(extras["shrink_to"], int):
        raise InputError(f"--pool {given}: shrink-to takes a whole number of hugepages, e.g. shrink-to=300")
    return extras


def parse_pool(text: str) -> PoolSpec:
    """One `--pool` value."""
    match = _POOL_RE.match(text)
    if not match:
        raise InputError(f"--pool {text!r} is not a pool; accepted: {POOL_FORM}")
    size, amount, node, extras = match.groups()
    return PoolSpec(
        hugepage_size=_size(size, f"--pool {text}: hugepage size"),
        node=int(node) if node else 0,
        given=f"--pool {text}",
        **_amount(amount, text),  # type: ignore[arg-type]
        **_extras(extras, text),  # type: ignore[arg-type]
    )


def single_pool(huge: int | None, count: int | None, size: int | None, shrink_to: int | None) -> PoolSpec:
    """The pool of `--huge`, `--count`, `--size` and `--shrink-to` (one of count and size)."""
    if count is not None and size is not None:
        raise InputError("--count and --size both say how large the pool is; give one of them")
    spec = PoolSpec(hugepage_size=huge, shrink_to=shrink_to, given=f"--size {short_size(size)}" if size else "--count")
    if size is not None:
        return replace(spec, total_bytes=size)
    return replace(spec, count=count or 1)


def nodes(memory: int | None, node_count: int | None, node_memory: str | None) -> tuple[NodeRequest, ...]:
    """The host's NUMA nodes from `--memory` (and `--nodes`) or `--node-memory`; none given: ()."""
    if node_memory is not None:
        if memory is not None or node_count is not None:
            raise InputError("--node-memory gives each node's memory; give it without --memory and --nodes")
        sizes = [_size(part, "--node-memory: node memory") for part in node_memory.split(",")]
        return tuple(NodeRequest(memory=size) for size in sizes)
    if memory is None:
        if node_count is not None:
            raise InputError("--nodes splits --memory evenly over the nodes; give --memory SIZE too")
        return ()
    count = node_count or 1
    each, rest = divmod(memory, count)
    if rest:
        raise InputError(
            f"--memory {human_size(memory)} does not split evenly over {count} nodes; "
            "accepted: a size divisible by the node count, or --node-memory per node"
        )
    return tuple(NodeRequest(memory=each) for _ in range(count))
