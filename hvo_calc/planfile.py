"""Plan files: a host and its pools in TOML, validated, turned into a `PlanRequest`.

    [host]
    arch = "x86-64"          # also: base_page, kernel, struct_page_size, hvo, placement
    kernel = "6.12"

    [[node]]                 # NUMA nodes in physical address order; optional
    memory = "256G"
    free = "8G"              # free memory when a pool shrinks (default: what the plan leaves)

    [[pool]]
    size = "1G"
    count = 200
    node = 0
    boot = true              # allocated at boot (hugepages=) rather than at runtime
    shrink_to = 150          # model giving hugepages back (the restore path)
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from hvo_calc.errors import InputError
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest
from hvo_calc.profiles import Strict, read_toml, validation_message


class HostSection(Strict):
    arch: str | None = None
    base_page: str | None = None
    kernel: str | None = None
    struct_page_size: int | None = Field(default=None, ge=8, le=4096)
    hvo: bool | None = None
    placement: Literal["packed", "scattered"] | None = None


class NodeSection(Strict):
    memory: str | int
    free: str | int | None = None


class PoolSection(Strict):
    name: str | None = None
    size: str | int
    count: int = Field(ge=1)
    node: int = Field(default=0, ge=0)
    boot: bool = False
    shrink_to: int | None = Field(default=None, ge=0)


class PlanFile(Strict):
    host: HostSection = HostSection()
    node: tuple[NodeSection, ...] = ()
    pool: tuple[PoolSection, ...] = Field(min_length=1)


def read_plan_file(path: Path) -> PlanFile:
    """The plan file's content, or one InputError line naming the file, key and problem."""
    try:
        return PlanFile.model_validate(read_toml(path))
    except ValidationError as exc:
        raise InputError(validation_message(path, exc)) from None


def plan_request(plan_file: PlanFile, overrides: dict[str, object]) -> PlanRequest:
    """The request the file describes, with host values from flags taking precedence."""
    host = {k: v for k, v in plan_file.host.model_dump().items() if v is not None}
    if "struct_page_size" in host:
        host["struct_page_bytes"] = host.pop("struct_page_size")
    host.update(overrides)
    nodes = tuple(NodeRequest(memory=n.memory, free=n.free) for n in plan_file.node)
    pools = tuple(
        PoolRequest(hugepage_size=p.size, count=p.count, node=p.node, name=p.name, boot=p.boot,
                    shrink_to=p.shrink_to)
        for p in plan_file.pool
    )
    return PlanRequest(**host, nodes=nodes, pools=pools)
