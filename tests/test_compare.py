"""compare: every scenario is a real plan; its deltas are the differences of two plan reports."""

import csv
import io
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hvo_calc.cli.schema import schema_text

ROOT = Path(__file__).resolve().parent.parent
GiB = 1 << 30


def compare_json(run, *args):
    result = run("compare", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def plan_json(run, *args):
    result = run("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_each_scenario_is_the_plan_report_and_deltas_are_their_differences(run):
    report = compare_json(run, "--kernel", "6.1,7.3", "--huge", "2M", "--count", "512", "--memory", "64G")
    old, new = (
        plan_json(run, "--kernel", k, "--huge", "2M", "--count", "512", "--memory", "64G") for k in ("6.1", "7.3")
    )
    first, second = report["scenarios"]
    assert (first["name"], second["name"]) == ("kernel=6.1", "kernel=7.3")
    assert first["varies"] == {"kernel": "6.1"} and report["baseline"] == "kernel=6.1"
    assert first["report"] == old and second["report"] == new
    page = 4096
    for field, total in (
        ("saved_bytes", "saved_bytes"),
        ("freed_bytes", "freed_pages"),
        ("shared_tail_bytes", "shared_tail_pages"),
    ):
        scale = 1 if total.endswith("bytes") else page
        assert second["delta"][field] == (new["totals"][total] - old["totals"][total]) * scale
    assert (
        second["delta"]["memtotal_gain_bytes"]
        == new["memory"]["memtotal_gain_bytes"] - old["memory"]["memtotal_gain_bytes"]
    )
    assert first["delta"]["saved_bytes"] == 0


def test_saved_per_2m_page_on_7_3_is_seven_pages_less_tables_and_shared_tail(run):
    (scenario, _) = compare_json(run, "--kernel", "7.3,6.12", "--huge", "2M", "--count", "4096")["scenarios"]
    totals = scenario["report"]["totals"]
    assert totals["per_hugepage"]["freed_pages"] == 7  # 28 KiB per 2 MiB page, as the kernel prints
    assert totals["freed_pages"] == 7 * 4096
    assert totals["shared_tail_pages"] == 1
    assert totals["saved_pages"] == 7 * 4096 - totals["pagetable_pages"] - 1
    assert scenario["figures"]["saved_bytes"] == totals["saved_pages"] * 4096
    assert "28 KiB vmemmap can be freed" in scenario["report"]["pools"][0]["boot_line"]


def test_2m_or_1g_for_700g_keeps_the_memory(run):
    report = compare_json(run, "--huge", "2M,1G", "--size", "700G", "--memory", "768G")
    small, large = report["scenarios"]
    assert report["pool_basis"] == "memory"
    assert small["figures"]["pool_bytes"] == large["figures"]["pool_bytes"] == 700 * GiB
    assert (small["figures"]["hugepages"], large["figures"]["hugepages"]) == (358400, 700)
    assert large["report"]["totals"]["per_hugepage"]["freed_pages"] * 4 == 16380  # KiB per 1 GiB page
    assert small["report"]["totals"]["per_hugepage"]["freed_pages"] * 4 == 28
    assert large["delta"]["saved_bytes"] == large["figures"]["saved_bytes"] - small["figures"]["saved_bytes"] > 0


def test_a_pool_by_count_keeps_its_count(run):
    report = compare_json(run, "--huge", "2M,1G", "--count", "4")
    assert report["pool_basis"] == "count"
    assert [s["figures"]["hugepages"] for s in report["scenarios"]] == [4, 4]
    assert [s["figures"]["pool_bytes"] for s in report["scenarios"]] == [8 << 20, 4 * GiB]


def test_the_table_says_which_basis_and_fits_100_columns(run):
    result = run(
        "compare", "--huge", "2M,1G", "--size", "700G", "--memory", "768G", env={"COLUMNS": "100", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0
    assert "pools given by size keep their memory as --huge varies" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines() if "│" in line) <= 100


def test_an_impossible_scenario_keeps_its_row_with_the_reason(run):
    report = compare_json(run, "--huge", "2M,1G,3M", "--count", "2")
    impossible = report["scenarios"][2]
    assert impossible["report"] is None and impossible["delta"] is None
    assert "x86-64 4K has no 3M hugepages" in impossible["reason"]
    table = run("compare", "--huge", "2M,1G,3M", "--count", "2", env={"COLUMNS": "100"})
    assert table.exit_code == 0 and "3 huge=3M: cannot exist: x86-64 4K has no 3M hugepages" in table.stdout


def test_a_pool_larger_than_the_host_and_a_release_without_hvo(run):
    small, large = compare_json(run, "--huge", "2M,1G", "--count", "20", "--memory", "16G")["scenarios"]
    assert small["reason"] is None and small["figures"]["hugepages"] == 20
    assert large["report"] is None and "node 0 has 16.00 GiB" in large["reason"]
    result = run("compare", "--kernel", "6.1,7.3", "--huge", "1G", "--size", "64G", "--memory", "32G")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "no scenario can be planned" in result.stderr and "node 0 has 32.00 GiB" in result.stderr
    old, new = compare_json(run, "--arch", "arm64", "--kernel", "6.2,7.3", "--huge", "2M", "--count", "8")["scenarios"]
    assert old["report"]["totals"]["hvo_active"] and not new["report"]["totals"]["hvo_active"]
    assert new["delta"]["freed_bytes"] == -old["figures"]["freed_bytes"] < 0


def test_baseline_picks_another_scenario(run):
    report = compare_json(run, "--hvo", "on,off", "--huge", "1G", "--count", "2", "--baseline", "2")
    on, off = report["scenarios"]
    assert report["baseline"] == "hvo=off" and off["delta"]["saved_bytes"] == 0
    assert off["figures"]["freed_bytes"] == 0 and on["figures"]["freed_bytes"] == 2 * 4095 * 4096
    assert on["delta"]["saved_bytes"] == on["figures"]["saved_bytes"] - off["figures"]["saved_bytes"]
    bad = run("compare", "--hvo", "on,off", "--baseline", "3")
    assert bad.exit_code == 2 and "accepted: 1 to 2" in bad.stderr


def test_plan_files_are_scenarios_named_by_file(run, monkeypatch):
    files = ["configs/examples/x86-vm-host-2node.toml", "configs/examples/database-host-2m.toml"]
    monkeypatch.chdir(ROOT)
    report = compare_json(run, *files, "--kernel", "6.12,7.3")
    assert [s["name"] for s in report["scenarios"]] == [
        "x86-vm-host-2node kernel=6.12",
        "x86-vm-host-2node kernel=7.3",
        "database-host-2m kernel=6.12",
        "database-host-2m kernel=7.3",
    ]
    assert report["scenarios"][0]["varies"] == {"plan": "x86-vm-host-2node", "kernel": "6.12"}
    assert report["scenarios"][3]["report"] == plan_json(run, "--config", files[1], "--kernel", "7.3")
    assert run("compare", files[0], "--huge", "2M,1G").exit_code == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kernel", "7.3"], "nothing to compare"),
        (["--kernel", "6.1,6.1"], "lists '6.1' more than once"),
        (["--hvo", "on,maybe"], "accepted: on, off"),
        (["--struct-page-size", "64,x"], "whole numbers of bytes"),
        (["--kernel", "6.1,7.3", "--kernel", "6.12"], "--kernel is given more than once"),
        (["--kernel", "6.1,"], "has an empty value"),
    ],
)
def test_bad_compare_input_is_one_line_and_exit_2(run, args, message):
    result = run("compare", *args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_machine_formats_parse_with_their_own_parsers(run):
    args = ("--huge", "2M,1G,3M", "--count", "4", "--memory", "64G")
    json_report = compare_json(run, *args)
    jsonschema.validate(json_report, json.loads(schema_text("compare")))
    rows = list(csv.DictReader(io.StringIO(run("compare", *args, "--format", "csv").stdout)))
    assert [r["name"] for r in rows] == ["huge=2M", "huge=1G", "huge=3M"]
    assert int(rows[1]["delta_saved_bytes"]) == json_report["scenarios"][1]["delta"]["saved_bytes"]
    assert rows[2]["reason"].startswith("x86-64 4K has no 3M") and rows[2]["saved_bytes"] == ""
    text = run("compare", *args, "--format", "prometheus").stdout
    families = {f.name: f for f in text_string_to_metric_families(text)}
    saved = {s.labels["scenario"]: s.value for s in families["hvo_calc_compare_saved_bytes"].samples}
    assert saved == {
        "huge=2M": json_report["scenarios"][0]["figures"]["saved_bytes"],
        "huge=1G": json_report["scenarios"][1]["figures"]["saved_bytes"],
    }
    planned = {s.labels["scenario"]: s.value for s in families["hvo_calc_compare_planned"].samples}
    assert planned == {"huge=2M": 1, "huge=1G": 1, "huge=3M": 0}
    markdown = run("compare", *args, "--format", "markdown").stdout
    assert (
        sum(line.startswith("| ") for line in markdown.splitlines()) == 4
        and "| 3 | huge=3M | cannot exist |" in markdown
    )
    assert run("compare", *args, "--format", "json").stdout == run("compare", *args, "--format", "json").stdout


def test_committed_compare_schema_is_the_commands_output(run):
    committed = ROOT / "schema" / "compare-report.schema.json"
    result = run("schema", "--command", "compare")
    assert result.exit_code == 0
    assert committed.read_text() == result.stdout == schema_text("compare"), (
        "regenerate with: hvo-calc schema --command compare > schema/compare-report.schema.json"
    )
    plan = json.loads(result.stdout)["$defs"]["PlanReport"]
    assert plan["properties"]["totals"] == json.loads(schema_text())["properties"]["totals"]


def _console_blocks(text):
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        commands = re.split(r"^\$ ", block, flags=re.M)[1:]
        for item in commands:
            command, _, output = item.partition("\n")
            yield command, output


DOC_EXAMPLES = list(_console_blocks((ROOT / "docs" / "compare.md").read_text()))


@pytest.mark.parametrize("command, output", DOC_EXAMPLES, ids=[c for c, _ in DOC_EXAMPLES])
def test_docs_compare_examples_are_real_runs(run, command, output, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    assert argv[0] == "hvo-calc"
    result = run(*argv[1:], env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == output


def test_readme_answers_the_three_questions_with_one_command_each():
    """6.1 or 7.3, 2M or 1G, arm64 4K or 64K: one `compare` each (their output is checked by test_docs)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Compare and decide", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\$ (hvo-calc compare .*)$", section, flags=re.M)
    assert [re.search(r"--(kernel|huge|page) \S+,", c).group(0) for c in commands] == [
        "--kernel 6.1,",
        "--huge 2M,",
        "--page 4K,",
    ]
    assert len(DOC_EXAMPLES) >= 3 and "## Scenarios side by side" in (ROOT / "docs" / "compare.md").read_text()


def test_huge_varies_one_pool_given_by_pool_or_by_a_one_pool_plan_file(run):
    """--pool 1G:700G keeps its 700 GiB as --huge varies; a plan file's one pool keeps its count."""
    by_pool = compare_json(run, "--huge", "2M,1G", "--pool", "1G:700G", "--memory", "768G")
    assert by_pool["pool_basis"] == "memory"
    assert [s["figures"]["hugepages"] for s in by_pool["scenarios"]] == [358400, 700]
    assert by_pool == compare_json(run, "--huge", "2M,1G", "--size", "700G", "--memory", "768G")
    database = str(ROOT / "configs/examples/database-host-2m.toml")
    small, large = compare_json(run, database, "--huge", "2M,1G")["scenarios"]
    assert small["report"] == plan_json(run, "--config", database)
    assert large["report"] is None and "node 0 has 256.00 GiB" in large["reason"]  # 98304 pages of 1G
    two = run("compare", "--huge", "2M,1G", "--pool", "2M:1G", "--pool", "1G:2G")
    assert two.exit_code == 2 and "varies the size of one pool" in two.stderr


def test_a_release_without_hvo_says_why_in_its_row(run):
    report = compare_json(run, "--arch", "arm64", "--kernel", "5.10,6.2,7.3", "--huge", "2M", "--count", "8")
    before, with_hvo, after = report["scenarios"]
    assert with_hvo["no_hvo"] is None and with_hvo["figures"]["freed_bytes"] > 0
    assert "gained HVO in Linux 5.19" in before["no_hvo"]
    assert "disabled in Linux 6.3" in after["no_hvo"] and after["figures"]["freed_bytes"] == 0
    table = run("compare", "--arch", "arm64", "--kernel", "6.2,7.3", "--huge", "2M", "--count", "8")
    assert "2 kernel=7.3: no HVO: Linux 7.3 on arm64: arm64 HVO was disabled in Linux 6.3" in table.stdout
