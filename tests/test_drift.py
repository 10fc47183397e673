"""`hvo-calc check --host --expect FILE --root DIR`: captured hosts against plans.

The hosts are real kernels' trees (tests/fixtures/hosts); the plans are what `inspect
--write-config` writes from them, checked as they are (clean) and edited into a drift.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import invoke

HOSTS = Path(__file__).resolve().parent / "fixtures" / "hosts"
ALL = sorted(p for p in HOSTS.iterdir() if p.is_dir())
TWO_ON, TWO_OFF = HOSTS / "x86-64_7.3.4_2node_hvo-on", HOSTS / "x86-64_7.3.4_2node_hvo-off"


def written_plan(host: Path, tmp_path: Path) -> Path:
    config = tmp_path / f"{host.name}.toml"
    result = invoke("inspect", "--root", str(host), "--format", "json", "--write-config", str(config))
    assert result.exit_code == 0, result.stderr
    return config


def check(expect: Path, root: Path, *args: str):
    result = invoke("check", "--host", "--expect", str(expect), "--root", str(root), "--format", "json", *args)
    checks = json.loads(result.stdout)["checks"] if result.stdout else []
    return result, {c["name"]: c for c in checks}


@pytest.mark.parametrize("host", ALL, ids=lambda p: p.name)
def test_a_hosts_own_plan_checks_clean(host, tmp_path):
    result, checks = check(written_plan(host, tmp_path), host)
    assert result.exit_code == 0, result.stderr
    assert "drift" not in result.stderr and "error" not in result.stderr
    assert checks["hvo"]["passed"] and checks["arch"]["passed"]
    assert all(c["passed"] for c in checks.values())
    assert any(name.startswith("pool ") for name in checks)
    assert {c["kind"] for c in checks.values()} <= {"drift", "known_issue"}


def test_findings_carry_the_hosts_counts(tmp_path):
    _, checks = check(written_plan(TWO_ON, tmp_path), TWO_ON)
    # node 1's 2M pool: 128 at boot (hugepages=0:256,1:128), grown to 192 after boot
    assert checks["pool 2M node 1"] | {"message": ""} == {
        "name": "pool 2M node 1",
        "kind": "drift",
        "limit": 192,
        "value": 192,
        "passed": True,
        "message": "",
    }
    assert checks["boot pool 2M node 1"]["value"] == 128 and checks["boot pool 1G node 0"]["value"] == 1
    assert checks["counter nr_memmap_pages host"]["value"] == 448  # one head copy per 2M page, as INDEX.md says
    assert checks["hvo"]["value"] == "on"


def test_hvo_off_on_the_host_is_drift(tmp_path):
    result, checks = check(written_plan(TWO_ON, tmp_path), TWO_OFF)
    assert result.exit_code == 1
    assert checks["hvo"] | {"message": ""} == {
        "name": "hvo",
        "kind": "drift",
        "limit": "on",
        "value": "off",
        "passed": False,
        "message": "",
    }
    drift = [line for line in result.stderr.splitlines() if line.startswith("hvo-calc: drift:")]
    assert drift == ["hvo-calc: drift: hvo: off on the host, the plan has it on"]
    assert result.stderr.splitlines()[-1].startswith("hvo-calc: error: the host drifted from the plan: 1 of ")
    assert "budgets failed" not in result.stderr  # no budget was given


def test_a_pool_that_came_up_short_is_drift(tmp_path):
    config = written_plan(TWO_ON, tmp_path)
    text = config.read_text()
    edited = re.sub(r'(name = "2M-node1-runtime"\nsize = "2M"\n)count = 64', r"\1count = 100", text)
    assert edited != text
    config.write_text(edited)
    result, checks = check(config, TWO_ON)
    assert result.exit_code == 1
    assert (checks["pool 2M node 1"]["limit"], checks["pool 2M node 1"]["value"]) == (228, 192)
    assert "hvo-calc: drift: pool 2M node 1: 192 hugepages, the plan has 228" in result.stderr.splitlines()
    assert checks["pool 2M node 0"]["passed"] and checks["boot pool 2M node 1"]["passed"]


def test_an_unexplained_counter_is_drift(tmp_path):
    tree = tmp_path / "host"
    shutil.copytree(TWO_ON, tree)
    vmstat = tree / "proc" / "vmstat"
    vmstat.write_text(vmstat.read_text().replace("nr_memmap_pages 448\n", "nr_memmap_pages 1448\n"))
    result, checks = check(written_plan(TWO_ON, tmp_path), tree)
    assert result.exit_code == 1
    counter = checks["counter nr_memmap_pages host"]
    assert (counter["limit"], counter["value"], counter["passed"]) == (448, 1448, False)


def test_a_known_issue_of_the_release_that_bites_the_plan_fails(tmp_path):
    host = HOSTS / "x86-64_6.12.117_1node_hvo-on"
    config = written_plan(host, tmp_path)
    result, checks = check(config, host)
    (issue,) = [c for c in checks.values() if c["kind"] == "known_issue"]
    assert issue["passed"] and "6.12.117 is in its range" in issue["message"]  # nothing shrinks
    config.write_text(config.read_text().replace('name = "2M-node0"', 'name = "2M-node0"\nshrink_to = 512'))
    result, checks = check(config, host)
    assert result.exit_code == 1
    (issue,) = [c for c in checks.values() if c["kind"] == "known_issue"]
    assert not issue["passed"] and "2M-node0" in issue["message"]
    allowed = ("--allow-known-issue", issue["name"].removeprefix("known issue "))
    assert invoke("check", "--host", "--expect", str(config), "--root", str(host), *allowed).exit_code == 0


def test_a_plan_without_hvo_on_a_host_with_it_is_drift(tmp_path):
    config = written_plan(TWO_ON, tmp_path)
    config.write_text(config.read_text().replace("hvo = true", "hvo = false"))
    result, checks = check(config, TWO_ON)
    assert result.exit_code == 1 and checks["hvo"]["limit"] == "off" and checks["hvo"]["value"] == "on"


@pytest.mark.parametrize(
    "args, says",
    [
        (("--host", "--root", str(TWO_ON)), "--host needs --expect FILE"),
        (("--expect", "plan.toml"), "--expect and --root go with --host"),
        (("--host", "--expect", "EXPECT", "--root", str(TWO_ON), "--huge", "2M"), "with --host the plan is --expect"),
        (("--host", "--expect", "EXPECT", "--root", str(TWO_ON), "--kernel", "6.12"), "--kernel not for it"),
        (("--host", "--expect", "EXPECT", "--root", "/nonexistent-tree"), "is not a directory"),
        (("--host", "--expect", "/nonexistent.toml", "--root", str(TWO_ON)), "cannot read the plan file"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, says):
    expect = str(written_plan(TWO_ON, tmp_path))
    result = invoke("check", *(expect if a == "EXPECT" else a for a in args))
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and says in result.stderr
