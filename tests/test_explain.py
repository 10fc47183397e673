"""`hvo-calc explain`: one hugepage's vmemmap before and after HVO, read from the model."""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import hvo_calc.explain as explain_module
from hvo_calc.engine import HugepageGeometry
from hvo_calc.explain import explain
from hvo_calc.frames import BUDDY
from hvo_calc.pagetable import LEAF, PFN_SHIFT, Ranges
from hvo_calc.planner import new_model
from hvo_calc.profiles import find_profile
from hvo_calc.reports.explain_json import render as render_json
from hvo_calc.reports.explain_text import render as render_text
from hvo_calc.verify import walk_entries
from hvo_calc.vmemmap import vmemmap_remap_free


def run_json(run, *args: str) -> dict:
    result = run("explain", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def pages(hugepage: dict) -> dict[int, dict]:
    return {p["index"]: p for p in hugepage["pages"]}


def test_2m_on_7_3_head_copy_and_one_shared_tail_page_for_both_hugepages(run):
    data = run_json(run, "--huge", "2M", "--kernel", "7.3")
    assert data["hvo_active"] is True and data["reason"] is None
    assert data["vmemmap_pages"] == 8 and data["simulated_hugepages"] == 2
    shared = data["shared_tail_pfn"]
    assert shared is not None and data["shared_tail"] == {"node": 0, "zone": "normal", "order": 9, "pfn": shared}
    seen_heads = set()
    for hugepage in data["hugepages"]:
        drawn = pages(hugepage)
        assert sorted(drawn) == list(range(8)) and hugepage["elided"] == []
        head = drawn[0]
        assert head["after"]["role"] == "head-copy" and head["after"]["flags"] == "RW"
        assert head["after"]["copy_of"] == head["before"]["pfn"] != head["after"]["pfn"]
        assert hugepage["allocated_pfns"] == [head["after"]["pfn"]]
        seen_heads.add(head["after"]["pfn"])
        for j in range(1, 8):
            tail = drawn[j]
            assert tail["after"] == {"pfn": shared, "flags": "RO", "via": "pte", "role": "tail", "maps": "shared-tail"}
            assert tail["before"]["flags"] == "RW" and tail["before"]["via"] == "pmd-leaf" and tail["freed"]
        assert hugepage["tails_map"] == "shared-tail" and hugepage["tails_pfn"] == shared
        before = [drawn[j]["before"]["pfn"] for j in range(8)]
        assert hugepage["freed_pages"] == 8 and hugepage["freed_pfn_ranges"] == [[before[0], before[-1]]]
        assert before == list(range(before[0], before[0] + 8))
    assert len(seen_heads) == 2  # a private copy each
    (split,) = data["pmd_splits"]
    assert split["hugepages"] == [0, 1] and split["before"]["kind"] == "leaf" and split["after"]["kind"] == "table"
    assert split["table_pfn"] == split["after"]["pfn"] not in (shared, *seen_heads)


def test_2m_on_7_3_text(run):
    result = run("explain", "--huge", "2M", "--kernel", "7.3")
    assert result.exit_code == 0 and result.stderr == ""
    text = result.stdout
    data = run_json(run, "--huge", "2M", "--kernel", "7.3")
    shared = f"{data['shared_tail_pfn']:#x}"
    first = data["hugepages"][0]["pages"][0]
    assert f"head copy (copy of {first['before']['pfn']:#x})" in text
    assert (
        len(re.findall(rf"->\s+{shared} RO", text)) == 7 + 1
    )  # hugepage 0's tails one by one, hugepage 1's as one run
    assert "7 tails -> the same shared tail page as hugepage 0" in text
    assert f"table in frame {data['pmd_splits'][0]['table_pfn']:#x}" in text
    assert "freed: 8 frames" in text and "Shared tail page:" in text


def test_2m_on_6_1_tails_map_the_head_pages_own_frame(run):
    data = run_json(run, "--huge", "2M", "--kernel", "6.1")
    assert data["shared_tail_pfn"] is None
    targets = set()
    for hugepage in data["hugepages"]:
        drawn = pages(hugepage)
        head = drawn[0]
        assert head["after"]["role"] == "head" and "copy_of" not in head["after"] and not head["freed"]
        assert head["after"]["pfn"] == head["before"]["pfn"] and head["after"]["flags"] == "RW"
        for j in range(1, 8):
            assert drawn[j]["after"]["pfn"] == head["before"]["pfn"] and drawn[j]["after"]["flags"] == "RO"
            assert drawn[j]["after"]["maps"] == "head"
        assert hugepage["freed_pages"] == 7 and hugepage["allocated_pfns"] == []
        targets.add(hugepage["tails_pfn"])
    assert len(targets) == 2 and len(data["pmd_splits"]) == 1


def test_2m_on_5_14_keeps_two_pages_and_tails_map_the_second(run):
    data = run_json(run, "--huge", "2M", "--kernel", "5.14")
    hugepage = data["hugepages"][0]
    drawn = pages(hugepage)
    assert [drawn[j]["after"]["role"] for j in range(8)] == ["head", "kept"] + ["tail"] * 6
    for j in (0, 1):
        assert drawn[j]["after"]["pfn"] == drawn[j]["before"]["pfn"] and drawn[j]["after"]["flags"] == "RW"
    assert hugepage["tails_map"] == "kept" and hugepage["tails_pfn"] == drawn[1]["before"]["pfn"]
    assert all(drawn[j]["after"]["pfn"] == drawn[1]["before"]["pfn"] for j in range(2, 8))
    assert hugepage["freed_pages"] == 6 and hugepage["kept_pages"] == 2
    text = run("explain", "--huge", "2M", "--kernel", "5.14").stdout
    assert "kept (the tails map it)" in text and "tail -> the second kept page" in text


def test_2m_on_6_12_head_copy_which_the_tails_map(run):
    data = run_json(run, "--huge", "2M", "--kernel", "6.12")
    assert data["shared_tail_pfn"] is None
    copies = []
    for hugepage in data["hugepages"]:
        drawn = pages(hugepage)
        head = drawn[0]
        assert head["after"]["role"] == "head-copy" and head["after"]["copy_of"] == head["before"]["pfn"]
        assert head["freed"] and hugepage["freed_pages"] == 8
        assert hugepage["tails_map"] == "head-copy" and hugepage["tails_pfn"] == head["after"]["pfn"]
        assert all(drawn[j]["after"]["pfn"] == head["after"]["pfn"] for j in range(1, 8))
        copies.append(head["after"]["pfn"])
    assert copies[0] != copies[1]


def test_1g_on_7_3_elides_the_long_run_and_counts_it(run):
    data = run_json(run, "--huge", "1G", "--kernel", "7.3")
    hugepage = data["hugepages"][0]
    assert data["vmemmap_pages"] == 4096 and hugepage["vmemmap_pages"] == 4096
    drawn = [p["index"] for p in hugepage["pages"]]
    (elided,) = hugepage["elided"]
    assert drawn == [0, 1, 2, 4095]
    assert elided["first_index"] == 3 and elided["count"] == 4092 and len(drawn) + elided["count"] == 4096
    assert elided["role"] == "tail" and elided["after"]["first_pfn"] == data["shared_tail_pfn"]
    assert elided["before"]["last_pfn"] - elided["before"]["first_pfn"] == 4091
    assert hugepage["freed_pages"] == 4096 and len(data["pmd_splits"]) == 16
    text = run("explain", "--huge", "1G", "--kernel", "7.3").stdout
    assert "... 4,092 more tails -> the shared tail page" in text
    assert "4,095 tails -> the same shared tail page as hugepage 0" in text
    assert "13 more splits" in text
    assert len(text.splitlines()) < 60


def test_arm64_64k_512m_says_why_and_draws_every_page_kept(run):
    data = run_json(run, "--arch", "arm64", "--page", "64K", "--huge", "512M")
    assert data["hvo_active"] is False and "6.3" in data["reason"] and data["vmemmap_mapped_by"] == "pte"
    assert data["pmd_splits"] == [] and data["shared_tail_pfn"] is None
    for hugepage in data["hugepages"]:
        drawn = pages(hugepage)
        assert len(drawn) == 8 and hugepage["freed_pages"] == 0 and hugepage["tails_map"] is None
        for page in drawn.values():
            assert page["after"]["pfn"] == page["before"]["pfn"] and page["after"]["flags"] == "RW"
            assert page["after"]["role"] in ("head", "kept") and not page["freed"]
        assert len({p["after"]["pfn"] for p in drawn.values()}) == 8  # each on its own frame
    text = run("explain", "--arch", "arm64", "--page", "64K", "--huge", "512M").stdout
    assert "No HVO: Linux 7.3 on arm64" in text and "freed: nothing" in text and " RO" not in text


@pytest.mark.parametrize(
    "args, why",
    [
        (("--struct-page-size", "56"), "not a power of two"),
        (("--arch", "riscv64", "--huge", "64K"), "nothing to free"),
        (("--hvo", "off"), "switched off"),
    ],
)
def test_no_hvo_reasons_come_from_the_planner(run, args, why):
    data = run_json(run, *args)
    assert data["hvo_active"] is False and why in data["reason"]
    assert all(h["freed_pages"] == 0 for h in data["hugepages"])


def test_hugepages_sharing_one_vmemmap_page_are_drawn_so(run):
    data = run_json(run, "--arch", "arm64", "--page", "64K", "--huge", "2M")
    assert data["vmemmap_pages"] == 0
    first, second = (h["pages"][0] for h in data["hugepages"])
    assert first["vaddr"] == second["vaddr"] and first["after"]["pfn"] == second["after"]["pfn"]
    assert (
        "the same vmemmap page as hugepage 0"
        in run("explain", "--arch", "arm64", "--page", "64K", "--huge", "2M").stdout
    )


def direct_walk(kernel_copy: bool, shared: bool, reserve: int):
    """2 x 2M hugepages on x86-64, populated and remapped with the engine's primitives
    (not explain's window), and the verifier's walk of the result."""
    profile = find_profile("x86-64")
    geometry = HugepageGeometry(2 << 20, 4096, 64)
    frames, pt = new_model(profile, 64)
    start, stride, v = profile.vmemmap_start, geometry.vmemmap_bytes, geometry.vmemmap_pages
    keys = pt.populate_pmd_leaves(Ranges(start, 0, 1, 2 * v)).keys
    pmd_before, before = walk_entries(pt, keys, copy=True)
    tail = frames.vmemmap_tail((0, "normal", 9), BUDDY)[0] if shared else None
    ranges = Ranges(start + reserve * 4096, stride, 2, v - reserve)
    vmemmap_remap_free(pt, ranges, ranges.start - 4096, frames, kernel_copy, tail)
    pmd_after, after = walk_entries(pt, keys, copy=True)
    return pmd_before, before, pmd_after, after, tail


@pytest.mark.parametrize(
    "kernel, copy, shared, reserve",
    [
        ("7.3", True, True, 1),
        ("6.12", True, False, 1),
        ("6.1", False, False, 1),
        ("5.14", False, False, 2),
    ],
)
def test_json_pfns_are_what_the_model_holds(run, kernel, copy, shared, reserve):
    data = run_json(run, "--huge", "2M", "--kernel", kernel)
    pmd_before, before, pmd_after, after, tail = direct_walk(copy, shared, reserve)
    for hugepage in data["hugepages"]:
        for page in hugepage["pages"]:
            j = hugepage["index"] * 8 + page["index"]
            assert page["before"]["pfn"] == int(before[j] >> PFN_SHIFT)
            assert page["after"]["pfn"] == int(after[j] >> PFN_SHIFT)
            assert page["after"]["flags"] == ("RW" if int(after[j]) & 2 else "RO")
    assert data["shared_tail_pfn"] == tail
    (split,) = data["pmd_splits"]
    assert int(pmd_before[0]) & int(LEAF) and not int(pmd_after[0]) & int(LEAF)
    assert split["table_pfn"] == int(pmd_after[0] >> PFN_SHIFT)
    assert split["before"]["pfn"] == int(pmd_before[0] >> PFN_SHIFT)


def test_explanation_agrees_with_its_own_arrays():
    ex = explain("x86-64", huge="1G", kernel="7.3")
    for h in ex.hugepages:
        shown = h.shown()
        assert sum(1 if isinstance(item, explain_module.Page) else item.count for item in shown) == len(h) == 4096
        assert np.array_equal(h.freed_pfns, np.sort(h.before >> PFN_SHIFT))


def test_plain_when_piped_or_no_color_and_styled_on_a_terminal(run, monkeypatch):
    assert "\x1b" not in run("explain").stdout
    assert "\x1b" not in run("explain", env={"NO_COLOR": "1"}).stdout
    ex = explain("x86-64")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    styled = render_text(ex)
    assert "\x1b[" in styled
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in render_text(ex)


def test_json_is_deterministic_and_never_coloured(run):
    first, second = run("explain", "--format", "json"), run("explain", "--format", "json")
    assert first.stdout == second.stdout and "\x1b" not in first.stdout and first.stderr == ""
    assert json.loads(first.stdout)["schema_version"] == "1.0"


def test_output_file_gets_the_plain_drawing(run, tmp_path):
    target = tmp_path / "explain.txt"
    result = run("explain", "--huge", "2M", "--output", str(target))
    assert result.exit_code == 0 and result.stdout == ""
    text = target.read_text()
    assert "\x1b" not in text and "head copy" in text
    json_target = tmp_path / "explain.json"
    assert run("explain", "--format", "json", "-o", str(json_target)).exit_code == 0
    assert json.loads(json_target.read_text())["hugepage_size"] == "2M"


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--huge", "3M"), "no 3M hugepages"),
        (("--kernel", "9.9"), "unknown kernel version"),
        (("--arch", "sparc"), "unknown architecture"),
        (("--page", "8K"), "no 8K base page"),
        (("--struct-page-size", "2000"), "more than a third"),
        (("--huge", "lots"), "is not a size"),
        (("--format", "csv"), "--format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run, args, needle):
    result = run("explain", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and needle in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--huge", "1G"),
        ("--arch", "s390x", "--huge", "2G", "--kernel", "6.12"),
        ("--arch", "arm64", "--page", "64K", "--huge", "16G", "--kernel", "6.1"),
        ("--arch", "powerpc64", "--mmu", "hash", "--page", "64K", "--huge", "16G"),
    ],
)
def test_large_hugepages_are_fast(args):
    options = dict(zip((a.lstrip("-").replace("-", "_") for a in args[::2]), args[1::2]))
    options["base_page"] = options.pop("page", None)
    start = time.perf_counter()
    ex = explain(options.pop("arch", "x86-64"), **options)
    render_text(ex), render_json(ex)
    assert time.perf_counter() - start < 0.5


def test_the_real_command_line_draws_it():
    result = subprocess.run(
        [sys.executable, "-m", "hvo_calc", "explain", "--huge", "2M", "--kernel", "7.3"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": ""},
        check=False,
    )
    assert result.returncode == 0 and "\x1b" not in result.stdout and "tail -> the shared tail page" in result.stdout
