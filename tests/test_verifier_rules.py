"""The verifier owns its rules and its observations: rules from the kernel data (not the
engine's options), every frame handed out once, the engine's figures held against what it
saw, and its arithmetic path equal to its general path."""

from importlib import import_module

import numpy as np
import pytest

from hvo_calc import vmemmap
from hvo_calc.errors import VerificationError
from hvo_calc.frames import FrameAllocator
from hvo_calc.kernels import behaviour
from hvo_calc.pagetable import PRESENT, mk_entry
from hvo_calc.planner import PlanRequest, PoolRequest, plan
from hvo_calc.profiles import find_profile
from hvo_calc.rules import pool_rules
from hvo_calc.units import GiB, MiB
from hvo_calc.verify import checks, fast

planner_prepare = import_module("hvo_calc.planner.prepare")  # the module (the package exports its function `prepare`)

KERNELS = ("5.14", "6.1", "6.12", "7.0", "7.3")


def plan_pool(kernel="7.3", size="2M", count=300, placement="packed", shrink_to=None, boot=False, window_ptes=None):
    pool = PoolRequest(hugepage_size=size, count=count, shrink_to=shrink_to, boot=boot)
    extra = {"window_ptes": window_ptes} if window_ptes else {}
    return plan(PlanRequest(arch="x86-64", kernel=kernel, placement=placement, pools=(pool,), **extra)).pools[0]


def caught(message: str):
    return pytest.raises(VerificationError, match=message)


# -- the rules come from the kernel data -----------------------------------------------


@pytest.mark.parametrize(
    "kernel, reserve, copy_head, shared",
    [("5.14", 2, False, False), ("6.1", 1, False, False), ("6.12", 1, True, False), ("7.3", 1, True, True)],
)
def test_pool_rules_are_the_kernel_datas(kernel, reserve, copy_head, shared):
    profile = find_profile("x86-64")
    pool = PoolRequest(hugepage_size="2M", count=4, shrink_to=2, node=1)
    rules = pool_rules(behaviour(kernel, "x86-64"), pool, profile, 2 * MiB, 64)
    assert (rules.optimized, rules.reserve, rules.copy_head, rules.keep_hugepages) == (True, reserve, copy_head, 2)
    assert rules.tail_key == ((1, "normal", 9) if shared else None)
    assert rules.vmemmap_pages == 8 and not rules.preoptimized
    assert not pool_rules(behaviour(kernel, "x86-64"), pool, profile, 2 * MiB, 64, hvo_on=False).optimized


def test_boot_gigantic_pages_are_preoptimized_from_the_data():
    profile, kernel = find_profile("x86-64"), behaviour("7.3", "x86-64")
    boot = PoolRequest(hugepage_size="1G", count=2, boot=True)
    rules = pool_rules(kernel, boot, profile, GiB, 64)
    assert rules.preoptimized and not rules.copy_head and rules.table_source == "boot"
    assert not pool_rules(kernel, boot, profile, 2 * MiB, 64).preoptimized  # 2M pages are PMD-mapped


@pytest.mark.parametrize(
    "wrong",
    [
        {"reserve_pages": 2},  # the engine keeps a page the kernel frees
        {"copy_reuse": False},  # the engine skips the head copy 6.2+ makes
        {"shared_tail": None},  # the engine maps tails to the head, as before 7.1
        {"keep_hugepages": None},  # the engine forgets the shrink
    ],
)
def test_an_engine_option_the_kernel_data_contradicts_is_caught(monkeypatch, wrong):
    """The engine acts on its options, the verifier on the rules: a wrong option is caught."""
    sim_options = planner_prepare.sim_options

    def mistaken(*args, **kwargs):
        options = sim_options(*args, **kwargs)
        return type(options)(**{**vars(options), **wrong})

    monkeypatch.setattr(planner_prepare, "sim_options", mistaken)
    with pytest.raises(VerificationError):
        plan_pool("7.3", shrink_to=100)


# -- frames handed out once, from the memory the era says -------------------------------


ALLOC = FrameAllocator.alloc


def test_consecutive_allocations_sharing_a_frame(monkeypatch):
    """An allocator whose bump pointer stops one frame short: every allocation's last frame
    is the next one's first. Every log entry is honest; only the ledger sees the overlap."""

    def one_short(self, nr_pages, purpose, source="buddy", align=1):
        first = ALLOC(self, nr_pages, purpose, source, align)
        if source == "buddy" and nr_pages:
            self.buddy_next -= 1
        return first

    monkeypatch.setattr(FrameAllocator, "alloc", one_short)
    for kernel in ("6.1", "7.0", "7.3"):
        with caught("handed out a frame twice"):
            plan_pool(kernel, shrink_to=100)


def test_vmemmap_populated_from_buddy(monkeypatch):
    def from_buddy(self, nr_pages, purpose, source="buddy", align=1):
        return ALLOC(self, nr_pages, purpose, "buddy" if purpose == "vmemmap" and align > 1 else source, align)

    monkeypatch.setattr(FrameAllocator, "alloc", from_buddy)
    with caught("populated from the buddy allocator"):
        plan_pool("7.3")


# -- the engine's figures against what the verifier saw ----------------------------------


@pytest.mark.parametrize(
    "field, figure",
    [("split_pmds", "split PMDs"), ("memmap_pages", "memmap pages"), ("vmemmap_pages", "vmemmap pages")],
)
def test_a_window_figure_miscounted(monkeypatch, field, figure):
    from hvo_calc import engine

    optimize = engine._Window.optimize

    def miscounts(self):
        optimize(self)
        setattr(self.stats, field, getattr(self.stats, field) + 1)

    monkeypatch.setattr(engine._Window, "optimize", miscounts)
    with caught(f"counted .* {figure};"):
        plan_pool("7.3")


@pytest.mark.parametrize("kernel", ["6.1", "7.3"])  # per hugepage and split; per batch
def test_tlb_flushes_miscounted(monkeypatch, kernel):
    from hvo_calc import engine

    check = engine.check_pool_claims

    def one_more(stats, seen, rules):
        stats.tlb_flushes += 1
        check(stats, seen, rules)

    monkeypatch.setattr(engine, "check_pool_claims", one_more)
    with caught("TLB flushes"):
        plan_pool(kernel)


# -- the word mask covers every tail column ---------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bug", ["elsewhere", "writable"])
def test_a_bug_confined_to_the_first_tail_column(monkeypatch, kernel, bug):
    """Column 1 of the walk (its column 0 is the reuse page) is every hugepage's first tail."""
    original = vmemmap.remap_free_pte

    def planted(ptes, walk):
        original(ptes, walk)
        if bug == "writable":
            ptes[5, 1] |= np.uint64(2)
        else:
            ptes[5, 1] = mk_entry(int(ptes[5, 1] >> np.uint64(12)) + 1, PRESENT)

    monkeypatch.setattr(vmemmap, "remap_free_pte", planted)
    with caught("writable|does not map"):
        plan_pool(kernel)


# -- the arithmetic path equals the general path ----------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("size, count", [("2M", 1000), ("1G", 5)])
@pytest.mark.parametrize("placement", ["packed", "scattered"])
@pytest.mark.parametrize("shrink_to", [None, 300])
@pytest.mark.parametrize("boot", [False, True])  # boot 1G pages on 7.3: optimized before they are populated
def test_arithmetic_path_equals_general_path(monkeypatch, kernel, size, count, placement, shrink_to, boot):
    used = []

    def both(state):
        general = checks.general_facts(state)
        arithmetic = fast.run_facts(
            state.after, state.a_view, state.before, state.rules, state.log, state.frames.buddy_base
        )
        if arithmetic is not None:
            assert arithmetic == general
            used.append(1)
        return general

    monkeypatch.setattr(checks, "window_facts", both)
    plan_pool(kernel, size, count, placement, shrink_to and shrink_to * count // 1000, boot, window_ptes=8 * 256)
    if placement == "packed" and not shrink_to:
        assert used  # the arithmetic path was taken, so it was compared


def test_the_arithmetic_path_is_the_one_usually_taken(monkeypatch):
    calls = {"fast": 0, "general": 0}
    run_facts, general_facts = checks.run_facts, checks.general_facts

    def counted_fast(*args):
        facts = run_facts(*args)
        calls["fast"] += facts is not None
        return facts

    def counted_general(state):
        calls["general"] += 1
        return general_facts(state)

    monkeypatch.setattr(checks, "run_facts", counted_fast)
    monkeypatch.setattr(checks, "general_facts", counted_general)
    plan_pool("7.3", count=2000, window_ptes=8 * 256)
    assert calls == {"fast": 8, "general": 0}


# -- state bugs the engine's own walk meets first are the verifier's too ---------------------


def test_split_without_a_table_after_the_walk(monkeypatch):
    """tests/test_verifier.py plants this in the split, where the engine's walk meets it; made
    after the walk, only the verifier's own walk can see it."""
    from hvo_calc import engine

    remap_free = engine.vmemmap_remap_free

    def loses_a_table(pt, ranges, *args, **kwargs):
        walk = remap_free(pt, ranges, *args, **kwargs)
        slots = pt.pmd_slots(np.array([ranges.start >> pt.pmd_shift], np.uint64), create=False)
        pt.tables["pmd"].child[slots.rows[0], slots.index[0]] = -1
        return walk

    monkeypatch.setattr(engine, "vmemmap_remap_free", loses_a_table)
    with caught("points at no PTE table"):
        plan_pool("7.3")
