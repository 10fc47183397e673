"""recommend: layouts per hugepage size and release, planned by plan(), ranked, with their command line."""

import json

import pytest

from hvo_calc.kernel_cmdline import cmdline_for
from hvo_calc.planner import NodeRequest, PlanRequest, PoolRequest, plan

GiB = 1 << 30


def recommend_json(run, *args):
    result = run("recommend", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_700g_on_x86_64_ranks_1g_first_with_its_command_line(run):
    report = recommend_json(run, "--need", "700G")
    first, second = report["layouts"]
    assert (first["hugepage_size"], first["figures"]["hugepages"]) == ("1G", 700)
    assert (second["hugepage_size"], second["figures"]["hugepages"]) == ("2M", 358400)
    assert first["figures"]["saved_bytes"] > second["figures"]["saved_bytes"]
    assert first["figures"]["pool_bytes"] == second["figures"]["pool_bytes"] == 700 * GiB
    assert first["cmdline"] == "hugetlb_free_vmemmap=on default_hugepagesz=1G hugepagesz=1G hugepages=700"
    assert report["impossible"] == []


def test_a_layout_is_the_plan_of_its_pools(run):
    report = recommend_json(run, "--need", "64G", "--sizes", "1G", "--kernel", "6.12")
    (layout,) = report["layouts"]
    planned = plan(PlanRequest(kernel="6.12", pools=(PoolRequest(hugepage_size="1G", count=64, boot=True),)))
    assert layout["figures"]["saved_bytes"] == planned.totals.saved_bytes
    assert layout["figures"]["freed_bytes"] == 64 * 4095 * 4096  # 16380 KiB per 1 GiB page


def test_nodes_spread_the_need_and_the_command_line_is_per_node(run):
    report = recommend_json(run, "--need", "700G", "--memory", "768G", "--nodes", "2", "--sizes", "1G")
    (layout,) = report["layouts"]
    assert layout["nodes"] == 2 and layout["figures"]["hugepages"] == 700
    assert layout["cmdline"].endswith("hugepagesz=1G hugepages=0:350,1:350")


def test_each_release_is_a_layout_and_impossible_ones_say_why(run):
    result = run("recommend", "--need", "700G", "--memory", "512G")
    assert (
        result.exit_code == 2
        and "no layout can hold 700G" in result.stderr
        and "node 0 has 512.00 GiB" in result.stderr
    )
    report = recommend_json(run, "--need", "8G", "--sizes", "2M,16G", "--kernel", "6.1,7.3")
    assert sorted(layout["kernel"] for layout in report["layouts"]) == ["6.1", "7.3"]
    assert [(i["kernel"], i["hugepage_size"]) for i in report["impossible"]] == [("6.1", "16G"), ("7.3", "16G")]
    assert "x86-64 4K has no 16G hugepages" in report["impossible"][0]["reason"]


def test_a_size_without_hvo_is_listed_with_why_and_ranked_last(run):
    report = recommend_json(run, "--need", "64G", "--arch", "arm64", "--page", "64K", "--kernel", "6.2")
    sizes = [layout["hugepage_size"] for layout in report["layouts"]]
    assert sizes[-1] == "2M" and report["layouts"][-1]["figures"]["saved_bytes"] == 0
    assert "nothing to free" in report["layouts"][-1]["reason"]


def test_hvo_off_and_runtime_change_the_command_line(run):
    (off,) = recommend_json(run, "--need", "4G", "--sizes", "1G", "--hvo", "off")["layouts"]
    assert off["cmdline"] == "hugetlb_free_vmemmap=off default_hugepagesz=1G hugepagesz=1G hugepages=4"
    (later,) = recommend_json(run, "--need", "4G", "--sizes", "1G", "--runtime")["layouts"]
    assert later["cmdline"] == "hugetlb_free_vmemmap=on default_hugepagesz=1G" and not later["boot"]


def test_the_table_lists_the_command_lines(run):
    result = run("recommend", "--need", "700G", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert "1: hugetlb_free_vmemmap=on default_hugepagesz=1G hugepagesz=1G hugepages=700\n" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--need", "0"], "must be positive"),
        (["--need", "1G", "--sizes", "2M,2M"], "more than once"),
        (["--need", "1G", "--need", "2G"], "--need is given more than once"),
        (["--need", "1G", "--huge", "2M"], "No such option"),
    ],
)
def test_bad_recommend_input_is_one_line_and_exit_2(run, args, message):
    result = run("recommend", *args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


# -- the command line text itself ------------------------------------------------------------------


def test_cmdline_orders_as_the_kernel_parses_and_leaves_runtime_pools_out():
    """default_hugepagesz= is the run-time pool's size (vm.nr_hugepages acts on the default size)."""
    request = PlanRequest(
        nodes=(NodeRequest(memory="8G"), NodeRequest(memory="8G")),
        pools=(
            PoolRequest(hugepage_size="1G", count=2, node=0, boot=True),
            PoolRequest(hugepage_size="2M", count=256, node=0, boot=True),
            PoolRequest(hugepage_size="1G", count=1, node=1, boot=True),
            PoolRequest(hugepage_size="2M", count=128, node=1, boot=False),
        ),
    )
    text = cmdline_for(request, plan(request))
    assert (
        text
        == "hugetlb_free_vmemmap=on default_hugepagesz=2M hugepagesz=1G hugepages=0:2,1:1 hugepagesz=2M hugepages=0:256"
    )


def test_cmdline_of_one_node_counts_and_without_hvo():
    request = PlanRequest(hvo=False, pools=(PoolRequest(hugepage_size="2M", count=512, boot=True),))
    assert (
        cmdline_for(request, plan(request))
        == "hugetlb_free_vmemmap=off default_hugepagesz=2M hugepagesz=2M hugepages=512"
    )
