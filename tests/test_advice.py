"""The advice line (`host.hvo_enable_hint`) says only what applies, in `plan` and `inspect`."""

import json
from pathlib import Path

import pytest
from conftest import invoke

HOSTS = Path(__file__).resolve().parent / "fixtures" / "hosts"


def hint(*args: str) -> str | None:
    result = invoke("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["host"]["hvo_enable_hint"]


def inspect_json(host: str) -> dict:
    result = invoke("inspect", "--root", str(HOSTS / host), "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_run_time_pools_get_the_sysctl_and_that_existing_hugepages_stay():
    text = hint("--huge", "2M", "--count", "4", "--kernel", "6.12")
    assert "vm.hugetlb_optimize_vmemmap=1" in text and "before the pools are allocated (2M-node0)" in text
    assert "stay as they are until they are allocated again" in text
    assert "command line" not in text


def test_boot_time_pools_get_only_the_command_line():
    text = hint("--config", str(Path(__file__).resolve().parent.parent / "configs/examples/x86-vm-host-2node.toml"))
    assert "hugetlb_free_vmemmap=on" in text and "guests-node0, guests-node1" in text
    assert "sysctl" not in text


@pytest.mark.parametrize(
    "args, why",
    [
        (("--arch", "arm64", "--huge", "2M", "--kernel", "7.3"), "Linux 7.3 on arm64 cannot have HVO: "),
        (("--arch", "s390x", "--huge", "1M", "--kernel", "6.18"), "Linux 6.18 on s390x cannot have HVO: "),
        (
            ("--huge", "2M", "--kernel", "5.10"),
            "Linux 5.10 on x86-64 cannot have HVO: HVO first appeared in Linux 5.14",
        ),
    ],
)
def test_a_release_or_architecture_without_hvo_says_so_and_why(args, why):
    text = hint(*args)
    assert text.startswith(why) and "sysctl" not in text and "command line" not in text


def test_s390x_says_the_release_that_dropped_it():
    assert "6.18" in hint("--arch", "s390x", "--huge", "1M", "--kernel", "7.3")


def test_nothing_when_hvo_is_switched_off_in_the_plan():
    assert hint("--huge", "2M", "--hvo", "off") is None


@pytest.mark.parametrize(
    "host", ["x86-64_7.3.4_2node_hvo-on", "x86-64_6.12.117_1node_hvo-on", "x86-64_7.0.13_1node_hvo-on"]
)
def test_nothing_where_the_host_has_hvo_on(host):
    report = inspect_json(host)
    assert report["host"]["hvo"]["state"] == "on"
    assert report["plan"]["host"]["hvo_enable_hint"] is None
    table = invoke("inspect", "--root", str(HOSTS / host), env={"COLUMNS": "100", "NO_COLOR": "1"}).stdout
    assert not [line for line in table.splitlines() if line.startswith("HVO:") and "turn it on" in line]


def test_a_host_with_hvo_off_is_told_per_kind_of_pool():
    report = inspect_json("x86-64_7.3.4_2node_hvo-off")
    text = report["plan"]["host"]["hvo_enable_hint"]
    assert text.startswith("off on this host; to turn it on: add hugetlb_free_vmemmap=on")
    assert "pools allocated at boot: 2M-node0, 1G-node0, 2M-node1-boot, 1G-node1" in text
    assert "shrink each pool to 0 and allocate it again (2M-node1-runtime)" in text
    assert f"To turn it on: {text.removeprefix('off on this host; to turn it on: ')}" in report["summary"]


def test_a_host_without_hvo_in_its_kernel_cannot_have_it():
    report = inspect_json("arm64_7.3.4_1node_no-hvo_synthetic")
    assert report["plan"]["host"]["hvo_enable_hint"].startswith("Linux 7.3.4 on arm64 cannot have HVO: ")
