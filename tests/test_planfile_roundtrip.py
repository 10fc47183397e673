"""Plan files are written by the module that reads them: whatever `dump_plan` writes,
`read_plan_file` reads back as the same request (non-BMP characters included), and what
the TOML parser reads of a written string is the string."""

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from hvo_calc.planfile import dump_plan, plan_request, read_plan_file, toml_string
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest
from hvo_calc.profiles import all_profiles, mmu_names, paging_levels, zone_names
from hvo_calc.record import replace

# What a plan file accepts as text: one line of printable characters, not blank.
TEXT = st.text(min_size=1, max_size=64).filter(lambda s: s.isprintable() and bool(s.strip()))
SIZES = sorted({h.size for p in all_profiles() for h in p.hugepage})
PAGES = sorted({p.base_page for p in all_profiles()})


@st.composite
def requests(draw: st.DrawFn) -> PlanRequest:
    memories = draw(st.lists(st.integers(1, 1 << 50), max_size=3))
    nodes = [NodeRequest(memory=m, free=draw(st.none() | st.integers(0, m))) for m in memories]
    pool = st.builds(
        PoolRequest,
        hugepage_size=st.sampled_from(SIZES),
        count=st.integers(1, 1 << 20),
        node=st.integers(0, max(len(nodes), 1) - 1),
        name=st.none() | TEXT,
        boot=st.booleans(),
        zone=st.sampled_from(zone_names()),
    )
    pools = [
        replace(p, shrink_to=draw(st.none() | st.integers(0, p.count)))
        for p in draw(st.lists(pool, min_size=1, max_size=4))
    ]
    return PlanRequest(
        arch=draw(TEXT),
        base_page=draw(st.none() | st.sampled_from(PAGES)),
        paging=draw(st.none() | st.sampled_from(paging_levels())),
        mmu=draw(st.none() | st.sampled_from(mmu_names())),
        kernel=draw(TEXT),
        struct_page_bytes=draw(st.integers(8, 4096)),
        hvo=draw(st.booleans()),
        placement=draw(st.sampled_from(["packed", "scattered"])),
        nodes=tuple(nodes),
        pools=tuple(pools),
    )


@settings(max_examples=150, deadline=None)
@given(requests(), st.lists(TEXT, max_size=2))
def test_a_written_plan_reads_back_as_the_request(tmp_path_factory, request, comments):
    path = tmp_path_factory.mktemp("plans") / "plan.toml"
    path.write_text(dump_plan(request, comments), encoding="utf-8")
    assert plan_request(read_plan_file(path), {}) == request


@given(st.text())
def test_a_written_string_parses_as_itself(value):
    assert tomllib.loads(f"key = {toml_string(value)}")["key"] == value


def test_non_bmp_names_stay_one_character_each(tmp_path):
    request = PlanRequest(pools=(PoolRequest(hugepage_size=2 << 20, count=2, name="🐧 tux 𝔘"),))
    text = dump_plan(request)
    assert 'name = "🐧 tux 𝔘"' in text and "\\ud83d" not in text.lower()
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    assert read_plan_file(path).pool[0].name == "🐧 tux 𝔘"


def test_a_request_without_pools_writes_a_commented_example():
    text = dump_plan(PlanRequest(nodes=(NodeRequest(memory=1 << 30),)), ["a host"], ["node 0"], example_pool="2M")
    data = tomllib.loads(text)
    assert "pool" not in data and data["node"] == [{"memory": 1 << 30}]
    assert '# [[pool]]\n# size = "2M"\n# count = 1' in text
