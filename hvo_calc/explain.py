"""`hvo-calc explain`: HVO performed on a few hugepages of the model, then read back.

The room runs the engine on `SIMULATED_HUGEPAGES` hugepages of one size (packed, where
`plan` would place a pool of them), reads the model's page tables with the verifier's own
walk right after populate and again once the remap is done and verified, and turns what
it read into an `Explanation`: every vmemmap page of each hugepage with the frame it
mapped before and maps after, read-write or read-only; the frames freed (the allocator's
log, held against the frames no longer mapped); which new frame is a copy of which (the
log's copies); what the tails map, found by comparing frames (a kept page of the
hugepage, or the zone's shared tail page in the allocator's registry), not by asking the
kernel data; and each PMD split with the page-table frame it cost. Nothing is drawn from
a template: a model that did something else would be explained as it is.

    before (populate)                       after (7.1+)
    [head][ t1 ] .. [ t7 ] -> f0 .. f7 RW    [copy][ t1 ] .. [ t7 ] -> c RW, s RO .. s RO
                                            f0 .. f7 freed; c a copy of f0; s the zone's
                                            shared tail page, the same for every hugepage

Pages are held as arrays, one row per vmemmap page, so a 1G hugepage (4096 pages) costs
no more than a few numpy passes. Both renderings (`hvo_calc.reports.explain_text` and
`explain_json`) draw the
same `shown` pages: a long run of like pages as its first two, one line for the rest but
the last, and its last.
"""

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from hvo_calc.engine import Extent, HugepageGeometry, SimOptions, simulate_pool
from hvo_calc.errors import VerificationError
from hvo_calc.frames import FrameAllocator, FrameLog
from hvo_calc.kernels import KernelBehaviour
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable
from hvo_calc.planner import PlanRequest, PoolRequest, new_model, prepare
from hvo_calc.profiles import ArchProfile
from hvo_calc.record import build
from hvo_calc.verify import Snapshot, WindowRules, walk_entries

SIMULATED_HUGEPAGES = 2  # the second shows what hugepages share (7.1+: the tail page)
DEFAULT_HUGEPAGE = "2M"
MAX_RUN = 8  # a run of like pages longer than this is elided ...
RUN_HEAD = 2  # ... to its first RUN_HEAD pages, one line for the rest but the last, and the last

# What a vmemmap page is after the run (`Hugepage.roles` holds the index).
HEAD = "head"  # the head page, still on its original frame
HEAD_COPY = "head-copy"  # the head page, moved to a fresh copy of its frame (6.2+)
KEPT = "kept"  # another page on its own frame (5.14-5.17's second page; every page without HVO)
TAIL = "tail"  # remapped read-only to a page it shares
ROLES = (HEAD, HEAD_COPY, KEPT, TAIL)
_HEAD, _HEAD_COPY, _KEPT, _TAIL = range(4)
SHARED_TAIL = "shared-tail"  # what the tails map on 7.1+ (else the role of the kept page they map)

FLAG_TEXT = {int(PRESENT | WRITE): "RW", int(PRESENT): "RO"}


def _flags(entries: np.ndarray) -> np.ndarray:
    """PRESENT and WRITE of each entry (3 RW, 1 RO, else not present)."""
    return (entries & (PRESENT | WRITE)).astype(np.int8)


def flag_text(code: int) -> str:
    return FLAG_TEXT.get(int(code), "--")


# -- the explanation -----------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One vmemmap page of a hugepage, before and after (made only for pages drawn)."""

    index: int
    vaddr: int
    before_pfn: int
    before_flags: str
    before_via: str  # "pmd-leaf" (a PMD leaf maps its block) or "pte"
    after_pfn: int
    after_flags: str
    after_via: str
    role: str
    freed: bool  # its frame before the run was freed
    copy_of: int | None = None  # the frame its new frame is a copy of (the allocator's log)
    maps: str | None = None  # a tail: what it maps (head, kept, head-copy or shared-tail)

    def as_dict(self) -> dict[str, object]:
        after: dict[str, object] = {
            "pfn": self.after_pfn,
            "flags": self.after_flags,
            "via": self.after_via,
            "role": self.role,
        }
        if self.copy_of is not None:
            after["copy_of"] = self.copy_of
        if self.maps is not None:
            after["maps"] = self.maps
        return {
            "index": self.index,
            "vaddr": f"{self.vaddr:#x}",
            "before": {"pfn": self.before_pfn, "flags": self.before_flags, "via": self.before_via},
            "after": after,
            "freed": self.freed,
        }


@dataclass(frozen=True)
class Elided:
    """A run of like pages left out of the drawing: one role and fate, consecutive frames
    before; after, one frame they all map (tails) or each its own (kept pages)."""

    first_index: int
    count: int
    first_vaddr: int
    last_vaddr: int
    role: str
    before_first: int
    before_last: int
    before_flags: str
    after_first: int
    after_last: int
    after_flags: str
    freed: bool
    maps: str | None

    def as_dict(self) -> dict[str, object]:
        after: dict[str, object] = {
            "first_pfn": self.after_first,
            "last_pfn": self.after_last,
            "flags": self.after_flags,
        }
        if self.maps is not None:
            after["maps"] = self.maps
        return {
            "first_index": self.first_index,
            "count": self.count,
            "role": self.role,
            "first_vaddr": f"{self.first_vaddr:#x}",
            "last_vaddr": f"{self.last_vaddr:#x}",
            "before": {"first_pfn": self.before_first, "last_pfn": self.before_last, "flags": self.before_flags},
            "after": after,
            "freed": self.freed,
        }


@dataclass(frozen=True)
class Hugepage:
    """One simulated hugepage: where it is, and its vmemmap pages as arrays (row j: page j)."""

    index: int
    first_pfn: int
    nr_pfns: int
    struct_pages_vaddr: int
    vaddrs: np.ndarray  # uint64
    before: np.ndarray  # entries (pfn << 12 | flags), a PMD leaf's expanded
    after: np.ndarray
    before_leaf: np.ndarray  # bool: a PMD leaf mapped the page's block
    after_leaf: np.ndarray
    roles: np.ndarray  # int8 index into ROLES
    freed: np.ndarray  # bool
    copy_of: np.ndarray  # uint64, 0 where the page's frame is no copy
    tails_map: str | None  # head, kept, head-copy or shared-tail; None where no tail was remapped
    tails_pfn: int | None
    allocated_pfns: tuple[int, ...]  # vmemmap frames allocated for it (its head copy)

    def __len__(self) -> int:
        return len(self.vaddrs)

    @property
    def freed_pfns(self) -> np.ndarray:
        return np.sort(self.before[self.freed] >> PFN_SHIFT)

    def page(self, j: int) -> Page:
        role = ROLES[int(self.roles[j])]
        copy_of = int(self.copy_of[j])
        return Page(
            index=j,
            vaddr=int(self.vaddrs[j]),
            before_pfn=int(self.before[j] >> PFN_SHIFT),
            before_flags=flag_text(int(_flags(self.before[j]))),
            before_via="pmd-leaf" if self.before_leaf[j] else "pte",
            after_pfn=int(self.after[j] >> PFN_SHIFT),
            after_flags=flag_text(int(_flags(self.after[j]))),
            after_via="pmd-leaf" if self.after_leaf[j] else "pte",
            role=role,
            freed=bool(self.freed[j]),
            copy_of=copy_of or None,
            maps=self.tails_map if role == TAIL else None,
        )

    def elided(self, start: int, end: int) -> Elided:
        first, last = self.page(start), self.page(end - 1)
        return Elided(
            first_index=start,
            count=end - start,
            first_vaddr=first.vaddr,
            last_vaddr=last.vaddr,
            role=first.role,
            before_first=first.before_pfn,
            before_last=last.before_pfn,
            before_flags=first.before_flags,
            after_first=first.after_pfn,
            after_last=last.after_pfn,
            after_flags=first.after_flags,
            freed=first.freed,
            maps=first.maps,
        )

    def runs(self) -> list[tuple[int, int]]:
        """[start, end) of each run of like pages: same role, fate and flags, the next frame
        before, and after the same frame (tails) or the next (pages on frames of their own)."""
        if len(self) == 0:
            return []
        b, a = self.before >> PFN_SHIFT, self.after >> PFN_SHIFT
        copied = self.copy_of != 0
        step = np.where(self.roles[1:] == _TAIL, 0, 1).astype(np.uint64)
        alike = (
            (self.roles[1:] == self.roles[:-1])
            & (self.freed[1:] == self.freed[:-1])
            & (_flags(self.before[1:]) == _flags(self.before[:-1]))
            & (_flags(self.after[1:]) == _flags(self.after[:-1]))
            & (b[1:] == b[:-1] + np.uint64(1))
            & (a[1:] == a[:-1] + step)
            & ~copied[1:]
            & ~copied[:-1]
        )
        cuts = [0, *(np.flatnonzero(~alike) + 1).tolist(), len(self)]
        return list(pairwise(cuts))

    def shown(self, collapse: bool = False) -> list[Page | Elided]:
        """The pages as drawn. A run longer than MAX_RUN: its first RUN_HEAD pages, the rest
        but the last as one `Elided`, its last page. With `collapse`, every run of more than
        one page is one `Elided`."""
        out: list[Page | Elided] = []
        for start, end in self.runs():
            if collapse and end - start > 1:
                out.append(self.elided(start, end))
            elif collapse or end - start <= MAX_RUN:
                out.extend(self.page(j) for j in range(start, end))
            else:
                out.extend(self.page(j) for j in range(start, start + RUN_HEAD))
                out.append(self.elided(start + RUN_HEAD, end - 1))
                out.append(self.page(end - 1))
        return out


@dataclass(frozen=True)
class PmdSplit:
    """A PMD leaf over the vmemmap that the remap replaced with a PTE table."""

    vaddr: int
    before_pfn: int  # first frame of the leaf's block
    before_flags: str
    pages: int  # pages the block maps
    table_pfn: int  # the page-table page the split cost
    hugepages: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "vaddr": f"{self.vaddr:#x}",
            "hugepages": list(self.hugepages),
            "before": {"kind": "leaf", "pfn": self.before_pfn, "pages": self.pages, "flags": self.before_flags},
            "after": {"kind": "table", "pfn": self.table_pfn},
            "table_pfn": self.table_pfn,
        }


@dataclass(frozen=True)
class Explanation:
    """What the model did to a few hugepages of one size, as read from its page tables."""

    profile: ArchProfile
    kernel: KernelBehaviour
    geometry: HugepageGeometry
    hvo_active: bool
    reason: str | None
    hugepages: tuple[Hugepage, ...]
    pmd_splits: tuple[PmdSplit, ...]
    shared_tail: tuple[int, str, int] | None  # (node, zone, order) of the shared tail page
    shared_tail_pfn: int | None


# -- running the model ---------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """The window's PMD blocks and every page's entry right after populate and after the
    remap (verified), with the allocator's log of the remap."""

    keys: np.ndarray
    pmd_before: np.ndarray
    ptes_before: np.ndarray
    pmd_after: np.ndarray
    ptes_after: np.ndarray
    log: FrameLog


def observe(
    pt: PageTable, frames: FrameAllocator, geometry: HugepageGeometry, extent: Extent, opts: SimOptions
) -> Observation:
    """Populate, optimize and verify the hugepages as one window, and what it saw."""
    seen: list[Observation] = []

    def record(pt: PageTable, frames: FrameAllocator, rules: WindowRules, before: Snapshot, log: FrameLog) -> None:
        pmd_after, ptes_after = walk_entries(pt, before.keys, copy=True)
        seen.append(Observation(before.keys, before.pmd, before.ptes, pmd_after, ptes_after, log))

    simulate_pool(pt, frames, geometry, extent, replace(opts, window_ptes=1 << 40), observe=record)
    if len(seen) != 1:
        raise VerificationError("explain: the engine ran its hugepages in more than one window")
    return seen[0]


def explain(
    arch: str,
    base_page: str | int | None = None,
    huge: str | int = DEFAULT_HUGEPAGE,
    kernel: str = "latest",
    struct_page_bytes: int = 64,
    hvo: bool = True,
    paging: int | None = None,
    mmu: str | None = None,
) -> Explanation:
    """Perform HVO on a few hugepages of size `huge` on the model and explain what it did.

    Bad input is an InputError, from the same checks as `plan`'s."""
    host = {
        "arch": arch,
        "base_page": base_page,
        "kernel": kernel,
        "struct_page_bytes": struct_page_bytes,
        "hvo": hvo,
        "paging": paging,
        "mmu": mmu,
    }
    pool = build(PoolRequest, {"hugepage_size": huge, "count": SIMULATED_HUGEPAGES})
    request = build(PlanRequest, {**{k: v for k, v in host.items() if v is not None}, "pools": (pool,)})
    prepared = prepare(request, shrink=False)
    profile, kernel_behaviour = prepared.profile, prepared.kernel
    (prepared_pool,) = prepared.pools
    extent, geometry, reason, opts = (
        prepared_pool.extent,
        prepared_pool.geometry,
        prepared_pool.reason,
        prepared_pool.options,
    )
    frames, pt = new_model(profile, request.struct_page_bytes)
    seen = observe(pt, frames, geometry, extent, opts)
    hugepages = tuple(
        read_hugepage(pt, frames, geometry, k, extent.first_pfn + k * extent.stride_pages, seen, opts.shared_tail)
        for k in range(extent.count)
    )
    shared = frames.vmemmap_tails.get(opts.shared_tail) if opts.shared_tail is not None else None
    return Explanation(
        profile=profile,
        kernel=kernel_behaviour,
        geometry=geometry,
        hvo_active=reason is None,
        reason=reason,
        hugepages=hugepages,
        pmd_splits=read_splits(pt, seen, hugepages),
        shared_tail=opts.shared_tail if shared is not None else None,
        shared_tail_pfn=shared,
    )


# -- reading what the model holds ----------------------------------------------------


def _in_allocations(log: FrameLog, purpose: str, pfns: np.ndarray) -> np.ndarray:
    """Whether each of `pfns` was allocated for `purpose`, by the log."""
    hit = np.zeros(pfns.shape, dtype=bool)
    for a in log.allocations:
        if a.purpose == purpose:
            hit |= (pfns >= np.uint64(a.first)) & (pfns < np.uint64(a.first + a.nr_pages))
    return hit


def read_hugepage(
    pt: PageTable,
    frames: FrameAllocator,
    geometry: HugepageGeometry,
    index: int,
    first_pfn: int,
    seen: Observation,
    shared_key: tuple[int, str, int] | None,
) -> Hugepage:
    """Hugepage `index` as the observation holds it: the vmemmap pages its struct pages lie in."""
    page = geometry.base_page_bytes
    head = pt.profile.vmemmap_start + first_pfn * geometry.struct_page_bytes
    first = head // page * page
    end = -(-(head + geometry.vmemmap_bytes) // page) * page
    vaddrs = np.arange(first, end, page, dtype=np.uint64)
    blocks = vaddrs >> np.uint64(pt.pmd_shift)
    rank = np.searchsorted(seen.keys, blocks)
    if (rank >= len(seen.keys)).any() or (seen.keys[rank] != blocks).any():
        raise VerificationError("explain: a hugepage's vmemmap lies outside the blocks the model populated")
    per_table = pt.entries_per_table
    pos = rank * per_table + ((vaddrs >> np.uint64(pt.page_shift)) & np.uint64(per_table - 1)).astype(np.int64)
    before, after = seen.ptes_before[pos], seen.ptes_after[pos]
    b_pfns, a_pfns = before >> PFN_SHIFT, after >> PFN_SHIFT
    log = seen.log

    freed_log = np.concatenate([np.asarray(p).reshape(-1) for p in log.freed] or [np.zeros(0, np.uint64)])
    freed = np.isin(b_pfns, freed_log)
    if (freed == np.isin(b_pfns, seen.ptes_after >> PFN_SHIFT)).any():
        raise VerificationError("explain: the frames freed are not exactly those no longer mapped")
    a_flags = _flags(after)
    tails = a_flags == int(PRESENT)
    copy_of = np.zeros(len(vaddrs), dtype=np.uint64)  # of the pages on a new frame (tails only map one)
    for to, source in log.copies:
        to, source = np.asarray(to).reshape(-1), np.asarray(source).reshape(-1)
        at = np.isin(a_pfns, to) & ~tails
        if at.any():
            copy_of[at] = _lookup(to, source, a_pfns[at])
    roles = np.full(len(vaddrs), _KEPT, dtype=np.int8)
    roles[tails] = _TAIL
    if len(vaddrs) and not tails[0]:
        roles[0] = _HEAD_COPY if copy_of[0] else _HEAD
    targets = np.unique(a_pfns[tails])
    tails_pfn = tails_map = None
    if len(targets) > 1:
        raise VerificationError("explain: the tails of one hugepage map different frames")
    if len(targets):
        tails_pfn = int(targets[0])
        kept = np.flatnonzero(~tails & (a_pfns == np.uint64(tails_pfn)))
        if shared_key is not None and frames.vmemmap_tails.get(shared_key) == tails_pfn:
            tails_map = SHARED_TAIL
        elif len(kept):
            tails_map = ROLES[int(roles[kept[0]])]
        else:
            raise VerificationError(
                f"explain: the tails map frame {tails_pfn:#x}, neither a page the hugepage "
                "keeps nor the zone's shared tail page"
            )
    fresh = (copy_of != 0) & _in_allocations(log, "vmemmap", a_pfns)
    return Hugepage(
        index=index,
        first_pfn=first_pfn,
        nr_pfns=geometry.struct_pages,
        struct_pages_vaddr=head,
        vaddrs=vaddrs,
        before=before,
        after=after,
        before_leaf=(seen.pmd_before[rank] & LEAF) != 0,
        after_leaf=(seen.pmd_after[rank] & LEAF) != 0,
        roles=roles,
        freed=freed,
        copy_of=copy_of,
        tails_map=tails_map,
        tails_pfn=tails_pfn,
        allocated_pfns=tuple(sorted(set(a_pfns[fresh].tolist()))),
    )


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """values[i] where keys[i] == each wanted (all present)."""
    order = np.argsort(keys, kind="stable")
    return values[order[np.searchsorted(keys, wanted, sorter=order)]]


def read_splits(pt: PageTable, seen: Observation, hugepages: tuple[Hugepage, ...]) -> tuple[PmdSplit, ...]:
    """Every PMD that was a leaf after populate and is a table now, with the page-table
    frame the log allocated for it."""
    split = np.flatnonzero(((seen.pmd_before & LEAF) != 0) & ((seen.pmd_after & LEAF) == 0))
    tables = seen.pmd_after[split] >> PFN_SHIFT
    if not _in_allocations(seen.log, "pagetable", tables).all():
        raise VerificationError("explain: a split PMD points at a frame not allocated as a page table")
    out = []
    for i, table in zip(split.tolist(), tables.tolist()):
        vaddr = int(seen.keys[i]) << pt.pmd_shift
        end = vaddr + (1 << pt.pmd_shift)
        over = tuple(h.index for h in hugepages if len(h) and int(h.vaddrs[0]) < end and int(h.vaddrs[-1]) >= vaddr)
        out.append(
            PmdSplit(
                vaddr,
                int(seen.pmd_before[i] >> PFN_SHIFT),
                flag_text(int(_flags(seen.pmd_before[i]))),
                pt.entries_per_table,
                int(table),
                over,
            )
        )
    return tuple(out)


def ranges(pfns: np.ndarray) -> list[list[int]]:
    """Sorted frames as [first, last] runs of consecutive numbers."""
    if not len(pfns):
        return []
    values = pfns.astype(np.int64)
    cuts = np.flatnonzero(np.diff(values) != 1) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(values)]]) - 1
    return [[int(values[s]), int(values[e])] for s, e in zip(starts, ends)]
