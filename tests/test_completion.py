"""Shell completion offers values, through click's own completion API, as a shell asks for
them; what it offers is checked against the data it must come from (the profiles, the
kernel data, the renderers), and against what the commands accept."""

import os
import subprocess
import sys

import pytest
from click.shell_completion import ShellComplete

from hvo_calc.cli import _register, cli
from hvo_calc.kernels import kernel_data
from hvo_calc.profiles import all_profiles, find_profile
from hvo_calc.reports import MACHINE_FORMATS, RENDERERS
from hvo_calc.units import short_size

_register()


def offered(*words: str, incomplete: str = "") -> list[str]:
    """What completion offers after `hvo-calc WORDS`, for the word being typed."""
    complete = ShellComplete(cli, {}, "hvo-calc", "_HVO_CALC_COMPLETE")
    return [item.value for item in complete.get_completions(list(words), incomplete)]


def test_architectures_and_uname_machine_names():
    values = offered("plan", "--arch")
    assert set(values) == {p.arch for p in all_profiles()} | {m for p in all_profiles() for m in p.uname_machine}
    assert {"x86-64", "x86_64", "arm64", "aarch64"} <= set(values)
    assert offered("plan", "--arch", incomplete="a") == ["arm64", "aarch64"]
    assert offered("check", "--arch", incomplete="X8") == ["x86-64", "x86_64"]


@pytest.mark.parametrize("arch", ["arm64", "aarch64", "x86_64", "powerpc64"])
def test_page_sizes_are_the_chosen_architectures(arch):
    canonical = find_profile(arch).arch
    expected = list(dict.fromkeys(short_size(p.base_page) for p in all_profiles() if p.arch == canonical))
    assert offered("plan", "--arch", arch, "--page") == expected


def test_page_sizes_default_to_the_default_architecture():
    assert offered("plan", "--page") == ["4K"]  # x86-64


@pytest.mark.parametrize(
    "args, profile",
    [
        (("--arch", "arm64", "--page", "64K"), ("arm64", 65536, None, None)),
        (("--arch", "aarch64"), ("arm64", None, None, None)),
        ((), ("x86-64", None, None, None)),
        (("--arch", "ppc64le", "--page", "64K", "--mmu", "hash"), ("powerpc64", 65536, None, "hash")),
    ],
)
def test_hugepage_sizes_are_the_chosen_profiles(args, profile):
    arch, page, paging, mmu = profile
    chosen = find_profile(arch, page, paging, mmu)
    expected = [short_size(h.size) for h in sorted(chosen.hugepage, key=lambda h: h.size)]
    for command in ("plan", "check", "explain"):
        assert offered(command, *args, "--huge") == expected


def test_arm64_64k_offers_512m_and_its_4k_default_does_not():
    assert "512M" in offered("plan", "--arch", "arm64", "--page", "64K", "--huge")
    assert "512M" not in offered("plan", "--arch", "arm64", "--huge")
    assert offered("plan", "--arch", "arm64", "--page", "64K", "--huge", incomplete="5") == ["512M"]


def test_unknown_architecture_or_page_offers_nothing():
    assert offered("plan", "--arch", "sparc", "--huge") == []
    assert offered("plan", "--arch", "sparc", "--page") == []
    assert offered("plan", "--arch", "arm64", "--page", "8K", "--huge") == []


def test_kernel_releases_newest_first_and_latest():
    releases = kernel_data().releases
    assert offered("plan", "--kernel") == ["latest", *reversed(releases)]
    assert offered("check", "--kernel", incomplete="6.1") == [r for r in reversed(releases) if r.startswith("6.1")]
    assert "7.3" in releases and "5.14" in releases


def test_known_issue_ids():
    ids = [issue.id for issue in kernel_data().known_issue]
    assert ids and offered("check", "--allow-known-issue") == ids
    assert "hvo-bad-page-state-6.12.115" in ids


@pytest.mark.parametrize("command", ["plan", "check", "inspect"])
def test_report_formats(command):
    assert offered(command, "--format") == sorted(RENDERERS)
    complete = ShellComplete(cli, {}, "hvo-calc", "_HVO_CALC_COMPLETE")
    helps = {i.value: i.help for i in complete.get_completions([command, "--format"], "")}
    assert {v for v, h in helps.items() if h == "for machines"} == set(MACHINE_FORMATS) & set(RENDERERS)


@pytest.mark.parametrize("command, formats", [("explain", ["table", "json"]), ("profiles", ["table", "json"])])
def test_each_commands_own_formats(command, formats):
    assert offered(command, "--format") == formats


def test_every_offered_value_is_accepted(run):
    """A value completion offers is one the command takes (exit 0)."""
    for huge in offered("plan", "--arch", "arm64", "--page", "64K", "--huge"):
        assert run("plan", "--arch", "arm64", "--page", "64K", "--huge", huge, "--format", "json").exit_code == 0
    for arch in offered("plan", "--arch"):
        assert (
            run(
                "plan", "--arch", arch, "--huge", offered("plan", "--arch", arch, "--huge")[0], "--format", "json"
            ).exit_code
            == 0
        )
    assert (
        run("check", "--allow-known-issue", offered("check", "--allow-known-issue")[0], "--huge", "2M").exit_code == 0
    )


def test_commands_complete_and_bash_gets_values():
    """Commands in-process; a value as bash asks for it (test_formats checks the script itself)."""
    assert offered(incomplete="p") == ["plan", "profiles"]
    asked = {"_HVO_CALC_COMPLETE": "bash_complete", "COMP_WORDS": "hvo-calc plan --arch a", "COMP_CWORD": "3"}
    words = subprocess.run(
        [sys.executable, "-m", "hvo_calc"], capture_output=True, text=True, env={**os.environ, **asked}
    )
    assert words.returncode == 0 and words.stdout.split() == ["plain,arm64", "plain,aarch64"]
