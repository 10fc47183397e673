"""Kernel data: every era boundary on both sides, release strings, stable backports, known
issues. Expected values are the facts of shared/reference/kernels-2026.md and hvo-facts.md
written out here, never values read back from kernel.toml."""

import pytest

from hvo_calc.errors import InputError
from hvo_calc.kernels import (
    behaviour,
    hvo_releases,
    last_release_with_hvo,
    parse_release,
    read_kernel_data,
    stable_releases_without_hvo,
    would_be_behaviour,
)
from hvo_calc.profiles import config_dir, find_profile, read_toml
from hvo_calc.record import RecordError

ACCEPTED = (
    "accepted: 5.10 to 7.3 (MAJOR.MINOR), a stable release such as 6.12.58, "
    "a uname -r string such as 6.12.118+deb13-amd64, or latest"
)


# -- behaviour eras: (key, release before the change, value, release of the change, value) --

ERAS = [
    ("reserve_pages", "5.17", 2, "5.18", 1),  # RESERVE_VMEMMAP_NR 2 -> HUGETLB_VMEMMAP_RESERVE_SIZE
    ("head_page_copy", "6.1", False, "6.2", True),  # kept head replaced by a fresh copy
    ("restore_policy", "6.3", "same-node", "6.4", "same-node-retry"),
    ("restore_policy", "6.6", "same-node-retry", "6.7", "any-node"),
    ("restore_gfp", "6.3", "__GFP_NORETRY | __GFP_THISNODE", "6.4", "__GFP_RETRY_MAYFAIL | __GFP_THISNODE"),
    ("restore_gfp", "6.6", "__GFP_RETRY_MAYFAIL | __GFP_THISNODE", "6.7", "GFP_KERNEL | __GFP_RETRY_MAYFAIL"),
    ("restore_same_node", "6.6", True, "6.7", False),
    ("tlb_flush", "6.6", "per-hugepage", "6.7", "per-batch"),
    ("boot_preoptimize", "6.14", False, "6.15", True),  # x86-64 only
    ("shared_tail_page", "7.0", False, "7.1", True),  # one shared read-only tail page per (zone, order)
    ("head_copy_mandatory", "7.0", False, "7.1", True),  # no head copy: the hugepage stays unoptimized
]


@pytest.mark.parametrize("key, before, old, changed, new", ERAS)
def test_each_behaviour_changes_exactly_at_its_release(key, before, old, changed, new):
    assert getattr(behaviour(before, "x86-64"), key) == old
    assert getattr(behaviour(changed, "x86-64"), key) == new


@pytest.mark.parametrize(
    "before, old, changed, new",
    [
        (
            "5.18",
            "HugeTLB: can free {pages} vmemmap pages for hugepages-{size_kib}kB",
            "5.19",
            "HugeTLB: can optimize {pages} vmemmap pages for hugepages-{size_kib}kB",
        ),
        (
            "5.19",
            "HugeTLB: can optimize {pages} vmemmap pages for hugepages-{size_kib}kB",
            "6.0",
            "HugeTLB: {kib} KiB vmemmap can be freed for a {size} page",
        ),
    ],
)
def test_boot_line_changes_at_5_19_and_6_0(before, old, changed, new):
    assert behaviour(before, "x86-64").boot_line == old
    assert behaviour(changed, "x86-64").boot_line == new


def test_restore_policy_before_6_4_is_same_node_without_retry():
    kernel = behaviour("5.14", "x86-64")
    assert (kernel.restore_policy, kernel.restore_same_node) == ("same-node", True)


def test_pmd_leaves_are_split_on_demand_from_the_first_hvo_release():
    # The populate-with-base-pages approach never shipped (kernels-2026.md): the model splits
    # the vmemmap PMD leaf on demand from 5.14 on (the data no longer holds a table for it).
    from hvo_calc.planner import PlanRequest, PoolRequest, plan

    for version in ("5.14", "5.15", "6.1", "latest"):
        (pool,) = plan(PlanRequest(kernel=version, pools=(PoolRequest(hugepage_size=2 << 20, count=8),))).pools
        assert (pool.split_pmds, pool.pagetable_pages) == (1, 1), version
    assert "vmemmap_pmd" not in kernel_toml()


def test_boot_preoptimize_is_x86_64_only_and_covers_5_level_paging():
    five_level = find_profile("x86-64", paging=5)
    assert behaviour("6.15", five_level.arch).boot_preoptimize
    assert not any(behaviour("7.3", arch).boot_preoptimize for arch in ("arm64", "riscv64", "loongarch64", "s390x"))


# -- HVO per architecture, mainline --

HVO_BOUNDARIES = [
    ("x86-64", "5.13", False, "5.14", True),
    ("arm64", "5.18", False, "5.19", True),
    ("arm64", "6.2", True, "6.3", False),
    ("riscv64", "6.3", False, "6.4", True),
    ("loongarch64", "6.1", False, "6.2", True),
    ("s390x", "6.1", False, "6.2", True),
    ("s390x", "6.17", True, "6.18", False),
]


@pytest.mark.parametrize("arch, before, had, changed, has", HVO_BOUNDARIES)
def test_hvo_starts_and_ends_per_architecture(arch, before, had, changed, has):
    assert behaviour(before, arch).hvo_available is had
    assert behaviour(changed, arch).hvo_available is has


def test_powerpc64_never_has_hvo_for_hugetlb():
    for release in ("5.10", "6.12", "latest"):
        kernel = behaviour(release, "powerpc64")
        assert not kernel.hvo_available
        assert "device-DAX" in kernel.why_unavailable and "never for HugeTLB" in kernel.why_unavailable


def test_arm64_stays_without_hvo_through_7_3_and_says_the_re_enable_is_not_merged():
    kernel = behaviour("7.3", "arm64")
    assert not kernel.hvo_available and "not merged" in kernel.why_unavailable


def test_hvo_releases_per_architecture():
    assert {
        arch: hvo_releases(arch) for arch in ("x86-64", "arm64", "riscv64", "loongarch64", "s390x", "powerpc64")
    } == {
        "x86-64": "5.14+",
        "arm64": "5.19-6.2",
        "riscv64": "6.4+",
        "loongarch64": "6.2+",
        "s390x": "6.2-6.17",
        "powerpc64": "never",
    }


# -- stable backports of HVO removal --


@pytest.mark.parametrize(
    "arch, kept, dropped",
    [
        ("s390x", "6.12.57", "6.12.58"),  # CVE-2025-68179
        ("s390x", "6.6.116", "6.6.117"),
        ("s390x", "6.17.7", "6.17.8"),
        ("arm64", "6.1.15", "6.1.16"),  # the 6.3 disable, in Linux 6.1.16
        ("arm64", "6.2.2", "6.2.3"),
    ],
)
def test_stable_point_release_drops_hvo(arch, kept, dropped):
    assert behaviour(kept, arch).hvo_available
    kernel = behaviour(dropped, arch)
    assert not kernel.hvo_available and dropped in kernel.why_unavailable


def test_distribution_strings_are_judged_by_their_point_release():
    assert not behaviour("6.12.58+deb13-s390x", "s390x").hvo_available
    assert behaviour("6.12.57+deb13-s390x", "s390x").hvo_available


def test_mainline_only_release_keeps_hvo_and_notes_the_stable_kernels_that_dropped_it():
    kernel = behaviour("6.12", "s390x")
    assert kernel.hvo_available and "6.12.58" in kernel.note and "stable" in kernel.note
    assert "6.1.16" in behaviour("6.1", "arm64").note


def test_stable_series_that_ended_before_the_disable_keep_hvo():
    # 5.19.y and 6.0.y reached end of life before the arm64 disable was backported.
    assert behaviour("5.19.17", "arm64").hvo_available and behaviour("6.0.19", "arm64").hvo_available
    assert behaviour("6.1.0-56-cloud-arm64", "arm64").hvo_available  # point unknown: the mainline's


def test_stable_releases_without_hvo_list_the_first_point_of_each_series():
    assert stable_releases_without_hvo("s390x") == ("6.6.117", "6.12.58", "6.17.8")
    assert stable_releases_without_hvo("arm64") == ("6.1.16", "6.2.3")
    assert stable_releases_without_hvo("x86-64") == ()


# -- known issues --


@pytest.mark.parametrize(
    "release, applies",
    [
        ("6.12.114", None),  # not in the range (it brought the backports, but was not measured)
        ("6.12.115", "yes"),
        ("6.12.117+deb13-amd64", "yes"),
        ("6.12.118", "yes"),
        ("6.12.119", None),
        ("6.12.113", None),  # measured fine
        ("6.12", "maybe"),  # only the mainline known
        ("6.1.0-56-cloud-amd64", None),  # Debian 6.1: point unknown, but 6.1 is not 6.12
        ("7.3.4+deb13-cloud-amd64", None),
    ],
)
def test_bad_page_state_on_6_12_115_to_118(release, applies):
    found = {issue.id: issue.applies for issue in behaviour(release, "x86-64").known_issues}
    assert found == ({} if applies is None else {"hvo-bad-page-state-6.12.115": applies})


def test_known_issue_names_its_range_condition_and_source():
    (issue,) = behaviour("6.12.118+deb13-amd64", "riscv64").known_issues
    assert (issue.first, issue.last, issue.condition) == ("6.12.115", "6.12.118", "hvo-on-shrink")
    assert "Bad page state" in issue.summary and "QEMU" in issue.source and "6.12.113" in issue.detail


def test_known_issue_covers_both_x86_64_paging_modes_and_not_other_arches():
    assert behaviour("6.12.116", find_profile("x86-64", paging=5).arch).known_issues
    assert behaviour("6.12.116", "arm64").known_issues == ()


# -- release strings --


@pytest.mark.parametrize(
    "text, mainline, point, normalised",
    [
        ("6.12", (6, 12), None, "6.12"),
        ("6.12.58", (6, 12), 58, "6.12.58"),
        ("6.12.118+deb13-amd64", (6, 12), 118, "6.12.118+deb13-amd64"),
        ("7.3.4+deb13-cloud-amd64", (7, 3), 4, "7.3.4+deb13-cloud-amd64"),
        ("6.1.0-56-cloud-amd64", (6, 1), None, "6.1.0-56-cloud-amd64"),  # Debian 6.1 ABI form
        ("6.12.0", (6, 12), 0, "6.12.0"),  # uname -r of a vanilla 6.12
        ("latest", (7, 3), None, "7.3"),
        (" 5.10 ", (5, 10), None, "5.10"),
    ],
)
def test_release_strings(text, mainline, point, normalised):
    release = parse_release(text)
    assert (release.mainline, release.point, release.text) == (mainline, point, normalised)


@pytest.mark.parametrize("text", ["7", "7.x", "99.1", "6.12.abc", "8.0", "4.19", "7.4", "6.12-rc1", "v6.12", "6.12."])
def test_unknown_or_malformed_releases_are_one_line_with_the_accepted_forms(text):
    with pytest.raises(InputError) as error:
        parse_release(text)
    message = str(error.value)
    assert message == f"unknown kernel version {text!r}; {ACCEPTED}" and "\n" not in message


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_release_is_refused(text):
    with pytest.raises(InputError) as error:
        parse_release(text)
    assert str(error.value) == f"kernel version is empty; {ACCEPTED}"


def test_a_disable_says_how_long_it_lasts_from_the_timeline():
    arm64 = behaviour("7.3", "arm64").why_unavailable
    assert arm64.endswith("and is not re-enabled through 7.3; the 2026 series to re-enable it is not merged")
    assert behaviour("6.19", "s390x").why_unavailable.endswith("(CVE-2025-68179) and is not re-enabled through 7.3")
    assert "re-enabled" not in behaviour("6.1", "s390x").why_unavailable + behaviour("5.10", "arm64").why_unavailable


def test_a_behaviour_table_missing_is_refused():
    data = kernel_toml()
    del data["tlb_flush"]
    with pytest.raises(RecordError, match=r"no \[tlb_flush\] table"):
        read_kernel_data(data)


def test_a_behaviour_value_of_the_wrong_type_is_refused():
    data = kernel_toml()
    data["reserve_pages"]["6.0"] = "two"
    with pytest.raises(RecordError, match="reserve_pages"):
        read_kernel_data(data)


def test_releases_run_to_7_3_and_latest_is_7_3():
    assert parse_release("latest").version == "7.3"
    assert [parse_release(v).version for v in ("7.1", "7.2", "7.3")] == ["7.1", "7.2", "7.3"]


def test_behaviour_keeps_the_mainline_and_the_release_as_given():
    kernel = behaviour("6.12.118+deb13-amd64", "x86-64")
    assert (kernel.version, kernel.release, kernel.point) == ("6.12", "6.12.118+deb13-amd64", 118)
    kernel = behaviour("latest", "x86-64")
    assert (kernel.version, kernel.release, kernel.point) == ("7.3", "7.3", None)


# -- what HVO would free where the kernel has none --


def test_would_be_behaviour_is_the_newest_release_with_hvo():
    assert last_release_with_hvo("arm64") == "6.2" and last_release_with_hvo("s390x") == "6.17"
    assert would_be_behaviour("arm64").version == "6.2" and not would_be_behaviour("arm64").hypothetical
    assert would_be_behaviour("x86-64").version == "7.3"


def test_would_be_behaviour_for_an_arch_that_never_had_hvo_is_hypothetical():
    assert last_release_with_hvo("powerpc64") is None
    kernel = would_be_behaviour("powerpc64")
    assert kernel.hvo_available and kernel.hypothetical and kernel.version == "7.3"
    assert "hypothetical" in kernel.note and kernel.why_unavailable == ""
    assert would_be_behaviour("sparc") is None


# -- the data file itself --


def kernel_toml() -> dict:
    return read_toml(config_dir() / "kernel.toml")


def test_a_table_keyed_by_an_unlisted_release_is_refused():
    data = kernel_toml()
    data["tlb_flush"]["9.9"] = "per-batch"
    with pytest.raises(RecordError, match="tlb_flush: 9.9 is not in releases"):
        read_kernel_data(data)


def test_a_restore_policy_without_a_description_is_refused():
    data = kernel_toml()
    del data["restore_policies"]["same-node-retry"]
    with pytest.raises(RecordError, match="restore_policies: no entry for same-node-retry"):
        read_kernel_data(data)


def test_a_known_issue_with_its_range_backwards_is_refused():
    data = kernel_toml()
    data["known_issue"][0] |= {"first": "6.12.118", "last": "6.12.115"}
    with pytest.raises(RecordError, match="first 6.12.118 is after last 6.12.115"):
        read_kernel_data(data)
