"""Plan files: hosts with NUMA nodes, several pools, budgets and shrinking."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hvo_calc.planfile import plan_request, read_plan_file
from hvo_calc.planner import plan
from hvo_calc.record import replace

EXAMPLES = sorted((Path(__file__).parents[1] / "configs" / "examples").glob("*.toml"))


def hvo_calc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hvo_calc", *args], capture_output=True, text=True)


def plan_text(tmp_path: Path, text: str, **overrides):
    path = tmp_path / "host.toml"
    path.write_text(text)
    return plan(plan_request(read_plan_file(path), overrides))


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"x86-vm-host-2node.toml", "arm64-64k-host.toml", "database-host-2m.toml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_plans(path):
    out = hvo_calc("plan", "--config", str(path), "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["memory"]["memory_bytes"] == sum(n["memory_bytes"] for n in report["nodes"])
    assert sum(n["saved_bytes"] for n in report["nodes"]) == report["totals"]["saved_bytes"]


TWO_NODES = """
[host]
arch = "x86-64"
kernel = "6.12"
[[node]]
memory = "64G"
[[node]]
memory = "64G"
[[pool]]
size = "2M"
count = 1000
node = 0
[[pool]]
size = "1G"
count = 10
node = 0
[[pool]]
size = "1G"
count = 20
node = 1
"""


def test_multi_pool_multi_node_totals_by_hand(tmp_path):
    report = plan_text(tmp_path, TWO_NODES)
    node0, node1 = report.nodes
    # node 0: 1000 x 7 + 10 x 4095 freed; 1000 2M pages fill 8000 vmemmap pages = 16 PMD
    # blocks to split, 10 1G pages 10 x 8 more.
    assert (node0.freed_pages, node0.pagetable_pages) == (1000 * 7 + 10 * 4095, 16 + 80)
    assert (node1.freed_pages, node1.pagetable_pages) == (20 * 4095, 160)
    assert report.totals.freed_pages == 7000 + 30 * 4095
    assert report.totals.saved_bytes == (7000 + 30 * 4095 - 256) * 4096
    assert node0.pool_bytes == 1000 * (2 << 20) + 10 * (1 << 30)
    memory = report.memory
    assert memory.vmemmap_bytes_before == (128 << 30) // 4096 * 64  # 2 GiB of struct pages
    assert memory.vmemmap_bytes_after == memory.vmemmap_bytes_before - report.totals.saved_bytes
    assert memory.vmemmap_percent_before == 1.5625


def test_flags_override_the_file(tmp_path):
    report = plan_text(tmp_path, TWO_NODES, kernel="5.14")
    assert report.host.kernel == "5.14" and report.pools[0].per_hugepage.freed_pages == 6


def test_cli_flag_overrides_plan_file(tmp_path):
    path = tmp_path / "host.toml"
    path.write_text(TWO_NODES)
    report = json.loads(hvo_calc("plan", "--config", str(path), "--kernel", "5.14", "--format", "json").stdout)
    assert report["host"]["kernel"] == "5.14" and report["pools"][1]["per_hugepage"]["freed_pages"] == 4094


SHRINK = """
[host]
arch = "x86-64"
kernel = "{kernel}"
[[node]]
memory = "16G"
free = "1M"
[[node]]
memory = "16G"
free = "10G"
[[pool]]
size = "1G"
count = 4
node = 0
shrink_to = 0
"""


def test_shrink_fails_same_node_before_6_7_and_succeeds_any_node_after(tmp_path):
    per_hugepage = 4095 * 4096
    old = plan_text(tmp_path, SHRINK.format(kernel="6.6")).pools[0].shrink
    assert old.policy == "same-node-retry" and old.restore_bytes == 4 * per_hugepage
    assert old.succeeds is False and old.surplus_hugepages == 4
    assert old.available_bytes == 1 << 20 and old.missing_bytes == 4 * per_hugepage - (1 << 20)
    new = plan_text(tmp_path, SHRINK.format(kernel="6.7")).pools[0].shrink
    assert new.policy == "any-node" and new.succeeds is True and new.surplus_hugepages == 0
    assert new.pagetable_pages_kept == 4 * 8  # split page tables are never given back


def test_partial_shrink_leaves_surplus(tmp_path):
    text = SHRINK.format(kernel="6.6").replace('free = "1M"', 'free = "40M"')
    shrink = plan_text(tmp_path, text).pools[0].shrink
    # 40 MiB restores two 1G hugepages (16380 KiB each), not three.
    assert shrink.surplus_hugepages == 2 and shrink.succeeds is False


def test_boot_time_gigantic_pages_have_no_peak_on_6_15(tmp_path):
    text = TWO_NODES.replace("count = 20\nnode = 1", "count = 20\nnode = 1\nboot = true")
    old = plan_text(tmp_path, text, kernel="6.14").pools[2]
    new = plan_text(tmp_path, text, kernel="6.15").pools[2]
    assert old.transient_bytes == 20 * 4095 * 4096 and new.transient_bytes == 0
    assert new.peak_vmemmap_bytes == (20 + 160) * 4096


def test_scattered_costs_more_splits_than_packed(tmp_path):
    text = TWO_NODES.replace("count = 1000", "count = 100")
    packed = plan_text(tmp_path, text).pools[0]
    scattered = plan_text(tmp_path, text, placement="scattered").pools[0]
    # 100 packed 2M pages: 800 vmemmap pages in 2 PMD blocks; scattered: a block each.
    assert (packed.split_pmds, scattered.split_pmds) == (2, 100)
    assert scattered.saved_pages == packed.saved_pages - (100 - 2)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[[pool]]\nsize = "2M"\ncount = 1\ncolour = "red"\n',
            "host.toml: pool.0.colour: Extra inputs are not permitted",
        ),
        ('[[pool]]\nsize = "2M"\ncount = "many"\n', "host.toml: pool.0.count: Input should be a valid integer"),
        ('[[pool]]\nsize = "2M"\ncount = -3\n', "host.toml: pool.0.count: Input should be greater than or equal to 1"),
        (
            '[[node]]\nmemory = "8G"\n[[pool]]\nsize = "2M"\ncount = 1\nnode = 1\n',
            "on node 1, but the plan has nodes 0 to 0",
        ),
        (
            '[[pool]]\nsize = "2M"\ncount = 1\nnode = 1\n',
            "on node 1, but the plan has no [[node]] entries: accepted: node 0",
        ),
        ('[[node]]\nmemory = "8G"\n[[pool]]\nsize = "1G"\ncount = 9\n', "node 0 has 8.00 GiB"),
        ('[host]\narch = "mips"\n[[pool]]\nsize = "2M"\ncount = 1\n', "unknown architecture 'mips'"),
        ('[[pool]]\nsize = "2M"\ncount = 4\nshrink_to = 5\n', "shrink_to 5 is more than the pool's 4 hugepages"),
        ('[[pool]]\nsize = "2M"\ncount = 1\n[[pool]]\nsize = "2M"\ncount = 0\n', "pool.1.count"),
        ("pool = [", "cannot read TOML"),
    ],
)
def test_bad_plan_files_are_one_line_and_exit_2(tmp_path, text, message):
    path = tmp_path / "host.toml"
    path.write_text(text)
    out = hvo_calc("plan", "--config", str(path))
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr


def test_missing_plan_file_is_exit_2():
    out = hvo_calc("plan", "--config", "/nonexistent/host.toml")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_single_pool_flags_do_not_mix_with_a_plan_file():
    out = hvo_calc("plan", "--config", str(EXAMPLES[0]), "--count", "3")
    assert out.returncode == 2 and "set pools in the plan file" in out.stderr


def test_shrink_flag_restores_and_reports_the_need():
    report = json.loads(hvo_calc("plan", "--huge", "1G", "--count", "3", "--shrink-to", "1", "--format", "json").stdout)
    shrink = report["pools"][0]["shrink"]
    assert shrink["hugepages_released"] == 2 and shrink["restore_pages"] == 2 * 4095
    assert shrink["succeeds"] is None  # no node memory given


def test_node_and_host_figures_in_every_machine_format():
    import csv
    import io

    from prometheus_client.parser import text_string_to_metric_families

    example = str(EXAMPLES[-1])  # x86-vm-host-2node.toml
    report = json.loads(hvo_calc("plan", "--config", example, "--format", "json").stdout)
    nodes = {str(n["node"]): n["saved_bytes"] for n in report["nodes"]}
    assert set(nodes) == {"0", "1"}
    families = {
        f.name: f
        for f in text_string_to_metric_families(hvo_calc("plan", "--config", example, "--format", "prometheus").stdout)
    }
    samples = {s.labels["node"]: s.value for s in families["hvo_calc_node_saved_bytes"].samples}
    assert samples == {k: float(v) for k, v in nodes.items()}
    assert families["hvo_calc_host_memtotal_gain_bytes"].samples[0].value == report["memory"]["memtotal_gain_bytes"]
    rows = list(csv.DictReader(io.StringIO(hvo_calc("plan", "--config", example, "--format", "csv").stdout)))
    assert {r["node"]: int(r["saved_bytes"]) for r in rows if r["row"] == "node"} == {k: v for k, v in nodes.items()}
    markdown = hvo_calc("plan", "--config", example, "--format", "markdown").stdout
    assert re.search(r"^- memory: struct pages take [0-9.]+ GiB \(1\.562% of [0-9.]+ GiB\) without HVO", markdown, re.M)
    assert "`guests-node1`: shrink to 300 releases" in markdown and "(any-node allocation): succeeds" in markdown


ARM64_64K = """
[host]
arch = "arm64"
base_page = "64K"
kernel = "6.1"
"""


def test_several_pools_share_a_small_arm64_64k_node(tmp_path):
    # Each pool starts on a vmemmap PMD block, 512 GiB of physical memory apart on 64K
    # pages; the node only has to hold the pools themselves (50 GiB + 64 GiB).
    text = (
        ARM64_64K
        + """
[[node]]
memory = "256G"
[[pool]]
name = "small"
size = "512M"
count = 100
[[pool]]
name = "large"
size = "16G"
count = 4
"""
    )
    small, large = plan_text(tmp_path, text).pools
    assert (small.freed_pages, large.freed_pages) == (100 * 7, 4 * 255)
    alone = plan_text(tmp_path, ARM64_64K + '[[pool]]\nsize = "16G"\ncount = 4\n').pools[0]
    assert replace(alone, name="") == replace(large, name="")


def test_the_models_layout_does_not_limit_what_a_user_may_plan(tmp_path):

    pools = "".join(f'[[pool]]\nname = "p{i}"\nsize = "512M"\ncount = 1\n' for i in range(257))
    # 257 pools of 512 MiB: the model lays each out on a 512 GiB vmemmap block of its own,
    # 128.5 TiB of layout, but they use 128.5 GiB: the layout is the model's business.
    report = plan_text(tmp_path, ARM64_64K + pools)
    assert len(report.pools) == 257 and report.totals.pool_bytes == 257 * 512 * 1024 * 1024


def test_two_pools_may_not_share_a_name(tmp_path):
    text = '[[pool]]\nname = "db"\nsize = "2M"\ncount = 8\n[[pool]]\nname = "db"\nsize = "1G"\ncount = 1\n'
    path = tmp_path / "host.toml"
    path.write_text(text)
    result = hvo_calc("plan", "--config", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "hvo-calc: error: pool name 'db' is given to more than one pool; each pool needs a name of its own"
    ]


def test_a_nodes_scattered_hugepages_split_no_more_blocks_than_it_has(tmp_path):
    """8192 2M pages scattered on a 64 GiB node: 512 vmemmap PMD blocks (128 MiB of memory
    each) to split at most, however the hugepages are cut into pools."""
    for pools in (1, 2, 4):
        text = '[[node]]\nmemory = "64G"\n' + "".join(
            f'[[pool]]\nname = "p{i}"\nsize = "2M"\ncount = {8192 // pools}\n' for i in range(pools)
        )
        report = plan_text(tmp_path, text, placement="scattered", kernel="6.6")
        assert report.totals.pagetable_pages == 512


def test_boot_pools_take_the_shared_tail_page_whatever_their_order(tmp_path):
    """Boot pages are optimized at boot, before run-time pools: on 7.1+ the zone's shared tail
    page comes from boot memory for pre-optimized 1G boot pages, whichever pool the file names first."""
    boot = '[[pool]]\nname = "boot"\nsize = "1G"\ncount = 4\nboot = true\n'
    runtime = '[[pool]]\nname = "rt"\nsize = "1G"\ncount = 4\n'
    node = '[[node]]\nmemory = "64G"\n'
    first = plan_text(tmp_path, node + boot + runtime, kernel="7.3")
    second = plan_text(tmp_path, node + runtime + boot, kernel="7.3")
    assert first.memory.memtotal_gain_bytes == second.memory.memtotal_gain_bytes
    assert [p.name for p in second.pools] == ["rt", "boot"]  # reported in the file's order
    assert {p.name: p.shared_tail_pages for p in second.pools} == {"rt": 0, "boot": 1}


def test_a_host_without_pools_plans_none_and_takes_pools_from_flags(tmp_path: Path, run) -> None:
    """A plan file of the host alone (as inspect writes for a host with no pools) is read:
    alone it plans no hugepages; the pool flags then give its pools, on that host's memory."""
    host = tmp_path / "host.toml"
    host.write_text('[host]\nkernel = "7.3"\n[[node]]\nmemory = "16G"\n')
    alone = run("plan", "--config", str(host), "--format", "json")
    assert alone.exit_code == 0, alone.stderr
    report = json.loads(alone.stdout)
    assert report["pools"] == [] and report["totals"]["saved_bytes"] == 0
    with_pool = json.loads(run("plan", "--config", str(host), "--pool", "2M:1G", "--format", "json").stdout)
    (pool,) = with_pool["pools"]
    assert pool["hugepages"] == 512 and pool["freed_pages"] == 512 * 7  # 28 KiB of each 2M page's 32 KiB
    too_big = run("plan", "--config", str(host), "--pool", "1G:17G")
    assert too_big.exit_code == 2 and "16.00 GiB" in too_big.stderr
