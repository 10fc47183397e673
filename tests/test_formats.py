"""Every --format through the CLI, parsed back with a real parser."""

import csv
import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hvo_calc.record import read, replace
from hvo_calc.reports import MACHINE_FORMATS, RENDERERS
from hvo_calc.reports.csv_report import columns

ANSI = re.compile(r"\x1b\[")
SMALL_2M = ("--arch", "x86-64", "--huge", "2M", "--count", "10")
SMALL_1G = ("--arch", "x86-64", "--huge", "1G", "--count", "2")
MACHINE = sorted(MACHINE_FORMATS)


def test_all_formats_registered():
    assert set(RENDERERS) == {"table", "json", "csv", "markdown", "prometheus"}
    assert MACHINE_FORMATS == {"json", "csv", "markdown", "prometheus"}


def test_json_values(run):
    result = run("plan", *SMALL_2M, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    pool = report["pools"][0]
    assert pool["hugepage_size"] == "2M" and pool["hugepages"] == 10
    assert pool["per_hugepage"]["vmemmap_pages"] == 8
    assert pool["per_hugepage"]["freed_pages"] == 7
    assert pool["freed_pages"] == 70
    assert report["totals"]["freed_pages"] == 70


def test_csv_rows_and_columns(run):
    result = run("plan", *SMALL_1G, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["row"] for row in rows] == ["pool", "node", "total"]
    pool, node, total = rows
    assert node["node"] == "0" and node["freed_pages"] == "8190" and node["pools"] == "1"
    assert pool["name"] == "1G-node0" and pool["hugepage_size"] == "1G"
    assert pool["per_hugepage_vmemmap_pages"] == "4096"
    assert pool["per_hugepage_freed_pages"] == "4095"
    assert pool["freed_pages"] == "8190"
    assert pool["hvo_active"] == "true" and pool["reason"] == ""
    assert pool["would_free_kernel"] == ""  # null nested model: empty cells, same columns
    assert total["freed_pages"] == "8190" and total["name"] == ""
    assert int(total["saved_bytes"]) == int(pool["saved_bytes"])
    assert list(rows[0]) == ["row", *columns(), "memory_bytes", "free_bytes", "pools"]
    assert not any("." in name or name.endswith("_") for name in columns())


def test_csv_flattens_would_free(run):
    result = run("plan", *SMALL_2M, "--kernel", "5.10", "--format", "csv")
    pool = next(csv.DictReader(io.StringIO(result.stdout)))
    assert pool["hvo_active"] == "false" and pool["freed_pages"] == "0"
    assert pool["would_free_freed_pages"] == "70"
    assert "5.14" in pool["reason"]


def test_markdown_pipe_table(run):
    result = run("plan", *SMALL_2M, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 4  # header, rule, one pool, total
    assert re.fullmatch(r"\|[-:| ]+\|", table[1])
    cells = [cell.strip() for cell in table[2].strip("|").split("|")]
    # the table's words and units: freed is 70 pages of 4 KiB (7 of 8 per 2M hugepage)
    assert cells[0] == "2M-node0" and cells[3] == "10" and cells[6] == "280.00 KiB"
    assert table[3].startswith("| **total**")


def _families(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_prometheus_parses_with_values(run):
    result = run("plan", *SMALL_2M, "--format", "prometheus")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    families = _families(text)
    assert all(family.type == "gauge" for family in families.values())
    for name in families:
        assert f"# HELP {name} " in text and f"# TYPE {name} gauge" in text
    (freed,) = families["hvo_calc_pool_freed_pages"].samples
    assert freed.value == 70
    assert freed.labels == {"arch": "x86-64", "node": "0", "hugepage_size": "2M", "pool": "2M-node0"}
    (each,) = families["hvo_calc_hugepage_freed_pages"].samples
    assert each.value == 7
    assert families["hvo_calc_pool_hvo_active"].samples[0].value == 1
    (saved,) = families["hvo_calc_total_saved_bytes"].samples
    # 70 freed, 1 split PTE table, and on 7.1+ (the default kernel) 1 shared tail page
    assert saved.labels == {"arch": "x86-64"} and saved.value == 68 * 4096
    (info,) = families["hvo_calc_build_info"].samples
    assert info.value == 1
    assert set(info.labels) == {"version", "schema_version", "kernel", "kernel_release"}
    assert info.labels["schema_version"] == json.loads(run("plan", "--format", "json").stdout)["schema_version"]
    for name in families:
        if name not in ("hvo_calc_build_info", "hvo_calc_known_issue"):
            assert re.search(r"_(bytes|pages|hugepages|active|pmds|flushes)$", name), name


def test_prometheus_1g_pool(run):
    families = _families(run("plan", *SMALL_1G, "--format", "prometheus").stdout)
    assert families["hvo_calc_hugepage_freed_pages"].samples[0].value == 4095
    assert families["hvo_calc_pool_freed_pages"].samples[0].value == 8190


def test_prometheus_label_escaping():
    from hvo_calc.reports.prometheus import _labels

    name = 'a"b\\c\nd'
    text = "m" + _labels({"pool": name}) + " 1\n"
    (family,) = text_string_to_metric_families(text)
    assert family.samples[0].labels == {"pool": name}


@pytest.mark.parametrize("fmt", MACHINE)
def test_machine_formats_deterministic_and_plain(run, fmt):
    args = ("plan", *SMALL_2M, "--format", fmt)
    first, second = run(*args, env={"FORCE_COLOR": "1"}), run(*args)
    assert first.exit_code == 0 and first.stdout == second.stdout
    assert first.stdout.endswith("\n")
    assert not ANSI.search(first.stdout)
    assert first.stderr == ""


def test_machine_formats_byte_identical_across_processes():
    """Two separate processes (fresh hash seeds) give the same bytes, on a tty-less pipe."""
    outputs = [
        subprocess.run(
            [sys.executable, "-m", "hvo_calc", "plan", *SMALL_2M, "--format", "prometheus"],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] and b"\x1b" not in outputs[0]


def test_table_honours_pipes(run):
    result = run("plan", *SMALL_2M)
    assert result.exit_code == 0 and "2M-node0" in result.stdout and not ANSI.search(result.stdout)


@pytest.mark.parametrize("fmt", ["json", "prometheus", "table"])
def test_output_file_matches_stdout(run, tmp_path, fmt):
    target = tmp_path / "hvo.out"
    result = run("plan", *SMALL_2M, "--format", fmt, "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert target.read_text() == run("plan", *SMALL_2M, "--format", fmt).stdout
    assert [p.name for p in tmp_path.iterdir()] == ["hvo.out"]  # no temporary file left


def test_output_dash_is_stdout(run):
    assert json.loads(run("plan", *SMALL_2M, "--format", "json", "-o", "-").stdout)["pools"][0]["freed_pages"] == 70


def test_output_replaces_atomically(run, tmp_path, monkeypatch):
    """The old file stays whole until os.replace swaps in the complete new one."""
    target = tmp_path / "hvo.prom"
    target.write_text("old\n")
    target.chmod(0o640)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((Path(src).name, Path(dst).read_text(), Path(src).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    result = run("plan", *SMALL_2M, "--format", "prometheus", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    ((temporary, before, written),) = seen
    assert temporary.startswith(".hvo.prom.") and temporary.endswith(".tmp")  # ignored by the collector
    assert before == "old\n"
    assert written == target.read_text() and _families(written)
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hvo.prom"]


def test_output_failure_leaves_old_file(run, tmp_path, monkeypatch):
    target = tmp_path / "hvo.prom"
    target.write_text("old\n")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    result = run("plan", *SMALL_2M, "--format", "prometheus", "--output", str(target))
    assert result.exit_code == 2
    assert "cannot write --output" in result.stderr
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hvo.prom"]


def test_output_to_missing_directory_is_bad_input(run, tmp_path):
    result = run("plan", *SMALL_2M, "--format", "json", "--output", str(tmp_path / "no" / "such.json"))
    assert result.exit_code == 2
    assert result.stderr.startswith("hvo-calc: error: cannot write --output")


def test_concurrent_reader_never_sees_partial_file(tmp_path):
    """A reader polling the file while it is rewritten sees only whole reports."""
    from hvo_calc.output import write_atomic

    target = tmp_path / "hvo.prom"
    bodies = ["# A\n" + "a 1\n" * 20000, "# B\n" + "b 2\n" * 20000]
    write_atomic(target, bodies[0])
    stop, seen = threading.Event(), set()

    def reader():
        while not stop.is_set():
            seen.add(target.read_text())

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(30):
        write_atomic(target, bodies[i % 2])
    stop.set()
    thread.join()
    assert seen <= set(bodies)


def test_shell_completion_script_and_candidates():
    env = {**os.environ, "_HVO_CALC_COMPLETE": "bash_source"}
    script = subprocess.run([sys.executable, "-m", "hvo_calc"], capture_output=True, text=True, env=env)
    assert script.returncode == 0 and "_hvo_calc_completion" in script.stdout
    env = {
        **os.environ,
        "_HVO_CALC_COMPLETE": "bash_complete",
        "COMP_WORDS": "hvo-calc check --format p",
        "COMP_CWORD": "3",
    }
    words = subprocess.run([sys.executable, "-m", "hvo_calc"], capture_output=True, text=True, env=env)
    assert words.returncode == 0 and "plain,prometheus" in words.stdout.splitlines()


def test_completion_of_commands_in_process():
    from click.shell_completion import ShellComplete

    from hvo_calc.cli import _register, cli

    _register()
    completion = ShellComplete(cli, {}, "hvo-calc", "_HVO_CALC_COMPLETE")
    names = {item.value for item in completion.get_completions([], "")}
    assert {"plan", "check", "schema", "profiles"} <= names
    options = {item.value for item in completion.get_completions(["check"], "--m")}
    assert {"--min-saved", "--max-vmemmap", "--max-overhead"} <= options


# --- schema 1.1: shared tail pages, memmap counters, known issues, the HVO hint ------------------------

KERNEL_73 = (*SMALL_2M, "--kernel", "7.3")
KERNEL_70 = (*SMALL_2M, "--kernel", "7.0")
BAD_PAGE = ("--arch", "x86-64", "--huge", "2M", "--count", "2", "--kernel", "6.12.117", "--shrink-to", "1")
MAYBE_BAD_PAGE = (*SMALL_2M, "--kernel", "6.12")
TWO_NODES = (
    "--config",
    str(Path(__file__).resolve().parent.parent / "configs" / "examples" / "x86-vm-host-2node.toml"),
)


def _json(run, *args):
    result = run("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _text(run, *args, fmt="table"):
    result = run("plan", *args, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _grid(text, first):
    """The rows of the first rich table at or after line `first`: header cells, then body rows."""
    lines = text.splitlines()[first:]
    header = next(line for line in lines if line.startswith("┃"))
    start = lines.index(header)
    body = []
    for line in lines[start + 1 :]:
        if line.startswith("│"):
            body.append([cell.strip() for cell in line.strip("│").split("│")])
        elif line.startswith("└"):
            break
    return [cell.strip() for cell in header.strip("┃").split("┃")], body


def test_table_shared_tail_column_only_on_kernels_with_one(run):
    (pool,) = _json(run, *KERNEL_73)["pools"]
    assert pool["shared_tail_pages"] == 1  # the premise: 7.1+ allocates one per node, zone and order
    header, rows = _grid(_text(run, *KERNEL_73), 0)
    at = header.index("shared tail")
    assert header[at + 1] == "saved"
    assert rows[0][at] == "4.00 KiB" and rows[1][0] == "total" and rows[1][at] == "4.00 KiB"
    assert _json(run, *KERNEL_70)["pools"][0]["shared_tail_pages"] == 0
    header, _ = _grid(_text(run, *KERNEL_70), 0)
    assert "shared tail" not in header


def test_table_node_shared_tail(run):
    report = _json(run, *TWO_NODES, "--kernel", "7.3")
    text = _text(run, *TWO_NODES, "--kernel", "7.3")
    start = text.splitlines().index(next(line for line in text.splitlines() if line.startswith("per node")))
    header, rows = _grid(text, start)
    at = header.index("shared tail")
    assert [row[at] for row in rows] == [f"{n['shared_tail_pages'] * 4}.00 KiB" for n in report["nodes"]]


def _lines(text, prefix):
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_table_known_issue_warning_names_release_range_and_pools(run):
    (issue,) = _json(run, *BAD_PAGE)["known_issues"]
    assert issue["applies"] == "yes" and issue["pools"] == ["2M-node0"]
    assert _lines(_text(run, *BAD_PAGE), "WARNING") == [
        f"WARNING: Linux 6.12.117 (6.12.115 to 6.12.118): {issue['summary']}; bites pools: 2M-node0"
    ]


def test_table_known_issue_maybe(run):
    (issue,) = _json(run, *MAYBE_BAD_PAGE)["known_issues"]
    assert issue["applies"] == "maybe" and issue["pools"] == []
    assert _lines(_text(run, *MAYBE_BAD_PAGE), "WARNING") == [
        f"WARNING: Linux 6.12 may be affected (6.12.115 to 6.12.118): {issue['summary']}; bites no pool of this plan"
    ]
    assert _json(run, *KERNEL_73)["known_issues"] == []
    assert _lines(_text(run, *KERNEL_73), "WARNING") == []


@pytest.mark.parametrize("args", [SMALL_2M, (*SMALL_2M, "--hvo", "off"), ("--arch", "arm64", "--huge", "2M")])
def test_table_hvo_enable_hint_as_one_line(run, args):
    hint = _json(run, *args)["host"]["hvo_enable_hint"]
    assert _lines(_text(run, *args), "HVO:") == ([f"HVO: {hint}"] if hint else [])


def test_hvo_enable_hint_is_given_where_expected(run):
    assert _json(run, *SMALL_2M)["host"]["hvo_enable_hint"]
    assert _json(run, *SMALL_2M, "--hvo", "off")["host"]["hvo_enable_hint"] is None


@pytest.mark.parametrize(
    ("kernel", "title"),
    [
        ("6.12.117+deb13-amd64", "Linux 6.12 (6.12.117+deb13-amd64),"),
        ("6.12.117", "Linux 6.12 (6.12.117),"),
        ("6.12", "Linux 6.12,"),
    ],
)
def test_kernel_release_shown_where_it_differs(run, kernel, title):
    table = _text(run, *SMALL_2M, "--kernel", kernel).splitlines()[0]
    assert title in table and table.count("(") == (1 if "(" in title else 0)
    assert title in _text(run, *SMALL_2M, "--kernel", kernel, fmt="markdown").splitlines()[0]


HEAD_COPY = (
    "head vmemmap page copy is mandatory on this kernel: a hugepage whose copy cannot be allocated stays unoptimized"
)


@pytest.mark.parametrize("kernel", ["7.3", "7.0"])
def test_memory_line_says_head_copy_is_mandatory_where_it_is(run, kernel):
    mandatory = _json(run, *TWO_NODES, "--kernel", kernel)["host"]["head_copy_mandatory"]
    assert mandatory == (kernel == "7.3")
    (memory,) = _lines(_text(run, *TWO_NODES, "--kernel", kernel), "memory:")
    assert "transient peak while allocating" in memory
    assert (HEAD_COPY in memory) == mandatory
    (item,) = _lines(_text(run, *TWO_NODES, "--kernel", kernel, fmt="markdown"), "- memory:")
    assert "transient peak while allocating" in item and (HEAD_COPY in item) == mandatory


def test_text_lines_are_not_wrapped(run):
    """A known issue (and every other sentence) stays on one line in a file or pipe, for grep."""
    without_kernel = BAD_PAGE[:6] + BAD_PAGE[8:]  # --kernel once: plan refuses it given twice
    text = _text(run, *without_kernel, "--kernel", "6.12.117+deb13-amd64")
    (warning,) = _lines(text, "WARNING")
    assert len(warning) > 160 and warning.endswith("bites pools: 2M-node0")


def _markdown_cells(line):
    """The cells of a pipe-table row, split at pipes no backslash escapes."""
    cells, cell, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if char == "|" and not escaped:
            cells.append(cell.strip())
            cell = ""
            continue
        escaped = char == "\\" and not escaped
        cell += char
    return [*cells, cell.strip()]


def test_markdown_shared_tail_and_known_issues(run):
    text = _text(run, *KERNEL_73, fmt="markdown")
    table = _lines(text, "|")
    header = _markdown_cells(table[0])
    at = header.index("shared tail")
    assert header[at + 1] == "saved" and _markdown_cells(table[2])[at] == "4.00 KiB"  # one shared 4 KiB page
    assert "shared tail" not in _text(run, *KERNEL_70, fmt="markdown")
    (issue,) = _json(run, *BAD_PAGE)["known_issues"]
    text = _text(run, *BAD_PAGE, fmt="markdown")
    assert (
        f"- **WARNING**: Linux 6.12.117 (6.12.115 to 6.12.118): {issue['summary']}; bites pools: `2M-node0`"
        in text.splitlines()
    )
    assert f"  - {issue['detail']} Source: {issue['source']}. Id: `{issue['id']}`." in text.splitlines()
    assert f"- HVO: {_json(run, *BAD_PAGE)['host']['hvo_enable_hint']}" in text.splitlines()


def test_prometheus_schema_1_1_gauges(run):
    report = _json(run, *TWO_NODES, "--kernel", "7.3")
    families = _families(_text(run, *TWO_NODES, "--kernel", "7.3", fmt="prometheus"))

    def by(name, label):
        return {sample.labels[label]: sample.value for sample in families[name].samples}

    pools = {pool["name"]: pool for pool in report["pools"]}
    assert by("hvo_calc_pool_shared_tail_pages", "pool") == {n: p["shared_tail_pages"] for n, p in pools.items()}
    assert by("hvo_calc_pool_memmap_pages", "pool") == {n: p["memmap_pages"] for n, p in pools.items()}
    assert by("hvo_calc_pool_memmap_boot_freed_pages", "pool") == {
        n: p["memmap_boot_freed_pages"] for n, p in pools.items()
    }
    assert by("hvo_calc_node_shared_tail_pages", "node") == {
        str(n["node"]): n["shared_tail_pages"] for n in report["nodes"]
    }
    (total,) = families["hvo_calc_total_shared_tail_pages"].samples
    assert total.value == report["totals"]["shared_tail_pages"] == 2
    assert "hvo_calc_known_issue" not in families


def test_prometheus_known_issue_gauge(run):
    (issue,) = _json(run, *BAD_PAGE)["known_issues"]
    families = _families(_text(run, *BAD_PAGE, fmt="prometheus"))
    (sample,) = families["hvo_calc_known_issue"].samples
    assert sample.value == 1
    assert sample.labels == {
        "arch": "x86-64",
        "id": issue["id"],
        "applies": "yes",
        "first": "6.12.115",
        "last": "6.12.118",
        "pools": "2M-node0",
        "summary": issue["summary"],
    }
    (maybe,) = _families(_text(run, *MAYBE_BAD_PAGE, fmt="prometheus"))["hvo_calc_known_issue"].samples
    assert maybe.labels["applies"] == "maybe" and maybe.labels["pools"] == ""
    (info,) = families["hvo_calc_build_info"].samples
    assert info.labels["kernel"] == "6.12" and info.labels["kernel_release"] == "6.12.117"


@pytest.mark.parametrize("fmt", MACHINE)
def test_machine_formats_deterministic_with_known_issues_and_nodes(run, fmt):
    for args in (BAD_PAGE, (*TWO_NODES, "--kernel", "7.3")):
        assert _text(run, *args, fmt=fmt) == _text(run, *args, fmt=fmt)


# Schema 1.0's columns, in order: fields are only ever added, so these keep their order.
CSV_1_0 = [
    "row",
    "name",
    "arch",
    "node",
    "base_page_bytes",
    "hugepage_bytes",
    "hugepage_size",
    "mapped_by",
    "hugepages",
    "pool_bytes",
    "struct_page_bytes",
    "kernel",
    "hvo_active",
    "reason",
    "per_hugepage_struct_pages",
    "per_hugepage_vmemmap_bytes",
    "per_hugepage_vmemmap_pages",
    "per_hugepage_reserved_pages",
    "per_hugepage_freed_pages",
    "vmemmap_pages",
    "vmemmap_bytes",
    "reserved_pages",
    "freed_pages",
    "pagetable_pages",
    "saved_pages",
    "saved_bytes",
    "saved_percent",
    "split_pmds",
    "tlb_flushes",
    "boot_line",
    "would_free_freed_pages",
    "would_free_pagetable_pages",
    "would_free_saved_pages",
    "would_free_saved_bytes",
    "would_free_kernel",
    "boot_time",
    "memtotal_gain_bytes",
    "memfree_gain_bytes",
    "peak_vmemmap_bytes",
    "transient_bytes",
    "shrink_shrink_to",
    "shrink_hugepages_released",
    "shrink_restore_pages",
    "shrink_restore_bytes",
    "shrink_policy",
    "shrink_available_bytes",
    "shrink_succeeds",
    "shrink_surplus_hugepages",
    "shrink_missing_bytes",
    "shrink_pagetable_pages_kept",
    "memory_bytes",
    "free_bytes",
    "pools",
]


def test_csv_columns_stable_and_deterministic(run):
    from hvo_calc.reports.csv_report import header

    names = header()
    assert names == header() and len(names) == len(set(names))
    outputs = [
        _text(run, *args, fmt="csv") for args in (SMALL_2M, BAD_PAGE, TWO_NODES, (*SMALL_2M, "--kernel", "5.10"))
    ]
    assert {text.splitlines()[0] for text in outputs} == {",".join(names)}  # the same columns, whatever the plan
    assert [name for name in names if name in CSV_1_0] == CSV_1_0  # 1.0's columns keep their order
    assert {"zone", "shared_tail_pages", "preoptimized", "memmap_pages", "memmap_boot_freed_pages"} <= set(names)
    assert names[-3:] == ["memory_bytes", "free_bytes", "pools"]  # the node's own columns stay last
    for text in outputs:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert {len(row) for row in rows} == {len(names)}


def test_csv_new_fields(run):
    report = _json(run, *TWO_NODES, "--kernel", "7.3")
    rows = list(csv.DictReader(io.StringIO(_text(run, *TWO_NODES, "--kernel", "7.3", fmt="csv"), newline="")))
    assert [row["row"] for row in rows] == ["pool", "pool", "node", "node", "total"]
    for row, pool in zip(rows, report["pools"]):
        assert row["zone"] == pool["zone"] and row["shared_tail_pages"] == str(pool["shared_tail_pages"])
        assert row["preoptimized"] == ("true" if pool["preoptimized"] else "false")
        assert row["memmap_pages"] == str(pool["memmap_pages"])
    assert [row["shared_tail_pages"] for row in rows[2:]] == ["1", "1", "2"]


# --- pool names, literally, in every format ------------------------------------------------------------

NAMES = [
    "vm[/x]",
    "db[primary]",
    "db[replica]",
    "a|b",
    "x\ny",
    '"q"',
    "ünï",
    "cr\rhere",
    "esc\x1b[31m",
    ":smile:",
    "back\\slash",
    "tick`s",
    "*b*_i_<br>&amp;",
]
ONE_LINE = {"x\ny": "x\\ny", "cr\rhere": "cr\\rhere", "esc\x1b[31m": "esc\\x1b[31m"}  # the rest as they are


@pytest.fixture
def named(run, tmp_path):
    """A real plan of one pool per name (6.12.117, all shrinking: the known issue lists them all),
    renamed after planning: renderers must take any name, whatever the plan file accepts."""
    from hvo_calc.models import PlanReport

    plan = tmp_path / "names.toml"
    plan.write_text(
        '[host]\narch = "x86-64"\nkernel = "6.12.117"\n\n[[node]]\nmemory = "16G"\n\n'
        + "".join(f'[[pool]]\nname = "p{i}"\nsize = "2M"\ncount = 2\nshrink_to = 1\n\n' for i in range(len(NAMES)))
    )
    report = read(PlanReport, run("plan", "--config", str(plan), "--format", "json").stdout)
    names = {f"p{i}": name for i, name in enumerate(NAMES)}
    (issue,) = report.known_issues
    return replace(
        report,
        pools=[replace(pool, name=names[pool.name]) for pool in report.pools],
        known_issues=[replace(issue, pools=[names[name] for name in issue.pools])],
    )


def test_names_in_table(named):
    text = RENDERERS["table"](named, encoding="utf-8")
    _, rows = _grid(text, 0)
    assert [row[0] for row in rows] == [f"{ONE_LINE.get(n, n)} (2M, node 0)" for n in NAMES] + ["total"]
    for name in NAMES:
        assert f"{ONE_LINE.get(name, name)}: boot line: " in text
    (warning,) = _lines(text, "WARNING")
    assert warning.endswith("bites pools: " + ", ".join(ONE_LINE.get(n, n) for n in NAMES))
    assert "\x1b" not in text and "\r" not in text and "😄" not in text


def test_names_in_markdown(named):
    text = RENDERERS["markdown"](named)
    table = _lines(text, "|")
    assert len(table) == 2 + len(NAMES) + 1 + 2 + 1  # pools (header, rule, rows, total), then the node table
    header = _markdown_cells(table[0])
    rows = [_markdown_cells(line) for line in table[2 : 2 + len(NAMES)]]
    assert {len(row) for row in rows} == {len(header)}
    unescape = re.compile(r"\\([!-/:-@\[-`{-~])")
    assert [unescape.sub(r"\1", row[0]) for row in rows] == [ONE_LINE.get(n, n) for n in NAMES]
    assert "- `vm[/x]`: boot line: " in text and "- ``tick`s``: boot line: " in text
    assert "- `x\\ny`: boot line: " in text
    assert "\x1b" not in text and "\r" not in text


def test_names_in_prometheus(named):
    families = _families(RENDERERS["prometheus"](named))
    assert [s.labels["pool"] for s in families["hvo_calc_pool_hugepages"].samples] == NAMES
    (issue,) = families["hvo_calc_known_issue"].samples
    assert issue.labels["pools"] == ",".join(NAMES)


def test_names_in_csv(named):
    rows = list(csv.DictReader(io.StringIO(RENDERERS["csv"](named), newline="")))
    assert [row["row"] for row in rows] == ["pool"] * len(NAMES) + ["node", "total"]
    assert [row["name"] for row in rows[: len(NAMES)]] == NAMES


def test_names_in_json(named):
    assert [pool["name"] for pool in json.loads(RENDERERS["json"](named))["pools"]] == NAMES


def test_markdown_escapes():
    from hvo_calc.reports.text import markdown_code, markdown_text, one_line

    assert one_line("plain ünï") == "plain ünï"
    assert one_line("a\tb\u202ec") == "a\\tb\\u202ec"
    assert markdown_text("a|b\\c") == "a\\|b\\\\c"
    assert markdown_code("a`b") == "``a`b``" and markdown_code("`x") == "`` `x ``" and markdown_code("x") == "`x`"


# --- narrow consoles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "shown"), [("latin-1", "ünï"), ("ascii", "?n?"), ("cp1252", "ünï")])
def test_table_for_a_narrow_console(named, tmp_path, encoding, shown):
    text = RENDERERS["table"](named, encoding=encoding)
    console = tmp_path / "console.txt"
    with console.open("w", encoding=encoding) as file:  # strict: a character it cannot carry would raise
        file.write(text)
    assert f"{shown} (2M, node 0)" in text
    assert not re.search("[\u2500-\u257f]", text)  # boxes in ASCII
    assert text.splitlines()[1].startswith("+---") and "| vm[/x] (2M, node 0)" in text


def test_table_on_a_utf8_console_keeps_boxes(named):
    assert "┃ pool" in RENDERERS["table"](named, encoding="utf-8")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_cli_table_on_a_narrow_stdout(tmp_path, encoding):
    plan = tmp_path / "names.toml"
    plan.write_text(
        '[host]\narch = "x86-64"\n\n'
        + "".join(
            f'[[pool]]\nname = {json.dumps(name, ensure_ascii=False)}\nsize = "2M"\ncount = 2\n\n'
            for name in ("vm[/x]", "db[primary]", "db[replica]", "a|b", '"q"', "ünï")
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "hvo_calc", "plan", "--config", str(plan)],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": encoding},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode(encoding)
    for name in ("vm[/x]", "db[primary]", "db[replica]", "a|b", '"q"', "ünï" if encoding == "latin-1" else "?n?"):
        assert f"| {name} (2M, node 0)" in text
