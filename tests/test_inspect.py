"""`hvo-calc inspect` on real hosts (tests/fixtures/hosts, captured from Linux kernels under
QEMU) and on synthetic and broken trees: detected state against each host's README.txt,
the model's figures against the kernel's counters, every format, --write-config, --capture."""

import csv
import io
import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hvo_calc.host.fs import HostFS
from hvo_calc.host.readers import (
    kernel_size,
    kstrtobool,
    parse_cmdline,
    parse_dmesg,
    parse_id_list,
    parse_meminfo,
    parse_zoneinfo,
    point_release,
)
from hvo_calc.reports import renderers
from hvo_calc.schemas import report_schema

RENDER = renderers("inspect")

HOSTS = Path(__file__).parent / "fixtures" / "hosts"
ALL_HOSTS = sorted(p.name for p in HOSTS.iterdir() if p.is_dir())
GiB, MiB = 1 << 30, 1 << 20

# What each README.txt (and INDEX.md) says was done: machine, uname -r, upstream release, the
# sysctl (None: absent), hugetlb_free_vmemmap= (None: not given), HVO's state, the command
# line's boot pools {size: count or {node: count}}, nodes, and the pools now {(size, node): count}.
EXPECTED = {
    "x86-64_6.1.192_1node_hvo-on": dict(
        machine="x86_64",
        release="6.1.0-56-cloud-amd64",
        version="6.1.192",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={"2M": 1024},
        nodes=[0],
        pools={("2M", 0): 1024},
    ),
    "x86-64_6.12.117_1node_hvo-on": dict(
        machine="x86_64",
        release="6.12.117+deb13-cloud-amd64",
        version="6.12.117",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={"2M": 1024},
        nodes=[0],
        pools={("2M", 0): 1024, ("1G", 0): 2},
    ),
    "x86-64_7.0.13_1node_hvo-on": dict(
        machine="x86_64",
        release="7.0.13+deb13-cloud-amd64",
        version="7.0.13",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={"1G": 3},
        nodes=[0],
        pools={("2M", 0): 512, ("1G", 0): 3},
    ),
    "x86-64_7.3.4_1node_hvo-default": dict(
        machine="x86_64",
        release="7.3.4+deb13-cloud-amd64",
        version="7.3.4",
        sysctl=0,
        cmdline=None,
        state="off",
        boot={},
        nodes=[0],
        pools={("2M", 0): 512},
    ),
    "x86-64_7.3.4_1node_hvo-on_shrunk": dict(
        machine="x86_64",
        release="7.3.4+deb13-cloud-amd64",
        version="7.3.4",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={},
        nodes=[0],
        pools={("2M", 0): 512},
    ),
    "x86-64_7.3.4_1node_hvo-on_shrunk-inuse": dict(
        machine="x86_64",
        release="7.3.4+deb13-cloud-amd64",
        version="7.3.4",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={},
        nodes=[0],
        pools={("2M", 0): 632},
    ),
    "x86-64_7.3.4_1node_sysctl-on-midway": dict(
        machine="x86_64",
        release="7.3.4+deb13-cloud-amd64",
        version="7.3.4",
        sysctl=1,
        cmdline=None,
        state="on",
        boot={},
        nodes=[0],
        pools={("2M", 0): 512},
    ),
    "x86-64_7.3.4_2node_hvo-off": dict(
        machine="x86_64",
        release="7.3.4+deb13-cloud-amd64",
        version="7.3.4",
        sysctl=0,
        cmdline=False,
        state="off",
        boot={"1G": {0: 1, 1: 1}, "2M": {0: 256, 1: 128}},
        nodes=[0, 1],
        pools={("2M", 0): 256, ("1G", 0): 1, ("2M", 1): 192, ("1G", 1): 1},
    ),
    "x86-64_7.3.4_2node_hvo-on": dict(
        machine="x86_64",
        release="7.3.4+deb13-cloud-amd64",
        version="7.3.4",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={"1G": {0: 1, 1: 1}, "2M": {0: 256, 1: 128}},
        nodes=[0, 1],
        pools={("2M", 0): 256, ("1G", 0): 1, ("2M", 1): 192, ("1G", 1): 1},
    ),
    "arm64_7.3.4_1node_no-hvo_synthetic": dict(
        machine="aarch64",
        release="7.3.4+deb13-cloud-arm64",
        version="7.3.4",
        sysctl=None,
        cmdline=True,
        state="not available",
        boot={"1G": 1},
        nodes=[0],
        pools={("2M", 0): 256, ("1G", 0): 1},
    ),
    "riscv64_7.2.13_1node_hvo-on_synthetic": dict(
        machine="riscv64",
        release="7.2.13+deb13-riscv64",
        version="7.2.13",
        sysctl=1,
        cmdline=True,
        state="on",
        boot={"1G": 2},
        nodes=[0],
        pools={("2M", 0): 512, ("1G", 0): 2},
    ),
}

# /proc/vmstat as captured (INDEX.md): nr_memmap_pages, nr_memmap_boot_pages (None: the kernel has none)
COUNTERS = {
    "x86-64_6.1.192_1node_hvo-on": (None, None),
    "x86-64_6.12.117_1node_hvo-on": (1026, 16384),
    "x86-64_7.0.13_1node_hvo-on": (512, 16387),
    "x86-64_7.3.4_1node_hvo-default": (0, 32768),
    "x86-64_7.3.4_1node_hvo-on_shrunk": (4608, 24576),
    "x86-64_7.3.4_1node_hvo-on_shrunk-inuse": (3768, 24576),
    "x86-64_7.3.4_1node_sysctl-on-midway": (256, 30720),
    "x86-64_7.3.4_2node_hvo-off": (0, 32768),
    "x86-64_7.3.4_2node_hvo-on": (448, 20994),
    "arm64_7.3.4_1node_no-hvo_synthetic": (0, 32768),
    "riscv64_7.2.13_1node_hvo-on_synthetic": (514, 20480),
}


def inspect_json(run, host: str | Path, *args: str) -> dict:
    root = host if isinstance(host, Path) else HOSTS / host
    result = run("inspect", "--root", str(root), "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def rows_of(report: dict, counter: str, scope: str = "host") -> list[dict]:
    return [r for r in report["comparison"] if r["counter"] == counter and r["scope"] == scope]


def memmap_row(report: dict, counter: str) -> dict:
    (found,) = rows_of(report, counter)
    return found


def test_every_host_has_expectations():
    assert set(ALL_HOSTS) == set(EXPECTED) == set(COUNTERS)


# -- every host: no error, state as its README says --------------------------------------------


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_host_inspects_without_error_or_problem(run, host):
    report = inspect_json(run, host)
    assert report["problems"] == []
    assert report["schema_version"] == "2.0"
    assert report["plan"] is not None


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_detected_state_matches_readme(run, host):
    want = EXPECTED[host]
    facts = inspect_json(run, host)["host"]
    assert facts["machine"] == want["machine"]
    assert facts["kernel_release"] == want["release"]
    assert facts["kernel_version"] == want["version"]
    assert facts["base_page_bytes"] == 4096
    assert facts["paging"] == (5 if want["machine"] == "x86_64" else None)  # VmallocTotal 13743895347199 kB
    assert facts["hvo"]["sysctl"] == want["sysctl"]
    assert facts["hvo"]["built"] is (want["sysctl"] is not None)
    assert facts["hvo"]["cmdline"] == want["cmdline"]
    assert facts["hvo"]["state"] == want["state"]
    boot = {
        b["hugepage_size"]: (b["per_node"] and {int(k): v for k, v in b["per_node"].items()}) or b["count"]
        for b in facts["boot_hugepages"]
    }
    assert boot == want["boot"]
    assert [n["node"] for n in facts["nodes"]] == want["nodes"]
    pools = {(c["hugepage_size"], n["node"]): c["total"] for n in facts["nodes"] for c in n["hugepages"] if c["total"]}
    assert pools == want["pools"]


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_plan_holds_every_hugepage_of_the_host(run, host):
    report = inspect_json(run, host)
    planned: dict[tuple[str, int], int] = {}
    for pool in report["plan"]["pools"]:
        key = (pool["hugepage_size"], int(pool["name"].split("-node")[1].split("-")[0]))
        planned[key] = planned.get(key, 0) + pool["hugepages"]
    assert planned == EXPECTED[host]["pools"]
    assert report["plan"]["host"]["hvo_enabled"] is (EXPECTED[host]["state"] == "on")


def test_boot_and_runtime_parts_of_a_grown_pool(run):
    """2node: node 1's 2M pool was 128 at boot (hugepages=0:256,1:128) and raised to 192."""
    pools = {p["name"]: p for p in inspect_json(run, "x86-64_7.3.4_2node_hvo-on")["plan"]["pools"]}
    assert pools["2M-node1-boot"]["hugepages"] == 128 and pools["2M-node1-boot"]["boot_time"]
    assert pools["2M-node1-runtime"]["hugepages"] == 64 and not pools["2M-node1-runtime"]["boot_time"]
    assert pools["2M-node0"]["boot_time"] and pools["1G-node0"]["boot_time"] and pools["1G-node1"]["boot_time"]


def test_shrunk_pool_in_use_counts_surplus(run):
    facts = inspect_json(run, "x86-64_7.3.4_1node_hvo-on_shrunk-inuse")["host"]
    (size,) = [c for c in facts["hugepages"] if c["hugepage_size"] == "2M"]
    counts = (size["total"], size["free"], size["surplus"], size["reserved"], size["overcommit"])
    assert counts == (632, 32, 120, 32, 200)


# -- the model against the kernel's counters ---------------------------------------------------


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_every_counter_agrees_or_is_explained(run, host):
    report = inspect_json(run, host)
    memmap, boot = COUNTERS[host]
    assert memmap_row(report, "nr_memmap_pages")["observed"] == memmap
    assert memmap_row(report, "nr_memmap_boot_pages")["observed"] == boot
    for row in report["comparison"]:
        assert row["status"] in ("agrees", "explained", "not available"), row
        if row["status"] == "not available":
            assert row["explained"] is None and row["observed"] is None
            assert "agrees" not in row["explanation"]
        else:
            assert row["explained"] is True
            assert row["difference"] == row["observed"] - row["predicted"]


def test_6_1_has_no_memmap_counters_and_never_claims_agreement(run):
    report = inspect_json(run, "x86-64_6.1.192_1node_hvo-on")
    for counter in ("nr_memmap_pages", "nr_memmap_boot_pages"):
        row = memmap_row(report, counter)
        assert row["status"] == "not available"
        assert "not available on this kernel" in row["explanation"] and "6.11" in row["explanation"]
    assert "2 not available" in report["summary"][-1]


@pytest.mark.parametrize(
    "host, memmap, boot",
    [
        ("x86-64_6.12.117_1node_hvo-on", 1026, 16384),  # 1024 + 2 head copies; 32768 - 1024 x 8 - 2 x 4096
        ("x86-64_7.0.13_1node_hvo-on", 512, 16387),  # 1G boot pages pre-optimized: 32768 - 3 x 4095 - 512 x 8
        ("x86-64_7.3.4_2node_hvo-on", 448, 20994),  # 32768 - 2 x 4095 - 448 x 8
        ("x86-64_7.3.4_1node_hvo-default", 0, 32768),
        ("x86-64_7.3.4_2node_hvo-off", 0, 32768),
        ("riscv64_7.2.13_1node_hvo-on_synthetic", 514, 20480),
        ("arm64_7.3.4_1node_no-hvo_synthetic", 0, 32768),
    ],
)
def test_model_predicts_the_counters_exactly(run, host, memmap, boot):
    report = inspect_json(run, host)
    for counter, value in (("nr_memmap_pages", memmap), ("nr_memmap_boot_pages", boot)):
        row = memmap_row(report, counter)
        assert (row["predicted"], row["observed"], row["status"]) == (value, value, "agrees"), row


@pytest.mark.parametrize(
    "host, released, memmap, boot",
    [
        ("x86-64_7.3.4_1node_hvo-on_shrunk", 512, 512, 28672),  # 1024 -> 512: 4608 = 512 + 512 x 8
        ("x86-64_7.3.4_1node_hvo-on_shrunk-inuse", 392, 632, 27712),  # 1024 -> 632: 3768 = 632 + 392 x 8
    ],
)
def test_shrunk_pools_explained_by_released_hugepages(run, host, released, memmap, boot):
    report = inspect_json(run, host)
    row = memmap_row(report, "nr_memmap_pages")
    assert row["predicted"] == memmap and row["difference"] == released * 8
    assert row["status"] == "explained"
    assert f"{released} 2M hugepages optimized earlier and since released" in row["explanation"]
    assert f"{released} x (1 head copy + 7 restored) = {released * 8} pages" in row["explanation"]
    row = memmap_row(report, "nr_memmap_boot_pages")
    assert row["predicted"] == boot and row["difference"] == -released * 8 and row["status"] == "explained"
    assert f"{released} released 2M hugepages" in row["explanation"]


def test_sysctl_switched_on_midway_explained(run):
    """256 hugepages allocated while HVO was off, 256 after: the sysctl reads 1 for all."""
    report = inspect_json(run, "x86-64_7.3.4_1node_sysctl-on-midway")
    row = memmap_row(report, "nr_memmap_pages")
    assert (row["predicted"], row["observed"], row["difference"], row["status"]) == (512, 256, -256, "explained")
    assert "256 of the 512 2M hugepages were allocated while HVO was off" in row["explanation"]
    row = memmap_row(report, "nr_memmap_boot_pages")
    assert (row["predicted"], row["observed"], row["difference"], row["status"]) == (28672, 30720, 2048, "explained")
    assert "256 x 8 = 2048" in row["explanation"]


def set_counters(tree: Path, memmap: int, boot: int) -> None:
    vmstat = tree / "proc/vmstat"
    lines = [line for line in vmstat.read_text().splitlines() if not line.startswith("nr_memmap")]
    vmstat.write_text("\n".join(lines + [f"nr_memmap_pages {memmap}", f"nr_memmap_boot_pages {boot}"]) + "\n")


def test_switched_off_after_optimizing_explained(run, tmp_path):
    """The sysctl reads 0, but 300 of the 512 hugepages were allocated while it read 1."""
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-default")
    set_counters(tree, 300, 32768 - 300 * 8)
    report = inspect_json(run, tree)
    row = memmap_row(report, "nr_memmap_pages")
    assert (row["predicted"], row["difference"], row["status"]) == (0, 300, "explained")
    assert "300 of the 512 2M hugepages were allocated while HVO was on and stay optimized" in row["explanation"]
    assert memmap_row(report, "nr_memmap_boot_pages")["status"] == "explained"


def test_two_causes_at_once_explained(run, tmp_path):
    """sysctl-on-midway, and 100 more hugepages optimized and released since: 256 + 100 x 8 buddy pages."""
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_sysctl-on-midway")
    set_counters(tree, 256 + 100 * 8, 30720 - 100 * 8)
    report = inspect_json(run, tree)
    row = memmap_row(report, "nr_memmap_pages")
    assert row["status"] == "explained", row
    assert "256 of the 512 2M hugepages were allocated while HVO was off" in row["explanation"]
    assert "100 2M hugepages optimized earlier and since released" in row["explanation"]


def test_unaccounted_difference_is_unexplained(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_2node_hvo-on")
    vmstat = tree / "proc/vmstat"
    vmstat.write_text(vmstat.read_text().replace("nr_memmap_pages 448", "nr_memmap_pages 451"))
    report = inspect_json(run, tree)
    row = memmap_row(report, "nr_memmap_pages")
    assert (row["difference"], row["status"], row["explained"]) == (3, "unexplained", False)
    assert "1 unexplained" in report["summary"][-1]


def test_boot_lines_compared(run):
    report = inspect_json(run, "x86-64_7.3.4_2node_hvo-off")
    can_free = {
        r["hugepage_size"]: (r["predicted"], r["observed"])
        for r in report["comparison"]
        if r["counter"] == "hugetlb_boot_can_free_kib"
    }
    assert can_free == {"2M": (28, 28), "1G": (16380, 16380)}  # printed with HVO off too
    allocated = {
        r["hugepage_size"]: (r["predicted"], r["observed"])
        for r in report["comparison"]
        if r["counter"] == "hugetlb_boot_preallocated"
    }
    assert allocated == {"2M": (384, 384), "1G": (2, 2)}


# -- HVO's state said first -----------------------------------------------------------------


def test_hvo_off_says_so_first_with_what_it_would_free_and_how(run):
    report = inspect_json(run, "x86-64_7.3.4_2node_hvo-off")
    first, would, how = report["summary"][:3]
    assert first.startswith("HVO: built but off") and "hugetlb_free_vmemmap=off" in first
    freed = sum(p["would_free"]["freed_pages"] for p in report["plan"]["pools"])
    assert freed == 2 * 4095 + 448 * 7
    assert would.startswith(f"Turning it on would free {freed:,} pages")
    assert "hugetlb_free_vmemmap=on" in how and "vm.hugetlb_optimize_vmemmap=1" in how


def test_hvo_default_off_on_debian(run):
    summary = inspect_json(run, "x86-64_7.3.4_1node_hvo-default")["summary"]
    assert summary[0].startswith("HVO: built but off") and "built-in default" in summary[0]
    assert "sysctl -w vm.hugetlb_optimize_vmemmap=1" in summary[2]


def test_arm64_says_the_kernel_cannot_have_hvo(run):
    report = inspect_json(run, "arm64_7.3.4_1node_no-hvo_synthetic")
    assert report["summary"][0].startswith("HVO: not available: Linux 7.3 on arm64")
    assert any("hugetlb_free_vmemmap=on" in line and "did not know" in line for line in report["summary"])
    assert any(line.startswith("A kernel with HVO") for line in report["summary"])
    assert all(not p["hvo_active"] for p in report["plan"]["pools"])
    assert {r["observed"] for r in report["comparison"] if r["counter"] == "hugetlb_boot_can_free_kib"} == {0}
    sizes = {c["hugepage_size"] for c in report["host"]["hugepages"]}
    assert sizes == {"64K", "2M", "32M", "1G"}


def test_known_issue_of_the_release_said(run):
    summary = inspect_json(run, "x86-64_6.12.117_1node_hvo-on")["summary"]
    assert any(line.startswith("Known issue: this kernel has hvo-bad-page-state-6.12.115") for line in summary)
    assert not any("Known issue" in line for line in inspect_json(run, "x86-64_7.3.4_2node_hvo-on")["summary"])


def test_hvo_on_summary(run):
    summary = inspect_json(run, "x86-64_7.3.4_2node_hvo-on")["summary"]
    assert summary[0] == "HVO: on (vm.hugetlb_optimize_vmemmap = 1; hugetlb_free_vmemmap=on on the command line)."
    assert summary[-1] == "Model against the kernel's counters: 16 agrees."


# -- formats ------------------------------------------------------------------------------------


def test_every_format_has_an_inspect_renderer():
    from hvo_calc.reports import RENDERERS

    assert set(RENDER) == set(RENDERERS)


@pytest.mark.parametrize("host", ["x86-64_7.3.4_2node_hvo-on", "x86-64_6.1.192_1node_hvo-on"])
def test_json_validates_against_the_inspect_schema(run, host):
    jsonschema.validate(inspect_json(run, host), report_schema("inspect"))


def test_table_reports_state_first_and_the_plan(run):
    result = run("inspect", "--root", str(HOSTS / "x86-64_7.3.4_1node_hvo-on_shrunk"))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("HVO: on")
    assert "HVO plan: x86-64 4K pages" in result.stdout
    assert "model against the kernel's counters" in result.stdout
    assert "\x1b[" not in result.stdout


def test_csv_has_plan_rows_and_comparison_rows(run):
    result = run("inspect", "--root", str(HOSTS / "x86-64_7.3.4_2node_hvo-on"), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    kinds = [r["row"] for r in rows]
    assert kinds.count("pool") == 5 and kinds.count("total") == 1 and "comparison" in kinds
    memmap = next(r for r in rows if r["row"] == "comparison" and r["counter"] == "nr_memmap_pages")
    assert (memmap["predicted"], memmap["observed"], memmap["status"], memmap["explained"]) == (
        "448",
        "448",
        "agrees",
        "true",
    )
    assert memmap["name"] == ""


def test_prometheus_parses_and_has_inspect_gauges(run):
    result = run("inspect", "--root", str(HOSTS / "x86-64_7.3.4_1node_sysctl-on-midway"), "--format", "prometheus")
    assert result.exit_code == 0, result.stderr
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    assert "hvo_calc_pool_hugepages" in families
    samples = {
        (s.name, s.labels["counter"], s.labels["scope"]): s.value
        for f in families.values()
        if f.name.startswith("hvo_calc_inspect_")
        for s in f.samples
        if "counter" in s.labels
    }
    assert samples[("hvo_calc_inspect_observed", "nr_memmap_pages", "host")] == 256
    assert samples[("hvo_calc_inspect_predicted", "nr_memmap_pages", "host")] == 512
    assert samples[("hvo_calc_inspect_difference", "nr_memmap_pages", "host")] == -256
    assert samples[("hvo_calc_inspect_explained", "nr_memmap_pages", "host")] == 1
    assert families["hvo_calc_inspect_hvo_sysctl"].samples[0].value == 1


def test_markdown(run):
    result = run("inspect", "--root", str(HOSTS / "x86-64_6.1.192_1node_hvo-on"), "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("**hvo-calc inspect**: host: x86_64")
    assert "**model against the kernel's counters**" in result.stdout and "not available" in result.stdout


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown", "prometheus"])
def test_formats_are_deterministic_and_output_writes_a_file(run, tmp_path, fmt):
    root = str(HOSTS / "x86-64_7.3.4_2node_hvo-off")
    first = run("inspect", "--root", root, "--format", fmt)
    second = run("inspect", "--root", root, "--format", fmt)
    assert first.exit_code == 0 and first.stdout == second.stdout
    out = tmp_path / f"report.{fmt}"
    result = run("inspect", "--root", root, "--format", fmt, "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text() == first.stdout


# -- --write-config and --capture ---------------------------------------------------------------


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_write_config_round_trips_through_plan(run, tmp_path, host):
    config = tmp_path / "host.toml"
    report = inspect_json(run, host, "--write-config", str(config))
    result = run("plan", "--config", str(config), "--format", "json")
    assert result.exit_code == 0, result.stderr
    planned = json.loads(result.stdout)
    # the advice line is the host's in inspect (issue 16: nothing where HVO is on), the plan's in plan
    planned["host"].pop("hvo_enable_hint"), report["plan"]["host"].pop("hvo_enable_hint")
    assert planned == report["plan"]


def test_written_config_is_editable_into_a_what_if(run, tmp_path):
    config = tmp_path / "host.toml"
    inspect_json(run, "x86-64_7.3.4_2node_hvo-off", "--write-config", str(config))
    text = config.read_text()
    assert "[host]" in text and "[[node]]" in text and "[[pool]]" in text and "hvo = false" in text
    config.write_text(text.replace("hvo = false", "hvo = true"))
    result = run("check", "--config", str(config), "--require-hvo", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["freed_pages"] == 2 * 4095 + 448 * 7


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_capture_then_root_gives_the_same_report(run, tmp_path, host):
    captured = tmp_path / "tree"
    report = inspect_json(run, host, "--capture", str(captured))
    assert inspect_json(run, captured) == report
    written = {str(p.relative_to(captured)) for p in captured.rglob("*") if p.is_file()}
    original = {str(p.relative_to(HOSTS / host)) for p in (HOSTS / host).rglob("*") if p.is_file()}
    assert written <= original  # only files inspect read (README.txt, buddyinfo and the like stay out)
    assert {"uname.txt", "proc/meminfo", "proc/vmstat", "proc/cmdline"} <= written
    assert "README.txt" not in written and "proc/buddyinfo" not in written


def test_capture_writes_uname_and_dmesg(run, tmp_path):
    captured = tmp_path / "tree"
    inspect_json(run, "x86-64_6.12.117_1node_hvo-on", "--capture", str(captured))
    assert (
        captured / "uname.txt"
    ).read_text() == "machine=x86_64\nrelease=6.12.117+deb13-cloud-amd64\npage_size=4096\n"
    assert "28 KiB vmemmap can be freed" in (captured / "dmesg-hugetlb.txt").read_text()


def test_capture_of_a_tree_nothing_can_be_planned_from(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_2node_hvo-on")
    (tree / "uname.txt").write_text("machine=sparc64\nrelease=7.3.4\npage_size=8192\n")
    captured = tmp_path / "captured"
    result = run("inspect", "--root", str(tree), "--capture", str(captured))
    assert result.exit_code == 2
    assert (captured / "proc/meminfo").exists() and "sparc64" in (captured / "uname.txt").read_text()


def test_dmesg_file_option(run, tmp_path):
    log = tmp_path / "boot.log"
    log.write_text(
        "[    0.1] Booting Linux\n[    1.0] HugeTLB: registered 2.00 MiB page size, pre-allocated 7 pages\n"
        "[    1.0] HugeTLB: 28 KiB vmemmap can be freed for a 2.00 MiB page\n[    2.0] other\n"
    )
    report = inspect_json(run, "x86-64_7.3.4_1node_hvo-on_shrunk", "--dmesg", str(log))
    assert len(report["host"]["dmesg"]) == 2
    row = next(r for r in report["comparison"] if r["counter"] == "hugetlb_boot_preallocated")
    assert (row["predicted"], row["observed"], row["status"]) == (0, 7, "unexplained")


# -- bad and partial trees ------------------------------------------------------------------------


def copy_host(tmp_path: Path, host: str) -> Path:
    tree = tmp_path / host
    shutil.copytree(HOSTS / host, tree)
    return tree


def error_lines(result) -> list[str]:
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("hvo-calc: error: ")]


def test_empty_tree_exits_2_with_a_line_per_problem(run, tmp_path):
    result = run("inspect", "--root", str(tmp_path))
    assert result.exit_code == 2 and result.stdout == ""
    lines = error_lines(result)
    assert len(lines) == len(result.stderr.splitlines())
    for needed in (
        "proc/meminfo: absent",
        "cannot tell the architecture",
        "cannot tell the base page size",
        "cannot tell the kernel release",
        "nothing can be planned",
    ):
        assert sum(needed in line for line in lines) == 1, needed


def test_unknown_architecture(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-on_shrunk")
    (tree / "uname.txt").write_text("machine=sparc64\nrelease=7.3.4+deb13-sparc64\npage_size=4096\n")
    result = run("inspect", "--root", str(tree))
    assert result.exit_code == 2
    lines = error_lines(result)
    assert lines[0] == (
        "hvo-calc: error: machine sparc64 (uname.txt): unknown architecture 'sparc64'; hvo-calc has "
        "profiles for: " + lines[0].split("profiles for: ")[1]
    )
    assert len(lines) == 2


def test_unknown_page_size(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-on_shrunk")
    (tree / "uname.txt").write_text("machine=x86_64\nrelease=7.3.4+deb13-cloud-amd64\npage_size=16384\n")
    result = run("inspect", "--root", str(tree))
    assert result.exit_code == 2
    assert any("x86-64 has no 16K base page; accepted: 4K" in line for line in error_lines(result))


def test_garbage_identity_files(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-on_shrunk")
    (tree / "uname.txt").write_bytes(b"\x00\xff\xfe garbage")
    (tree / "proc/sys/kernel/osrelease").write_text("!!! not a release !!!\n")
    result = run("inspect", "--root", str(tree))
    assert result.exit_code == 2
    lines = error_lines(result)
    assert any(line.startswith("hvo-calc: error: uname.txt: not text") for line in lines)
    assert any(line.startswith("hvo-calc: error: proc/sys/kernel/osrelease: cannot parse") for line in lines)


def test_garbage_counters_are_problems_and_the_rest_goes_on(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_2node_hvo-on")
    (tree / "proc/meminfo").write_bytes(b"garbage\x00\xff")
    (tree / "proc/vmstat").write_text("zzz\n")
    (tree / "proc/sys/vm/hugetlb_optimize_vmemmap").write_text("what\n")
    (tree / "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages").write_text("abc\n")
    result = run("inspect", "--root", str(tree), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    sources = [p["source"] for p in report["problems"]]
    assert sources == [
        "proc/meminfo",
        "proc/vmstat",
        "proc/sys/vm/hugetlb_optimize_vmemmap",
        "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages",
    ]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("hvo-calc: warning: ")]
    assert len(warnings) == 4
    assert report["host"]["hvo"]["state"] == "unknown"
    assert memmap_row(report, "nr_memmap_pages")["status"] == "not compared"
    assert [p["name"] for p in report["plan"]["pools"]] == ["2M-node0", "1G-node0", "1G-node1"]


def test_missing_counters_file_is_not_compared(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-default")
    (tree / "proc/zoneinfo").unlink()
    report = inspect_json(run, tree)
    assert [p["source"] for p in report["problems"]] == ["proc/zoneinfo"]
    row = memmap_row(report, "nr_memmap_boot_pages")
    assert row["status"] == "not compared" and row["predicted"] is None and row["explained"] is None


def test_no_hugepages_is_not_an_error(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-default")
    for path in tree.rglob("nr_hugepages"):
        path.write_text("0\n")
    for path in tree.rglob("free_hugepages"):
        path.write_text("0\n")
    meminfo = tree / "proc/meminfo"
    meminfo.write_text(
        meminfo.read_text()
        .replace("HugePages_Total:     512", "HugePages_Total:       0")
        .replace("HugePages_Free:      512", "HugePages_Free:        0")
    )
    vmstat = tree / "proc/vmstat"
    report = inspect_json(run, tree)
    assert report["plan"] is None
    assert any("nothing to plan" in note for note in report["notes"])
    assert memmap_row(report, "nr_memmap_boot_pages")["status"] == "agrees"
    assert vmstat.exists()
    # The host being planned: its plan file holds the host, its node and a commented pool.
    config = tmp_path / "x.toml"
    result = run("inspect", "--root", str(tree), "--write-config", str(config))
    assert result.exit_code == 0, result.stderr
    text = config.read_text()
    assert "[[node]]" in text and "\n# [[pool]]\n" in text and "\n[[pool]]" not in text
    planned = run("plan", "--config", str(config), "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["pools"] == []
    config.write_text(re.sub(r"(?m)^# ((\[\[pool\]\])|size|count|node)", r"\1", config.read_text()))
    (pool,) = json.loads(run("plan", "--config", str(config), "--format", "json").stdout)["pools"]
    assert pool["hugepage_bytes"] == 2 << 20 and pool["hugepages"] == 1
    clean = run("check", "--host", "--expect", str(tmp_path / "x.toml"), "--root", str(tree))
    assert clean.exit_code == 1  # the example pool is not on the host: drift, named


def test_hugepage_size_the_profile_lacks(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-on_shrunk")
    odd = tree / "sys/kernel/mm/hugepages/hugepages-4096kB"
    odd.mkdir()
    (odd / "nr_hugepages").write_text("3\n")
    report = inspect_json(run, tree)
    (problem,) = report["problems"]
    assert problem["source"] == "hugepages-4096kB" and "has no 4M hugepages" in problem["message"]
    assert problem["message"].startswith("x86-64 4K")


def test_kernel_older_than_the_data_has_no_hvo(run, tmp_path):
    tree = copy_host(tmp_path, "x86-64_6.1.192_1node_hvo-on")
    (tree / "uname.txt").write_text("machine=x86_64\nrelease=4.19.0-27-amd64\npage_size=4096\n")
    (tree / "proc/sys/kernel/osrelease").write_text("4.19.0-27-amd64\n")
    (tree / "proc/version").write_text("Linux version 4.19.0-27-amd64 #1 SMP Debian 4.19.316-1 (2024-06-25)\n")
    (tree / "proc/sys/vm/hugetlb_optimize_vmemmap").unlink()
    report = inspect_json(run, tree)
    assert report["host"]["kernel_version"] == "4.19.316"
    assert report["summary"][0].startswith("HVO: not available: Linux 5.10 on x86-64")
    assert any("older than the model's data" in note for note in report["notes"])


@pytest.mark.parametrize(
    "host", ["x86-64_7.3.4_2node_hvo-on", "riscv64_7.2.13_1node_hvo-on_synthetic", "arm64_7.3.4_1node_no-hvo_synthetic"]
)
def test_tree_without_uname_txt(run, tmp_path, host):
    """Machine from the release's flavour suffix, page size from MemTotal / managed pages."""
    tree = copy_host(tmp_path, host)
    (tree / "uname.txt").unlink()
    report = inspect_json(run, tree)
    original = inspect_json(run, host)
    assert report["host"]["machine_source"].startswith("the release's suffix")
    assert report["host"]["base_page_source"].startswith("MemTotal / managed pages")
    for facts in (report["host"], original["host"]):
        del facts["machine_source"], facts["base_page_source"]
    assert report == original


def test_node_ids_with_gaps(run, tmp_path):
    """A host whose only node with memory is node 1: planned as the plan's node 0, named for node 1."""
    tree = copy_host(tmp_path, "x86-64_7.3.4_1node_hvo-on_shrunk")
    nodes = tree / "sys/devices/system/node"
    (nodes / "node0").rename(nodes / "node1")
    (nodes / "online").write_text("1\n")
    meminfo = nodes / "node1/meminfo"
    meminfo.write_text(meminfo.read_text().replace("Node 0 ", "Node 1 "))
    zoneinfo = tree / "proc/zoneinfo"
    zoneinfo.write_text(zoneinfo.read_text().replace("Node 0,", "Node 1,"))
    report = inspect_json(run, tree)
    (pool,) = report["plan"]["pools"]
    assert (pool["name"], pool["node"], pool["hugepages"]) == ("2M-node1", 0, 512)
    assert [n["node"] for n in report["host"]["nodes"]] == [1]
    assert report["problems"] == []


def test_live_host_never_tracebacks(run):
    result = run("inspect", "--format", "json")
    assert "Traceback" not in result.stderr
    assert result.exit_code in (0, 2)
    if result.exit_code == 0:
        assert json.loads(result.stdout)["host"]["machine"]


def test_root_must_be_a_directory(run, tmp_path):
    result = run("inspect", "--root", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "is not a directory" in result.stderr


# -- readers on their own ---------------------------------------------------------------------------


def test_cmdline_forms():
    line = parse_cmdline(
        "quiet hugetlb_free_vmemmap=on hugepages=16 default_hugepagesz=1G hugepagesz=2M "
        'hugepages=0:256,1:128 hugepagesz=1G hugepages=4 init="/bin/sh -x" -- hugepages=9'
    )
    assert line.hvo is True and line.default_size_bytes == GiB
    boot = [(b.size_bytes, b.count, b.per_node) for b in line.boot]
    assert boot == [(None, 16, None), (2 * MiB, 384, {0: 256, 1: 128}), (GiB, 4, None)]
    assert parse_cmdline("hugetlb_free_vmemmap=off").hvo is False
    assert parse_cmdline("hugetlb_free_vmemmap=maybe").warnings
    assert parse_cmdline("hugepagesz=2M hugepages=4 hugepages=8").boot[0].count == 4  # the kernel keeps the first


def test_kstrtobool():
    assert [kstrtobool(v) for v in ("on", "off", "1", "0", "Y", "n", "true", "x")] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
    ]


def test_point_release():
    version = (
        "Linux version 6.1.0-56-cloud-amd64 (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld 2.40) "
        "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)"
    )
    assert point_release("6.1.0-56-cloud-amd64", version) == "6.1.192"
    assert point_release("7.3.4+deb13-cloud-amd64", None) == "7.3.4"
    assert (
        point_release(
            "6.8.0-45-generic", "Linux version 6.8.0-45-generic #45-Ubuntu SMP", "Ubuntu 6.8.0-45.45-generic 6.8.12"
        )
        == "6.8.12"
    )
    assert point_release("6.18.44-fc-v595", "Linux version 6.18.44-fc-v595 (gcc 15.3.0) #1 SMP @0") == "6.18.44"
    assert point_release("garbage", None) is None


def test_meminfo_zoneinfo_and_lists():
    info = parse_meminfo("Node 1 MemTotal:  4 kB\nNode 1 HugePages_Total:   3\n", node=1)
    assert info.mem_total_bytes == 4096 and info.get("HugePages_Total") == 3
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("MemFree: 1 kB\n")
    with pytest.raises(ValueError, match="line 1"):
        parse_meminfo("garbage\n")
    zones = parse_zoneinfo(
        "Node 0, zone   Normal\n        spanned  10\n        present  8\n        managed  7\n"
        "Node 1, zone   Normal\n        present  5\n"
    )
    assert (zones[0].present, zones[0].managed, zones[1].present) == (8, 7, 5)
    assert parse_id_list("0-2,5\n") == [0, 1, 2, 5] and parse_id_list("\n") == []
    with pytest.raises(ValueError):
        parse_id_list("2-1")


def test_dmesg_lines():
    lines = parse_dmesg(
        "[1] HugeTLB: registered 64.0 KiB page size, pre-allocated 0 pages\n"
        "[1] HugeTLB: 0 KiB vmemmap can be freed for a 64.0 KiB page\n"
        "[1] HugeTLB: registered 16.0 GiB page size, pre-allocated 2 pages\n"
        '[0] Unknown kernel command line parameters "hugetlb_free_vmemmap=on foo", will be ...\n'
        "[2] unrelated\n"
    )
    assert lines.preallocated == {64 << 10: 0, 16 * GiB: 2}
    assert lines.can_free_kib == {64 << 10: 0}
    assert lines.unknown_parameters == ("hugetlb_free_vmemmap=on",)
    assert len(lines.lines) == 4
    assert kernel_size("512 MiB") == 512 * MiB and kernel_size("nonsense") is None


def test_fs_never_raises(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    fs = HostFS(tmp_path)
    assert fs.read("absent").absent
    assert fs.read("dir").error == "is a directory, not a file"
    assert fs.read("binary").error.startswith("not text")
    assert fs.files_read == {}


def test_host_files_are_printed_literally_not_as_markup(run, tmp_path):
    """A command line is the host's text: brackets in it are not rich markup (it crashed)."""
    import shutil

    tree = tmp_path / "host"
    shutil.copytree(HOSTS / "x86-64_7.3.4_1node_hvo-on_shrunk", tree)
    (tree / "proc" / "cmdline").write_text("console=ttyS0 hugetlb_free_vmemmap=on foo=[/x] bar=[bold]\n")
    result = run("inspect", "--root", str(tree))
    assert result.exit_code == 0, result.stderr
    assert "command line: console=ttyS0 hugetlb_free_vmemmap=on foo=[/x] bar=[bold]" in result.stdout
