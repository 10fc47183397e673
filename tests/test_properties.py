"""Property tests: the simulation against the closed form, over random plans.

The closed form (hvo-facts.md): per hugepage v = H / P * S / P vmemmap pages, of which
`reserve` stay and v - reserve are freed when S is a power of two and v > reserve; a
PMD-mapped vmemmap costs one page-table page per PMD block of struct pages it splits.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from hvo_calc.kernels import behaviour, kernel_data
from hvo_calc.planner import PlanRequest, PoolRequest, plan
from hvo_calc.profiles import all_profiles

MAX_VMEMMAP_PAGES = 1 << 15  # keep each example small; big pools belong in benchmarks


@st.composite
def plans(draw):
    profile = draw(st.sampled_from(all_profiles()))
    size = draw(st.sampled_from([h.size for h in profile.hugepage]))
    struct_page = draw(st.sampled_from([s for s in (56, 64, 64, 72, 80, 128) if s <= profile.base_page // 3]))
    vmemmap_pages_each = max(1, size // profile.base_page * struct_page // profile.base_page)
    count = draw(st.integers(1, max(1, min(300, MAX_VMEMMAP_PAGES // vmemmap_pages_each))))
    kernel = draw(st.sampled_from(kernel_data().releases))  # mainline releases
    placement = draw(st.sampled_from(["packed", "packed", "scattered"]))
    return profile, size, struct_page, count, kernel, placement


@settings(max_examples=60, deadline=None)
@given(plans())
def test_simulation_matches_the_closed_form(case):
    profile, size, struct_page, count, kernel, placement = case
    request = PlanRequest(
        arch=profile.arch,
        base_page=profile.base_page,
        paging=profile.paging,
        mmu=profile.mmu or None,
        kernel=kernel,
        placement=placement,
        struct_page_bytes=struct_page,
        pools=(PoolRequest(hugepage_size=size, count=count),),
    )
    pool = plan(request).pools[0]
    page = profile.base_page
    v = size // page * struct_page // page
    kb = behaviour(kernel, profile.arch)
    optimizable = kb.hvo_available and struct_page & (struct_page - 1) == 0 and v > kb.reserve_pages
    assert pool.hvo_active == optimizable
    assert pool.freed_pages == (count * (v - kb.reserve_pages) if optimizable else 0)
    assert pool.reserved_pages + pool.freed_pages == pool.vmemmap_pages
    if placement == "packed":
        assert pool.vmemmap_pages == -(-count * (size // page) * struct_page // page)
    pmd_block = 1 << profile.level_shift("pmd")
    if optimizable and profile.vmemmap_leaf == "pmd":
        blocks = -(-count * v * page // pmd_block) if placement == "packed" else count * -(-v * page // pmd_block)
        assert pool.pagetable_pages == blocks
    else:
        assert pool.pagetable_pages == 0
    # 7.1+: the first pool of its order in a zone also allocates the zone's shared tail page.
    assert pool.shared_tail_pages == (1 if optimizable and kb.shared_tail_page else 0)
    assert pool.saved_pages == pool.freed_pages - pool.pagetable_pages - pool.shared_tail_pages
    assert pool.saved_bytes == pool.saved_pages * page
