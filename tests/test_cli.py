"""The command line, run as users run it."""

import json
import os
import subprocess
import sys
from importlib.metadata import version as installed_version

import pytest
from click.testing import CliRunner

from hvo_calc.cli import COMMANDS, _register, cli

_register()


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def hvo_calc(*args: str) -> subprocess.CompletedProcess:
    """The real entry point, in a child process: exit codes and streams as a user sees them."""
    return subprocess.run([sys.executable, "-m", "hvo_calc", *args], capture_output=True, text=True)


def test_plan_on_defaults_shows_both_pools_and_boot_lines():
    result = invoke("plan")
    assert result.exit_code == 0, result.output
    assert "28 KiB vmemmap can be freed for a 2.00 MiB page" in result.output
    assert "16380 KiB vmemmap can be freed for a 1.00 GiB page" in result.output


def test_plan_json_totals_for_three_1g_pages_on_5_14():
    result = invoke("plan", "--arch", "x86-64", "--huge", "1G", "--count", "3", "--kernel", "5.14", "--format", "json")
    report = json.loads(result.output)
    assert report["schema_version"].startswith("2.")
    totals = report["totals"]
    assert totals["freed_pages"] == 3 * 4094 and totals["reserved_pages"] == 6
    assert totals["vmemmap_pages"] == 3 * 4096
    pool = report["pools"][0]
    for field in (
        "arch",
        "base_page_bytes",
        "hugepage_bytes",
        "hugepages",
        "struct_page_bytes",
        "hvo_active",
        "reason",
        "per_hugepage",
        "vmemmap_pages",
        "reserved_pages",
        "freed_pages",
        "pagetable_pages",
        "saved_pages",
        "saved_bytes",
    ):
        assert field in pool and field in totals
    assert pool["per_hugepage"] == {
        "struct_pages": 262144,
        "vmemmap_bytes": 16 << 20,
        "vmemmap_pages": 4096,
        "reserved_pages": 2,
        "freed_pages": 4094,
    }


def test_arm64_json_says_why_and_what_hvo_would_free():
    result = invoke("plan", "--arch", "arm64", "--page", "64K", "--huge", "512M", "--count", "64", "--format", "json")
    pool = json.loads(result.output)["pools"][0]
    assert pool["hvo_active"] is False and pool["freed_pages"] == 0 and "6.3" in pool["reason"]
    expected = {
        "freed_pages": 448,
        "pagetable_pages": 0,
        "saved_pages": 448,
        "saved_bytes": 448 * 65536,
        "kernel": "6.2",
    }
    assert {key: pool["would_free"][key] for key in expected} == expected


def test_kmsan_struct_page_is_reported_not_refused():
    result = invoke("plan", "--struct-page-size", "80", "--huge", "2M", "--count", "4", "--format", "json")
    assert result.exit_code == 0
    assert "not a power of two" in json.loads(result.output)["pools"][0]["reason"]


def test_json_is_deterministic_and_uncoloured():
    first, second = hvo_calc("plan", "--format", "json"), hvo_calc("plan", "--format", "json")
    assert first.stdout == second.stdout and "\x1b[" not in first.stdout and first.stderr == ""


def test_table_in_a_pipe_has_no_colour():
    out = hvo_calc("plan")
    assert out.returncode == 0 and "\x1b[" not in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["plan", "--arch", "sparc"], "unknown architecture 'sparc'; accepted: arm64"),
        (["plan", "--arch", "arm64", "--page", "8K"], "arm64 has no 8K base page; accepted: 4K, 16K, 64K"),
        (["plan", "--huge", "4M"], "x86-64 4K has no 4M hugepages; accepted: 2M, 1G"),
        (
            ["plan", "--arch", "arm64", "--page", "64K", "--huge", "1G"],
            "arm64 64K has no 1G hugepages; accepted: 2M, 512M, 16G",
        ),
        (["plan", "--huge", "2Q"], "is not a size"),
        (["plan", "--count", "0"], "0 is not in the range x>=1"),
        (["plan", "--kernel", "9.9"], "unknown kernel version '9.9'"),
        (["plan", "--kernel", "six"], "unknown kernel version 'six'"),
        (["plan", "--huge", "1G", "--count", "70000"], "can address at most 64.00 TiB"),
        (["plan", "--format", "xml"], "is not one of"),
        (["plan", "--struct-page-size", "0"], "--struct-page-size"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    out = hvo_calc(*args)
    assert out.returncode == 2, out
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in out.stderr


def test_profiles_lists_every_architecture():
    result = invoke("profiles", "--format", "json")
    names = {(p["arch"], p["base_page"]) for p in json.loads(result.output)}
    assert names >= {("x86-64", "4K"), ("arm64", "4K"), ("arm64", "16K"), ("arm64", "64K")}


def test_every_command_explains_its_options_with_an_example():
    for command in ("plan", "profiles"):
        text = invoke(command, "--help").output
        assert "Example" in text and "--format" in text


def test_dependency_floors_are_the_versions_ci_tests():
    """pyproject.toml's floors and .ci/constraints-min.txt (what CI installs) say the same."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement).groups()
        floors[name.lower()] = tuple(int(part) for part in version.split("."))
    pins = {}
    for line in (root / ".ci" / "constraints-min.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = tuple(int(part) for part in version.split("."))
    assert pins.keys() == floors.keys()
    for name, pin in pins.items():
        floor = floors[name] + (0,) * (len(pin) - len(floors[name]))
        assert pin == floor, f"{name}: pyproject.toml allows {floors[name]}, CI tests {pin}"


def test_help_names_the_host_options_and_the_kernel_spellings():
    text = " ".join(invoke("plan", "--help").output.split())
    assert "release: mainline MAJOR.MINOR (7.3), stable (6.12.58), uname -r (6.12.118+deb13-amd64) or latest" in text
    assert "--paging [3|4|5]" in text and "--mmu [radix|hash]" in text


def test_paging_and_mmu_reach_the_plan():
    five = invoke("plan", "--arch", "x86_64", "--paging", "5", "--huge", "2M", "--format", "json")
    assert five.exit_code == 0, five.output
    wrong = hvo_calc("plan", "--mmu", "hash", "--huge", "2M")
    assert wrong.returncode == 2 and len(wrong.stderr.splitlines()) == 1 and "MMU" in wrong.stderr


def test_bare_command_prints_the_help_and_exits_0():
    """Bare `hvo-calc` is `--help`, on every click the floors allow (8.2+ made it a usage error)."""
    bare, help_ = hvo_calc(), hvo_calc("--help")
    assert bare.returncode == 0 and bare.stderr == ""
    assert bare.stdout == help_.stdout
    assert bare.stdout.startswith("Usage: hvo-calc [OPTIONS] COMMAND [ARGS]...\n") and "\\n" not in bare.stdout


def test_version_names_the_schema_versions_and_the_newest_release():
    import importlib
    import tomllib

    from hvo_calc import __version__
    from hvo_calc.cli import SCHEMA_VERSIONS
    from hvo_calc.kernels import parse_release
    from hvo_calc.profiles import config_dir

    declared = {
        report: getattr(importlib.import_module("hvo_calc." + source.removesuffix(".py").replace("/", ".")), name)
        for report, source, name in SCHEMA_VERSIONS
    }
    assert {"plan", "inspect", "explain", "compare"} <= declared.keys()
    from hvo_calc.models import SCHEMA_VERSION

    assert declared["plan"] == SCHEMA_VERSION
    out = hvo_calc("--version")
    newest = tomllib.loads((config_dir() / "kernel.toml").read_text())["releases"][-1]
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        f"hvo-calc {__version__}",
        "JSON schemas: " + ", ".join(f"{report} {version}" for report, version in declared.items()),
        f"newest kernel release known: {newest}",
    ]
    assert parse_release("latest") == parse_release(newest)


CLICK = tuple(int(part) for part in installed_version("click").split(".")[:2])


def _modules_loaded(*args: str) -> set[str]:
    """The modules `hvo-calc ARGS` has imported by the time it exits."""
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.__stderr__.write(' '.join(sys.modules)))\n"
        f"sys.argv = ['hvo-calc', *{list(args)!r}]\n"
        "from hvo_calc.cli import main\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stderr.split())


@pytest.mark.parametrize("args", [(), ("--help",), ("--version",)])
def test_help_and_version_import_no_command_and_no_heavy_library(args):
    loaded = _modules_loaded(*args)
    assert not {"pydantic", "numpy", "rich"} & {name.split(".")[0] for name in loaded}
    assert not {f"hvo_calc.cli.{module}" for module, _ in COMMANDS.values()} & loaded


@pytest.mark.parametrize("columns, widest", [("60", 58), ("200", 98), ("junk", 78)])
def test_help_is_as_wide_as_columns_says_up_to_100_without_shutil(columns, widest):
    """Help wraps where click would put it (COLUMNS, else the terminal, else 80; at most 100,
    less 2), found without importing shutil and the archive modules it brings."""
    env = {**os.environ, "COLUMNS": columns}
    out = subprocess.run([sys.executable, "-m", "hvo_calc", "--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and max(len(line) for line in out.stdout.splitlines()) == widest
    if CLICK >= (8, 2):  # click 8.1's formatter imports shutil whatever the width it is given
        assert "shutil" not in _modules_loaded("--help")


def test_a_command_imports_its_own_module_only():
    loaded = _modules_loaded("profiles", "--format", "json")
    commands = {f"hvo_calc.cli.{module}" for module, _ in COMMANDS.values()}
    assert commands & loaded == {"hvo_calc.cli.profiles"}


def test_every_command_is_listed_and_every_listed_command_exists():
    """The help's command list (`COMMANDS`) and the commands the modules register agree."""
    from pkgutil import iter_modules

    import hvo_calc.cli

    for module in iter_modules(hvo_calc.cli.__path__):  # a module that registers a command not listed
        __import__(f"hvo_calc.cli.{module.name}")
    assert set(cli.commands) == set(COMMANDS)
    listed = invoke("--help").output
    for name in COMMANDS:
        assert f"\n  {name} " in listed


def test_no_pydantic_model_is_built_when_the_commands_are_imported():
    """Every command's module imported, no model class has built its validator yet: each is
    built when first used (`defer_build`), so a command pays only for the models it touches."""
    code = (
        "import pkgutil, hvo_calc.cli\n"
        "for m in pkgutil.iter_modules(hvo_calc.cli.__path__): __import__(f'hvo_calc.cli.{m.name}')\n"
        "from pydantic import BaseModel\n"
        "def subs(k):\n"
        "    for s in k.__subclasses__(): yield s; yield from subs(s)\n"
        "print(' '.join(s.__qualname__ for s in subs(BaseModel) if s.__dict__.get('__pydantic_complete__')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == []
