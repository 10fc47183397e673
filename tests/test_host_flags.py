"""Host shape from flags: memory and nodes, pools by size or count, and repeated options refused."""

import json

import pytest

EXAMPLE = "configs/examples/x86-vm-host-2node.toml"
# configs/examples/x86-vm-host-2node.toml (the README's plan-file example) as one command line
EXAMPLE_FLAGS = (
    "--arch x86-64 --kernel 6.12 --node-memory 384G,384G "
    "--pool 1G:340@0,boot,name=guests-node0 --pool 1G:340@1,boot,shrink-to=300,name=guests-node1"
).split()


def plan_json(run, *args):
    result = run("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_readme_plan_file_example_is_one_command_line(run):
    from_file = plan_json(run, "--config", EXAMPLE)
    assert plan_json(run, *EXAMPLE_FLAGS) == from_file
    assert from_file["memory"]["memory_bytes"] == 768 << 30
    assert [p["hugepages"] for p in from_file["pools"]] == [340, 340]


def test_a_pool_by_size_is_its_whole_count_of_hugepages(run):
    report = plan_json(run, "--huge", "1G", "--size", "700G")
    (pool,) = report["pools"]
    assert pool["hugepages"] == 700 and pool["pool_bytes"] == 700 << 30
    # 4095 of 4096 vmemmap pages freed per 1G page on x86-64 (16380 KiB, as the kernel prints)
    assert pool["per_hugepage"]["freed_pages"] * 4 == 16380


def test_pools_by_size_on_nodes_split_memory_evenly(run):
    report = plan_json(run, "--memory", "768G", "--nodes", "2", "--pool", "1G:300G", "--pool", "2M:64G@1")
    assert [n["memory_bytes"] for n in report["nodes"]] == [384 << 30, 384 << 30]
    assert [(p["hugepage_size"], p["hugepages"], p["node"]) for p in report["pools"]] == [
        ("1G", 300, 0),
        ("2M", 32768, 1),
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--huge", "1G", "--size", "1500M"], "nearest 1 (1.00 GiB) or 2 (2.00 GiB)"),
        (["--pool", "2M:3M"], "nearest 1 (2.00 MiB) or 2 (4.00 MiB)"),
        (["--memory", "768G", "--nodes", "2", "--pool", "1G:700G"], "node 0 has 384.00 GiB"),
        (["--nodes", "2"], "give --memory SIZE too"),
        (["--memory", "1G", "--node-memory", "1G"], "without --memory and --nodes"),
        (["--pool", "1G"], "is not a pool; accepted: SIZE:AMOUNT"),
        (["--pool", "1G:4,bogus"], "'bogus' is not a pool setting"),
        (["--pool", "1G:4", "--huge", "2M"], "--pool gives each pool's size"),
        (["--huge", "1G", "--count", "2", "--size", "2G"], "give one of them"),
        (["--memory", "10G", "--nodes", "3"], "does not split evenly over 3 nodes"),
        (["--config", EXAMPLE, "--memory", "1T"], "with --config, set [[node]]"),
    ],
)
def test_bad_host_shapes_are_one_line_and_exit_2(run, args, message):
    result = run("plan", *args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["plan", "check"])
@pytest.mark.parametrize(
    "args, named",
    [
        (["--kernel", "6.1", "--kernel", "7.3"], "--kernel"),
        (["--huge", "1G", "--huge=2M"], "--huge"),
        (["--hvo", "on", "--hvo", "off"], "--hvo"),
        (["--struct-page-size", "64", "--struct-page-size", "56"], "--struct-page-size"),
    ],
)
def test_a_single_valued_option_given_twice_is_refused(run, command, args, named):
    result = run(command, *args)
    assert result.exit_code == 2
    assert f"{named} is given more than once" in result.stderr and result.stderr.count("\n") == 1


def test_repeatable_options_stay_repeatable(run):
    assert run("check", "--huge", "1G", "--allow-known-issue", "a", "--allow-known-issue", "b").exit_code == 0
