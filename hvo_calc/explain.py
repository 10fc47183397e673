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
no more than a few numpy passes. Both renderings (`render_text`, `render_json`) draw the
same `shown` pages: a long run of like pages as its first two, one line for the rest but
the last, and its last.
"""

import json
import shutil
import sys
import textwrap
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from hvo_calc import __version__
from hvo_calc.engine import Extent, HugepageGeometry, SimOptions, simulate_pool
from hvo_calc.errors import VerificationError
from hvo_calc.explain_models import EXPLAIN_SCHEMA_VERSION, ExplainReport
from hvo_calc.frames import FrameAllocator, FrameLog
from hvo_calc.kernels import KernelBehaviour
from hvo_calc.pagetable import LEAF, PFN_SHIFT, PRESENT, WRITE, PageTable
from hvo_calc.planner import PlanRequest, PoolRequest, new_model, prepare
from hvo_calc.profiles import ArchProfile
from hvo_calc.units import human_size, short_size
from hvo_calc.verify import Snapshot, WindowRules, walk_entries

SIMULATED_HUGEPAGES = 2  # the second shows what hugepages share (7.1+: the tail page)
DEFAULT_HUGEPAGE = "2M"
MAX_RUN = 8  # a run of like pages longer than this is elided ...
RUN_HEAD = 2  # ... to its first RUN_HEAD pages, one line for the rest but the last, and the last
PROSE_WIDTH = 100

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
    pool = PoolRequest.model_validate({"hugepage_size": huge, "count": SIMULATED_HUGEPAGES})
    request = PlanRequest.model_validate({**{k: v for k, v in host.items() if v is not None}, "pools": (pool,)})
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


def _ranges(pfns: np.ndarray) -> list[list[int]]:
    """Sorted frames as [first, last] runs of consecutive numbers."""
    if not len(pfns):
        return []
    values = pfns.astype(np.int64)
    cuts = np.flatnonzero(np.diff(values) != 1) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(values)]]) - 1
    return [[int(values[s]), int(values[e])] for s, e in zip(starts, ends)]


# -- JSON ----------------------------------------------------------------------------


def as_dict(ex: Explanation) -> dict[str, object]:
    """The explanation as `--format json` prints it: passed through `ExplainReport`, so it is
    what the published schema says (keys absent where the dicts leave them out)."""
    report = ExplainReport.model_validate(_report_dict(ex))
    return report.model_dump(mode="json", exclude_unset=True)


def _report_dict(ex: Explanation) -> dict[str, object]:
    g, profile, kernel = ex.geometry, ex.profile, ex.kernel
    return {
        "schema_version": EXPLAIN_SCHEMA_VERSION,
        "tool": f"hvo-calc {__version__}",
        "arch": profile.arch,
        "profile": profile.name,
        "base_page": short_size(profile.base_page),
        "base_page_bytes": profile.base_page,
        "hugepage_size": short_size(g.hugepage_bytes),
        "hugepage_bytes": g.hugepage_bytes,
        "kernel": kernel.version,
        "kernel_release": kernel.release,
        "struct_page_bytes": g.struct_page_bytes,
        "hvo_active": ex.hvo_active,
        "reason": ex.reason,
        "struct_pages": g.struct_pages,
        "vmemmap_bytes": g.vmemmap_bytes,
        "vmemmap_pages": g.vmemmap_pages,
        "vmemmap_mapped_by": "pmd-leaf" if profile.vmemmap_leaf == "pmd" else "pte",
        "simulated_hugepages": len(ex.hugepages),
        "hugepages": [_hugepage_dict(h) for h in ex.hugepages],
        "pmd_splits": [s.as_dict() for s in ex.pmd_splits],
        "shared_tail_pfn": ex.shared_tail_pfn,
        "shared_tail": (
            None
            if ex.shared_tail is None
            else {
                "node": ex.shared_tail[0],
                "zone": ex.shared_tail[1],
                "order": ex.shared_tail[2],
                "pfn": ex.shared_tail_pfn,
            }
        ),
    }


def _hugepage_dict(h: Hugepage) -> dict[str, object]:
    drawn = h.shown()
    roles = [ROLES[r] for r in h.roles.tolist()]
    freed = h.freed_pfns
    return {
        "index": h.index,
        "first_pfn": h.first_pfn,
        "nr_pfns": h.nr_pfns,
        "struct_pages_vaddr": f"{h.struct_pages_vaddr:#x}",
        "vmemmap_pages": len(h),
        "kept_pages": len(h) - roles.count(TAIL),
        "tail_pages": roles.count(TAIL),
        "tails_map": h.tails_map,
        "tails_pfn": h.tails_pfn,
        "pages": [p.as_dict() for p in drawn if isinstance(p, Page)],
        "elided": [e.as_dict() for e in drawn if isinstance(e, Elided)],
        "freed_pages": len(freed),
        "freed_pfn_ranges": _ranges(freed),
        "allocated_pfns": list(h.allocated_pfns),
    }


def render_json(ex: Explanation) -> str:
    return json.dumps(as_dict(ex), indent=2) + "\n"


# -- text ----------------------------------------------------------------------------
# A line is a list of (text, style) pieces: joined as they are when plain, styled by rich
# on a terminal. Columns are aligned here, so both look the same.

Piece = tuple[str, str | None]
Line = list[Piece]

TAILS_MAP_TEXT = {
    HEAD: "the head page",
    KEPT: "the second kept page",
    HEAD_COPY: "the head copy",
    SHARED_TAIL: "the shared tail page",
}


def _frame(pfn: int) -> str:
    return f"{pfn:#x}"


def _span(first: int, last: int) -> str:
    return _frame(first) if first == last else f"{_frame(first)}-{_frame(last)}"


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _perm(flags: str) -> Piece:
    return flags, "green" if flags == "RW" else "yellow"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summary(ex: Explanation) -> str:
    """What the kernel does to each hugepage of this size, as hugepage 0 shows it."""
    g, h = ex.geometry, ex.hugepages[0]
    roles = [ROLES[r] for r in h.roles.tolist()]
    if not ex.hvo_active:
        if g.vmemmap_pages == 0:
            return (
                f"The kernel keeps the struct pages as they are: a {short_size(g.hugepage_bytes)} hugepage's "
                f"{g.struct_pages:,} struct pages share one vmemmap page with other hugepages' "
                "(read-write, on its own frame)."
            )
        return (
            f"The kernel keeps all {_plural(len(h), 'vmemmap page')} of each hugepage: each maps its own "
            "frame, read-write, and nothing is freed."
        )
    kept = len(h) - roles.count(TAIL)
    text = f"Linux {ex.kernel.version} keeps {_plural(kept, 'vmemmap page')} of each hugepage: "
    if HEAD_COPY in roles:
        text += "the head page, moved to a fresh private copy (read-write; its old frame is freed)"
    elif kept == 1:
        text += "the head page, on its own frame (read-write)"
    else:
        text += "the head page and the page after it, each on its own frame (read-write)"
    text += f". The other {roles.count(TAIL):,} (the tails) map {TAILS_MAP_TEXT[h.tails_map or HEAD]} read-only"
    if h.tails_map == SHARED_TAIL and ex.shared_tail is not None:
        node, zone, order = ex.shared_tail
        text += (
            f": one page for node {node}, zone {zone}, order {order}, allocated with the first hugepage "
            "optimized there and never freed, which every later hugepage's tails map too"
        )
    elif h.tails_map == HEAD_COPY:
        text += ", so each hugepage's tails map a page of its own"
    freed = len(h.freed_pfns)
    return text + f". {_plural(freed, 'frame is', 'frames are')} freed per hugepage."


def _para(text: str, width: int, label: str = "", style: str | None = None) -> list[Line]:
    """`text` wrapped to `width`, after an optional styled label."""
    lines = textwrap.wrap(
        f"{label} {text}" if label else text, width=width, break_on_hyphens=False, break_long_words=False
    ) or [""]
    out: list[Line] = [[(line, None)] for line in lines]
    if label:
        out[0] = [(label, style), (lines[0][len(label) :], None)]
    return out


def _grid(header: list[str], rows: list[list[Line]], indent: str = "  ") -> list[Line]:
    """Rows of cells (each a list of pieces) in aligned columns under a bold header."""
    head: list[Line] = [[(h, "bold")] for h in header]
    cells = [head, *rows]
    widths = [max(sum(len(t) for t, _ in row[c]) for row in cells) for c in range(len(header))]
    out: list[Line] = []
    for row in cells:
        line: Line = [(indent, None)]
        for c, cell in enumerate(row):
            line.extend(cell)
            if c < len(row) - 1:
                line.append((" " * (widths[c] - sum(len(t) for t, _ in cell) + 2), None))
        out.append(line)
    return out


def _target(ex: Explanation, h: Hugepage) -> str:
    """What a hugepage's tails map, in words."""
    words = TAILS_MAP_TEXT[h.tails_map or HEAD]
    if h.tails_map == SHARED_TAIL and h.index > 0 and h.tails_pfn == ex.hugepages[0].tails_pfn:
        words = "the same shared tail page as hugepage 0"
    return words


def _page_row(ex: Explanation, h: Hugepage, item: Page | Elided, collapse: bool) -> list[Line]:
    if isinstance(item, Page):
        shared_with = [o.index for o in ex.hugepages if o.index < h.index and item.vaddr in o.vaddrs]
        if shared_with:  # several hugepages' struct pages in one vmemmap page
            what: list[Piece] = [(f"the same vmemmap page as hugepage {shared_with[0]}", None)]
        elif item.role == TAIL:
            what = [(f"tail -> {_target(ex, h)}", None)]
        elif item.role == HEAD_COPY:
            what = [("head copy", "cyan"), (f" (copy of {_frame(item.copy_of or 0)})", None)]
        else:
            what = [(item.role + (" (the tails map it)" if item.after_pfn == h.tails_pfn else ""), None)]
        return [
            [(str(item.index), None)],
            [(f"{item.vaddr:#x}", None)],
            [(_frame(item.before_pfn) + " ", None), _perm(item.before_flags)],
            [("->", None)],
            [(_frame(item.after_pfn) + " ", None), _perm(item.after_flags)],
            what,
            [("freed", "red")] if item.freed else [("kept", None)],
        ]
    lead = f"{item.count:,}" if collapse else f"... {item.count:,} more"
    if item.role == TAIL:
        what = [(f"{lead} tails -> {_target(ex, h)}", None)]
    else:
        what = [(f"{lead} {'kept pages' if item.role == KEPT else item.role + 's'}, each on its own frame", None)]
    return [
        [(f"{item.first_index}-{item.first_index + item.count - 1}", None)],
        [(_span(item.first_vaddr, item.last_vaddr), None)],
        [(_span(item.before_first, item.before_last) + " ", None), _perm(item.before_flags)],
        [("->", None)],
        [(_span(item.after_first, item.after_last) + " ", None), _perm(item.after_flags)],
        what,
        [("freed", "red")] if item.freed else [("kept", None)],
    ]


def _hugepage_lines(ex: Explanation, h: Hugepage) -> list[Line]:
    last = h.first_pfn + h.nr_pfns - 1
    where = (
        f": pfn {_span(h.first_pfn, last)}, struct pages at {h.struct_pages_vaddr:#x}, "
        f"{_plural(len(h), 'vmemmap page')}"
    )
    lines: list[Line] = [[(f"hugepage {h.index}", "bold"), (where, None)]]
    collapse = h.index > 0  # the first hugepage drawn in full, the others one line per run
    rows = [_page_row(ex, h, item, collapse) for item in h.shown(collapse)]
    lines += _grid(["page", "vmemmap address", "before", "", "after", "what", "old frame"], rows)
    freed = h.freed_pfns
    if len(freed):
        line: Line = [
            ("  ", None),
            ("freed", "red"),
            (f": {_plural(len(freed), 'frame')} ({', '.join(_span(a, b) for a, b in _ranges(freed))})", None),
        ]
        if h.allocated_pfns:
            line.append((f"; allocated: {', '.join(_frame(p) for p in h.allocated_pfns)} (the head copy)", None))
        lines.append(line)
    else:
        lines.append([("  freed: nothing", None)])
    return lines


def _pmd_lines(ex: Explanation, width: int) -> list[Line]:
    profile = ex.profile
    block = human_size(profile.base_page * profile.entries_per_table)
    if not ex.pmd_splits:
        if profile.vmemmap_leaf != "pmd":
            return _para(
                f"{profile.arch} with {short_size(profile.base_page)} pages maps the vmemmap with base "
                "pages (PTEs) from the start: there is no PMD leaf to split.",
                width,
                "PMD:",
                "bold",
            )
        return _para(f"nothing split; the vmemmap stays mapped by {block} PMD leaves.", width, "PMD:", "bold")
    lines = _para(
        f"the vmemmap was mapped with {block} PMD leaves; remapping single pages takes a PTE table: "
        "one page-table page for each block, never freed.",
        width,
        "PMD split:",
        "bold",
    )
    splits = list(ex.pmd_splits)
    drawn: list[PmdSplit | None] = [*splits] if len(splits) <= 4 else [*splits[:2], None, splits[-1]]
    rows: list[list[Line]] = []
    for s in drawn:
        if s is None:
            hidden = splits[2:-1]
            tables = np.array(sorted(x.table_pfn for x in hidden), dtype=np.uint64)
            rows.append(
                [
                    [("...", None)],
                    [(f"{len(hidden)} more splits", None)],
                    [],
                    [(f"tables in frames {', '.join(_span(a, b) for a, b in _ranges(tables))}", None)],
                    [],
                ]
            )
            continue
        rows.append(
            [
                [(f"{s.vaddr:#x}", None)],
                [(f"leaf over frames {_span(s.before_pfn, s.before_pfn + s.pages - 1)} ", None), _perm(s.before_flags)],
                [("->", None)],
                [("table in frame ", None), (_frame(s.table_pfn), "cyan")],
                [(", ".join(str(i) for i in s.hugepages), None)],
            ]
        )
    return lines + _grid(["PMD at", "before", "", "after", "hugepages"], rows)


def text_lines(ex: Explanation, width: int = PROSE_WIDTH) -> list[Line]:
    """The explanation for people, as lines of styled pieces."""
    g, profile = ex.geometry, ex.profile
    size = short_size(g.hugepage_bytes)
    title = (
        f"HVO explained: {profile.arch} {short_size(profile.base_page)} pages, Linux {ex.kernel.release}, "
        f"{size} hugepages, struct page {g.struct_page_bytes} B"
    )
    lines: list[Line] = [[(title, "bold")]]
    pages = (
        _plural(g.vmemmap_pages, "vmemmap page")
        if g.vmemmap_pages
        else f"less than one {short_size(profile.base_page)} vmemmap page"
    )
    lines += _para(
        f"A {size} hugepage has {g.struct_pages:,} struct pages ({human_size(g.vmemmap_bytes)}): "
        f"{pages}. Below, {len(ex.hugepages)} hugepages as the page-table model holds them after "
        f"{'HVO' if ex.hvo_active else 'allocation'}, read from its page tables.",
        width,
    )
    if not ex.hvo_active:
        lines += _para(ex.reason or "", width, "No HVO:", "bold red")
    lines += _para(summary(ex), width)
    for h in ex.hugepages:
        lines += [[], *_hugepage_lines(ex, h)]
    lines += [[], *_pmd_lines(ex, width)]
    if ex.shared_tail_pfn is not None and ex.shared_tail is not None:
        node, zone, order = ex.shared_tail
        users = [str(h.index) for h in ex.hugepages if h.tails_map == SHARED_TAIL]
        lines += [
            [],
            *_para(
                f"frame {_frame(ex.shared_tail_pfn)}, read-only, for node {node}, zone {zone}, order {order}: "
                f"the tails of hugepages {_and(users)} map it.",
                width,
                "Shared tail page:",
                "bold",
            ),
        ]
    if ex.hvo_active:
        h = ex.hugepages[0]
        freed, allocated = len(h.freed_pfns), len(h.allocated_pfns)
        net = freed - allocated
        text = f"{_plural(freed, 'frame')} freed"
        if allocated:
            text += f", {allocated} allocated (the head copy)"
        text += f": {_plural(net, 'page')} ({human_size(net * profile.base_page)}) saved"
        costs = []
        if ex.pmd_splits:
            costs.append(
                "a page-table page for each PMD block split (here "
                f"{_plural(len(ex.pmd_splits), 'split')} for {len(ex.hugepages)} hugepages)"
            )
        if ex.shared_tail_pfn is not None:
            costs.append("one shared tail page per node, zone and order")
        text += f"; the pool also pays {' and '.join(costs)}." if costs else "."
        lines += [[], *_para(text, width, "Per hugepage:", "bold")]
    return lines


def _styled() -> bool:
    """Colour and styles as `hvo_calc.console` decides for stdout (NO_COLOR, FORCE_COLOR, TTY_COMPATIBLE)."""
    from hvo_calc.console import colour

    return colour(sys.stdout)


def render_text(ex: Explanation) -> str:
    """The explanation for people: styled by rich on a terminal, plain text otherwise."""
    if not _styled():
        lines = text_lines(ex)
        return "".join("".join(t for t, _ in line).rstrip() + "\n" for line in lines)
    import io

    from rich.text import Text

    from hvo_calc.console import make_console

    width = max(60, min(PROSE_WIDTH, shutil.get_terminal_size().columns))
    buffer = io.StringIO()
    console = make_console(buffer, width=10_000)
    for line in text_lines(ex, width):
        console.print(Text.assemble(*[(t, s) if s else t for t, s in line]), soft_wrap=True)
    return buffer.getvalue()
