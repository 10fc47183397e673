"""`hvo-calc config --emit KIND`: each text as the tool that reads it reads it.

The command line is read back by inspect's own /proc/cmdline reader (`parse_cmdline`, the way
mm/hugetlb.c reads it); the GRUB drop-in by a shell; sysctl.d lines against the files a real
kernel has (the captured hosts); tuned by configparser; the YAML by PyYAML.
"""

import configparser
import json
import subprocess
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import invoke

from hvo_calc.emit.kubernetes import quantity
from hvo_calc.host.readers import parse_cmdline
from hvo_calc.units import parse_size

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "configs" / "examples").glob("*.toml"))
HOSTS = sorted(p for p in (ROOT / "tests" / "fixtures" / "hosts").iterdir() if p.is_dir())
TWO_NODE = ROOT / "configs" / "examples" / "x86-vm-host-2node.toml"
TWO_NODE_LINE = "hugetlb_free_vmemmap=on default_hugepagesz=1G hugepagesz=1G hugepages=0:340,1:340"


def emit(*args: str) -> str:
    result = invoke("config", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def boot_pools(line: str, nodes: int) -> dict[int, dict[int, int]]:
    """size -> node -> count, as the kernel reads the command line (plain form: one node)."""
    parsed = parse_cmdline(line)
    assert parsed.warnings == ()
    pools: dict[int, dict[int, int]] = {}
    for request in parsed.boot:
        assert request.size_bytes is not None  # every hugepages= follows its hugepagesz=
        assert request.per_node is not None or nodes <= 1
        pools[request.size_bytes] = request.per_node or {0: request.count}
    return pools


def test_cmdline_of_the_two_node_example():
    assert emit("--emit", "cmdline", "--config", str(TWO_NODE)) == TWO_NODE_LINE + "\n"


def test_cmdline_order_is_the_kernels():
    line = emit("--emit", "cmdline", "--config", str(TWO_NODE)).split()
    keys = [word.split("=")[0] for word in line]
    assert keys == ["hugetlb_free_vmemmap", "default_hugepagesz", "hugepagesz", "hugepages"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_cmdline_round_trip_of_every_example_plan(example):
    plan = tomllib.loads(example.read_text())
    expected: dict[int, dict[int, int]] = defaultdict(dict)
    for pool in plan["pool"]:
        if pool.get("boot"):
            node = pool.get("node", 0)
            on_size = expected[parse_size(pool["size"], "size")]
            on_size[node] = on_size.get(node, 0) + pool["count"]
    line = emit("--emit", "cmdline", "--config", str(example)).strip()
    assert boot_pools(line, len(plan.get("node", []))) == dict(expected)
    kernel = plan["host"].get("kernel")
    has_hvo = not (plan["host"]["arch"] == "arm64" and kernel not in ("6.1", "6.2"))
    assert parse_cmdline(line).hvo == (plan["host"].get("hvo", True) if has_hvo else None)


def _inspect(host: Path, tmp_path: Path) -> tuple[dict, Path]:
    config = tmp_path / "host.toml"
    result = invoke("inspect", "--root", str(host), "--format", "json", "--write-config", str(config))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), config


@pytest.mark.parametrize("host", HOSTS, ids=lambda p: p.name)
def test_cmdline_round_trip_of_every_captured_host(host, tmp_path):
    """The host's plan, rendered and read back, gives the pools its own command line
    allocated at boot, and HVO as the plan has it (no parameter where the kernel lacks HVO)."""
    report, config = _inspect(host, tmp_path)
    facts = report["host"]
    line = emit("--emit", "cmdline", "--config", str(config)).strip()
    nodes = [n["node"] for n in facts["nodes"] if n["memory_bytes"]]
    expected = {}
    for node in facts["nodes"]:
        for counts in node["hugepages"]:
            if counts["boot"]:
                expected.setdefault(counts["hugepage_bytes"], {})[nodes.index(node["node"])] = counts["boot"]
    assert boot_pools(line, len(nodes)) == expected
    hvo = parse_cmdline(line).hvo
    assert hvo == (facts["hvo"]["hvo_enabled"] if facts["hvo"]["available"] else None)
    if facts["hvo"]["cmdline"] is not None and facts["hvo"]["available"]:
        assert hvo == facts["hvo"]["cmdline"]  # the host's own setting


def test_captured_two_node_host_gives_its_own_boot_parameters(tmp_path):
    """x86-64 7.3.4, two nodes, booted with hugepagesz=1G hugepages=0:1,1:1 hugepagesz=2M
    hugepages=0:256,1:128 (node 1's 2M pool grown to 192 at run time)."""
    _, config = _inspect(ROOT / "tests/fixtures/hosts/x86-64_7.3.4_2node_hvo-on", tmp_path)
    assert emit("--emit", "cmdline", "--config", str(config)) == (
        "hugetlb_free_vmemmap=on default_hugepagesz=2M hugepagesz=2M hugepages=0:256,1:128 "
        "hugepagesz=1G hugepages=0:1,1:1\n"
    )
    sysctl = emit("--emit", "sysctl", "--config", str(config))
    assert "#   echo 192 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages" in sysctl


def test_no_hvo_parameter_where_the_kernel_has_none():
    assert emit("--emit", "cmdline", "--arch", "arm64", "--huge", "2M", "--count", "2") == "default_hugepagesz=2M\n"
    assert emit("--emit", "cmdline", "--huge", "1G", "--count", "2", "--hvo", "off").startswith(
        "hugetlb_free_vmemmap=off "
    )


def test_grub_drop_in_adds_the_parameters(tmp_path):
    drop_in = tmp_path / "90-hvo-calc.cfg"
    drop_in.write_text(emit("--emit", "grub", "--config", str(TWO_NODE)))
    shell = f'GRUB_CMDLINE_LINUX_DEFAULT="quiet"; . "{drop_in}"; printf %s "$GRUB_CMDLINE_LINUX_DEFAULT"'
    out = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    assert out.stdout == "quiet " + TWO_NODE_LINE


def _sysctl_lines(text: str) -> dict[str, str]:
    """sysctl.d(5): key = value, # and ; comments."""
    values = {}
    for line in text.splitlines():
        if line.strip() and line.lstrip()[0] not in "#;":
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_sysctl_file_sets_hvo_and_the_run_time_pool():
    text = emit("--emit", "sysctl", "--config", str(ROOT / "configs/examples/database-host-2m.toml"))
    assert _sysctl_lines(text) == {"vm.hugetlb_optimize_vmemmap": "1", "vm.nr_hugepages": "98304"}
    assert "must apply before the pools are allocated" in text
    vm = ROOT / "tests/fixtures/hosts/x86-64_7.3.4_1node_hvo-on_shrunk-inuse/proc/sys/vm"
    for key in _sysctl_lines(text):  # the files a real 7.3.4 kernel has
        assert (vm / key.removeprefix("vm.")).is_file()


def test_sysctl_file_says_boot_pools_need_the_command_line():
    text = emit("--emit", "sysctl", "--config", str(TWO_NODE))
    assert _sysctl_lines(text) == {"vm.hugetlb_optimize_vmemmap": "1"}
    words = " ".join(line.removeprefix("# ") for line in text.splitlines())
    assert "The pools allocated at boot (guests-node0, guests-node1) exist before this applies: only" in words


def test_sysctl_counts_boot_hugepages_of_the_size_and_other_sizes_go_to_sysfs(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[host]\narch = "x86-64"\nkernel = "6.12"\n'
        '[[pool]]\nsize = "2M"\ncount = 100\nboot = true\n'
        '[[pool]]\nsize = "2M"\ncount = 28\n'
        '[[pool]]\nsize = "1G"\ncount = 2\n'
    )
    text = emit("--emit", "sysctl", "--config", str(plan))
    assert _sysctl_lines(text) == {"vm.hugetlb_optimize_vmemmap": "1", "vm.nr_hugepages": "128"}
    assert "#   echo 2 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages" in text
    assert emit("--emit", "cmdline", "--config", str(plan)) == (
        "hugetlb_free_vmemmap=on default_hugepagesz=2M hugepagesz=2M hugepages=100\n"
    )


def test_sysctl_without_hvo_on_the_kernel_sets_no_switch():
    text = emit("--emit", "sysctl", "--arch", "arm64", "--huge", "2M", "--count", "2")
    assert _sysctl_lines(text) == {"vm.nr_hugepages": "2"}
    assert "cannot have HVO" in text


def test_tuned_profile():
    profile = configparser.ConfigParser(interpolation=None)
    profile.optionxform = str  # keys as written
    profile.read_string(emit("--emit", "tuned", "--config", str(TWO_NODE)))
    assert profile["bootloader"]["cmdline_hvo"] == TWO_NODE_LINE
    assert dict(profile["sysctl"]) == {"vm.hugetlb_optimize_vmemmap": "1"}
    assert profile["main"]["summary"]


def test_kubelet_configuration():
    """10 x 2M on 6.12: each optimized page keeps one head copy from the page allocator (as
    nr_memmap_pages counts: 1024 for 1024 x 2M on the captured 6.12.117 host), and allocating
    the pool holds its 80 vmemmap pages and one split table before 70 are freed: 10 head copies
    (40 KiB) and a transient 70 pages (280 KiB)."""
    text = emit("--emit", "kubelet", "--huge", "2M", "--count", "10", "--kernel", "6.12")
    config = yaml.safe_load(text)
    assert config["apiVersion"] == "kubelet.config.k8s.io/v1beta1" and config["kind"] == "KubeletConfiguration"
    assert config["systemReserved"] == {"memory": f"{(10 + 70) * 4}Ki"}
    assert "#   hugepages-2Mi: 20Mi" in text.splitlines()
    assert "HVO returns 276Ki (282624 bytes)" in text  # 69 pages saved: 70 freed, one split table


def test_openshift_performance_profile():
    profile = yaml.safe_load(emit("--emit", "openshift", "--config", str(TWO_NODE)))
    assert profile["apiVersion"] == "performance.openshift.io/v2" and profile["kind"] == "PerformanceProfile"
    assert profile["spec"]["additionalKernelArgs"] == ["hugetlb_free_vmemmap=on"]
    assert profile["spec"]["hugepages"] == {
        "defaultHugepagesSize": "1G",
        "pages": [{"size": "1G", "count": 340, "node": 0}, {"size": "1G", "count": 340, "node": 1}],
    }
    one_node = yaml.safe_load(emit("--emit", "openshift", "--arch", "arm64", "--huge", "2M", "--count", "3"))
    assert "additionalKernelArgs" not in one_node["spec"]
    assert one_node["spec"]["hugepages"]["pages"] == [{"size": "2M", "count": 3}]


def test_quantities():
    assert [quantity(s) for s in (64 << 10, 2 << 20, 512 << 20, 1 << 30, 16 << 30, 1000)] == [
        "64Ki",
        "2Mi",
        "512Mi",
        "1Gi",
        "16Gi",
        "1000",
    ]


@pytest.mark.parametrize("kind", ["cmdline", "grub", "sysctl", "tuned", "kubelet", "openshift"])
def test_every_kind_is_deterministic_and_writes_a_file(kind, tmp_path):
    first = emit("--emit", kind, "--config", str(TWO_NODE))
    assert first == emit("--emit", kind, "--config", str(TWO_NODE))
    target = tmp_path / "out"
    assert invoke("config", "--emit", kind, "--config", str(TWO_NODE), "-o", str(target)).exit_code == 0
    assert target.read_text() == first


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--emit", "xml"),
        ("--emit", "cmdline", "--huge", "3M"),
        ("--emit", "cmdline", "--config", str(TWO_NODE), "--kernel", "5.15"),  # no per-node hugepages=
    ],
)
def test_bad_input_is_one_line_exit_2(args):
    result = invoke("config", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("hvo-calc: error:")


def test_the_kinds_offered_are_the_renderers():
    from hvo_calc.cli.config import KINDS
    from hvo_calc.emit import EMITTERS

    assert KINDS == tuple(EMITTERS)
