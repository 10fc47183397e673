"""Plans as asked for: a host, its nodes and pools (flags or a plan file), the defaults
that fill what is not given, and the checks a request must pass before anything runs."""

from functools import partial
from typing import Annotated, Literal

from hvo_calc.engine import DEFAULT_WINDOW_PTES
from hvo_calc.errors import InputError
from hvo_calc.profiles import DEFAULT_ARCH, ArchProfile
from hvo_calc.record import Record, RecordError, record, replace
from hvo_calc.units import parse_size, short_size

# `hvo-calc plan` with no pools: a typical VM host, with many hugepages of the size the PMD
# maps (2M on x86-64) and a few of the largest (1G): counts of each.
DEFAULT_COUNTS = (4096, 16)
# Sizes as given ("2M", "64GiB" or bytes), read as bytes; an error names what the size is of.
HugepageBytes = Annotated[int, partial(parse_size, what="hugepage size")]
NodeBytes = Annotated[int, partial(parse_size, what="node memory")]
PageBytes = Annotated[int, partial(parse_size, what="base page")]


def _bounded(
    name: str, value: int | None, *, ge: int | None = None, gt: int | None = None, le: int | None = None
) -> None:
    """A whole number within bounds, or a RecordError worded as the options' other checks are."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(name, f"Input should be a valid integer, not {value!r}")
    if ge is not None and value < ge:
        raise RecordError(name, f"Input should be greater than or equal to {ge}")
    if gt is not None and value <= gt:
        raise RecordError(name, f"Input should be greater than {gt}")
    if le is not None and value > le:
        raise RecordError(name, f"Input should be less than or equal to {le}")


@record
class PoolRequest(Record):
    """One pool as asked for."""

    hugepage_size: HugepageBytes | None = None  # None: the profile's default size (the one its PMD maps)
    count: int
    node: int = 0
    name: str | None = None
    boot: bool = False
    shrink_to: int | None = None
    zone: str = "normal"

    def __post_init__(self) -> None:
        super().__post_init__()
        _bounded("count", self.count, ge=1)
        _bounded("node", self.node, ge=0)
        _bounded("shrink_to", self.shrink_to, ge=0)

    @property
    def size_bytes(self) -> int:
        """The hugepage size, once `with_sizes` has settled it."""
        if self.hugepage_size is None:
            raise InputError("a pool has no hugepage size")
        return self.hugepage_size


@record
class NodeRequest(Record):
    """A NUMA node: its memory, and optionally what is free when a pool shrinks."""

    memory: NodeBytes
    free: NodeBytes | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _bounded("memory", self.memory, gt=0)
        _bounded("free", self.free, ge=0)


@record
class PlanRequest(Record):
    """A host and its pools, as asked for (flags or a plan file)."""

    arch: str = DEFAULT_ARCH
    base_page: PageBytes | None = None
    paging: int | None = None  # page-table levels, where an architecture has two (x86-64: 4 or 5)
    mmu: str | None = None  # powerpc64: radix or hash
    kernel: str = "latest"
    struct_page_bytes: int = 64
    hvo: bool = True
    placement: Literal["packed", "scattered"] = "packed"
    nodes: tuple[NodeRequest, ...] = ()
    pools: tuple[PoolRequest, ...] = ()
    # No pools means the default pools, except for a host described alone (a plan file
    # without [[pool]], as `inspect --write-config` writes for a host with none): no pools.
    host_only: bool = False
    window_ptes: int = DEFAULT_WINDOW_PTES

    def __post_init__(self) -> None:
        super().__post_init__()
        _bounded("struct_page_bytes", self.struct_page_bytes, ge=8, le=4096)
        _bounded("window_ptes", self.window_ptes, ge=1)


def default_hugepage_size(profile: ArchProfile) -> int:
    """The size a pool has when none is given: the one a PMD maps (2M on x86-64)."""
    return next(
        (h.size for h in profile.hugepage if h.mapped_by == "pmd" and h.contiguous == 1), profile.hugepage[0].size
    )


def default_pools(profile: ArchProfile) -> tuple[PoolRequest, ...]:
    """The default host's pools: many of the PMD size, a few of the largest."""
    sizes = dict.fromkeys((default_hugepage_size(profile), max(h.size for h in profile.hugepage)))
    return tuple(PoolRequest(hugepage_size=size, count=count) for size, count in zip(sizes, DEFAULT_COUNTS))


def with_sizes(
    profile: ArchProfile, pools: tuple[PoolRequest, ...], host_only: bool = False
) -> tuple[PoolRequest, ...]:
    """The pools asked for, a pool without a size taking the profile's default; none: the default
    host's pools, or none at all for a host described alone."""
    if not pools and not host_only:
        return default_pools(profile)
    size = default_hugepage_size(profile)
    return tuple(p if p.hugepage_size is not None else replace(p, hugepage_size=size) for p in pools)


def planned_hugepages(request: PlanRequest) -> int:
    """Hugepages the plan will simulate (for progress)."""
    if request.pools or request.host_only:
        return sum(pool.count for pool in request.pools)
    return sum(DEFAULT_COUNTS)


def check_struct_page(profile: ArchProfile, struct_page_bytes: int) -> None:
    """The kernel refuses to build (BUILD_BUG_ON) with a struct page over a third of a page."""
    most = profile.base_page // 3
    if struct_page_bytes > most:
        raise InputError(
            f"--struct-page-size {struct_page_bytes} is more than a third of a "
            f"{short_size(profile.base_page)} page; the kernel cannot be built so: accepted: 8 to {most}"
        )


def check_pool(profile: ArchProfile, request: PlanRequest, pool: PoolRequest) -> None:
    check_hugepage_size(profile, pool.size_bytes)
    if pool.node >= max(1, len(request.nodes)):
        nodes = f"nodes 0 to {len(request.nodes) - 1}" if request.nodes else "no [[node]] entries: accepted: node 0"
        raise InputError(f"a pool is on node {pool.node}, but the plan has {nodes}")
    zones = profile.zones
    if pool.zone not in zones:
        raise InputError(f"{profile.name} has no zone {pool.zone!r} for hugepages; accepted: {', '.join(zones)}")
    if pool.shrink_to is not None and pool.shrink_to > pool.count:
        raise InputError(
            f"shrink_to {pool.shrink_to} is more than the pool's {pool.count} hugepages; accepted: 0 to {pool.count}"
        )


def pool_names(pools: tuple[PoolRequest, ...]) -> list[str]:
    """Each pool's name: its own, or its size and node as `inspect` names a host's pools
    ("1G-node0"), with "-2", "-3" for a second and third of that size on that node."""
    names: list[str] = []
    for pool in pools:
        name = pool.name or f"{short_size(pool.size_bytes)}-node{pool.node}"
        if not pool.name and name in names:
            name = next(f"{name}-{k}" for k in range(2, len(pools) + 2) if f"{name}-{k}" not in names)
        names.append(name)
    return names


def check_names(pools: tuple[PoolRequest, ...]) -> None:
    """Pools are told apart by name in every report (a Prometheus series each)."""
    names = pool_names(pools)
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InputError(f"pool name {twice[0]!r} is given to more than one pool; each pool needs a name of its own")


def check_hugepage_size(profile: ArchProfile, size_bytes: int) -> None:
    if profile.hugepage_size(size_bytes) is None:
        sizes = ", ".join(short_size(h.size) for h in profile.hugepage)
        raise InputError(f"{profile.name} has no {short_size(size_bytes)} hugepages; accepted: {sizes}")
