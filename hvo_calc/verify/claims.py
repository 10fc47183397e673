"""The engine's figures held against what the verifier observed.

The engine counts what it does as it does it; the verifier counts the same figures from
the state. A figure the two disagree on is a VerificationError naming it, so a report can
only carry a figure the model holds.
"""

from dataclasses import fields
from typing import Protocol

from hvo_calc.errors import VerificationError
from hvo_calc.record import mutable
from hvo_calc.rules import PoolRules


@mutable
class Observed:
    """Figures counted from the state the verifier saw (of a window, or summed over a pool)."""

    reserved_pages: int = 0
    freed_pages: int = 0
    split_tables: int = 0
    vmemmap_allocated: int = 0
    tail_pages_allocated: int = 0
    boot_pages_freed: int = 0  # of the freed frames, those boot memory had given
    boot_pages_allocated: int = 0  # frames boot memory gave in the window
    cover_pages: int = 0  # vmemmap pages seen mapping the window's struct pages
    remapped_hugepages: int = 0  # hugepages seen remapped (their tails point elsewhere now)

    def add(self, other: "Observed") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Claimed(Protocol):
    """The engine's figures (its `PoolStats`)."""

    freed_pages: int
    head_copies: int
    pagetable_pages: int
    split_pmds: int
    restore_pages_allocated: int
    shared_tail_pages: int
    boot_pages_freed: int
    boot_pages_allocated: int
    vmemmap_pages: int
    memmap_pages: int
    tlb_flushes: int
    hugepages: int


def check_window_claims(stats: Claimed, seen: Observed) -> None:
    """What the engine counted in a window must be what the verifier saw there."""
    _hold(
        {
            "freed pages": (stats.freed_pages + stats.head_copies, seen.freed_pages),
            "split page tables": (stats.pagetable_pages, seen.split_tables),
            "split PMDs": (stats.split_pmds, seen.split_tables),
            "vmemmap pages allocated": (stats.head_copies + stats.restore_pages_allocated, seen.vmemmap_allocated),
            "memmap pages": (stats.memmap_pages, seen.vmemmap_allocated),
            "shared tail pages": (stats.shared_tail_pages, seen.tail_pages_allocated),
            "boot-memory frames freed": (stats.boot_pages_freed, seen.boot_pages_freed),
            "boot-memory frames allocated": (stats.boot_pages_allocated, seen.boot_pages_allocated),
            "vmemmap pages": (stats.vmemmap_pages, seen.cover_pages),
        }
    )


def check_pool_claims(stats: Claimed, seen: Observed, rules: PoolRules) -> None:
    """The pool's TLB flushes are the kernel's for the splits and remaps the verifier saw."""
    expected = rules.expected_tlb_flushes(seen.split_tables, seen.remapped_hugepages)
    _hold({"TLB flushes": (stats.tlb_flushes, expected)})


def _hold(claims: dict[str, tuple[int, int]]) -> None:
    for what, (claimed, observed) in claims.items():
        if claimed != observed:
            raise VerificationError(f"the engine counted {claimed} {what}; the model holds {observed}")
