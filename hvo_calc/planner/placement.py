"""Physical placement: where the pools lie in the model's memory, and the empty model
(frames and page table) they are simulated on."""

from math import gcd, lcm

from hvo_calc.engine import Extent
from hvo_calc.errors import InputError, VerificationError
from hvo_calc.frames import FrameAllocator
from hvo_calc.pagetable import PageTable
from hvo_calc.planner.requests import PlanRequest, PoolRequest
from hvo_calc.profiles import ArchProfile
from hvo_calc.units import human_size


def new_model(profile: ArchProfile, struct_page_bytes: int) -> tuple[FrameAllocator, PageTable]:
    """An empty host: frames numbered above any memory the pools can occupy."""
    first_model_pfn = (1 << profile.max_physmem_bits) // profile.base_page
    frames = FrameAllocator(first_model_pfn, boot_span_pages=first_model_pfn)
    return frames, PageTable(profile, frames)


def place(profile: ArchProfile, request: PlanRequest, pools: tuple[PoolRequest, ...]) -> list[Extent]:
    """Lay the pools out in the model's physical address space, one after another, each
    starting where its vmemmap starts a PMD block, so no two pools share a page table.

    What a user may plan is bounded by real memory: each node's size, and the physical
    addresses the architecture has. The model's own layout is not: its alignment gaps
    (on arm64 with 64K pages a vmemmap PMD block describes 512 GiB) live in an address
    space as large as the model's vmemmap addresses reach. `scattered` gives each
    hugepage a PMD block of its own where its node's memory has room for that, and
    otherwise spreads the node's hugepages, of all its pools, evenly over that memory (so
    however a node's hugepages are cut into pools, they split no more blocks than it has)."""
    limit = profile.max_memory_bytes(request.struct_page_bytes)
    memory = [n.memory for n in request.nodes] or [limit]
    if sum(memory) > limit:
        raise InputError(
            f"the nodes hold {human_size(sum(memory))}; {profile.name} can address at most "
            f"{human_size(limit)} of physical memory"
        )
    check_fits(profile, request, pools, memory, limit)
    page = profile.base_page
    block_pfns = vmemmap_block_pfns(profile, request.struct_page_bytes)
    # Scattered hugepages start their vmemmap on a page; where it is PMD-mapped, each in a block of its own.
    page_pfns = page // gcd(page, request.struct_page_bytes)
    scatter_pfns = block_pfns if profile.vmemmap_leaf == "pmd" else page_pfns
    # Scattered pools of a node share its memory: hugepages spread over it, all pools' alike.
    on_node = [sum(p.count for p in pools if p.node == node) for node in range(len(memory))]
    next_pfn, extents = 0, []
    for pool in pools:
        pages = pool.size_bytes // page
        start = -(-next_pfn // lcm(pages, block_pfns)) * lcm(pages, block_pfns)
        stride = pages
        if request.placement == "scattered":
            align = lcm(pages, page_pfns)
            spread = max(align, memory[pool.node] // page // on_node[pool.node] // align * align)
            stride = min(-(-pages // scatter_pfns) * scatter_pfns, spread)
        extents.append(Extent(start, stride, pool.count))
        next_pfn = start + stride * pool.count
    if next_pfn > model_span_pfns(profile, request.struct_page_bytes):
        raise VerificationError("the model's layout of the pools runs past the top of its vmemmap addresses")
    return extents


def check_fits(
    profile: ArchProfile, request: PlanRequest, pools: tuple[PoolRequest, ...], memory: list[int], limit: int
) -> None:
    """The hugepages of each node fit in its memory (or in what the architecture can address)."""
    for node, room in enumerate(memory):
        need = sum(p.count * p.size_bytes for p in pools if p.node == node)
        if need > room:
            need_text, room_text = human_size(need), human_size(room)
            if need_text == room_text:  # apart by less than the rounding: say it in bytes
                need_text, room_text = f"{need:,} bytes", f"{room:,} bytes"
            where = (
                f"node {node} has {room_text}"
                if request.nodes
                else f"{profile.name} can address at most {room_text} of physical memory "
                f"({profile.max_physmem_bits}-bit physical addresses)"
            )
            raise InputError(f"the pools need {need_text} of hugepages; {where}")


def model_span_pfns(profile: ArchProfile, struct_page_bytes: int) -> int:
    """Pages whose struct pages the model can address: from the vmemmap's start to the top
    of the 64-bit address space (the real window is smaller; the model only indexes it)."""
    return ((1 << 64) - profile.vmemmap_start) // struct_page_bytes


def vmemmap_block_pfns(profile: ArchProfile, struct_page_bytes: int) -> int:
    """Base pages whose struct pages fill one vmemmap PMD block: every pool starts on one,
    so no two pools share a PMD block (or, where the vmemmap is PTE-mapped, a PTE table)."""
    block_bytes = 1 << profile.level_shift("pmd")
    return block_bytes // gcd(block_bytes, struct_page_bytes)
