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
    assert pool["name"] == "1G-0" and pool["hugepage_size"] == "1G"
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
    assert cells[0] == "2M-0" and cells[3] == "10" and cells[6] == "70"
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
    assert freed.labels == {"arch": "x86-64", "node": "0", "hugepage_size": "2M", "pool": "2M-0"}
    (each,) = families["hvo_calc_hugepage_freed_pages"].samples
    assert each.value == 7
    assert families["hvo_calc_pool_hvo_active"].samples[0].value == 1
    (saved,) = families["hvo_calc_total_saved_bytes"].samples
    assert saved.labels == {"arch": "x86-64"} and saved.value == 69 * 4096
    (info,) = families["hvo_calc_build_info"].samples
    assert info.value == 1
    assert set(info.labels) == {"version", "schema_version", "kernel"}
    assert info.labels["schema_version"] == json.loads(run("plan", "--format", "json").stdout)["schema_version"]
    for name in families:
        if name != "hvo_calc_build_info":
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
        subprocess.run([sys.executable, "-m", "hvo_calc", "plan", *SMALL_2M, "--format", "prometheus"],
                       capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] and b"\x1b" not in outputs[0]


def test_table_honours_pipes(run):
    result = run("plan", *SMALL_2M)
    assert result.exit_code == 0 and "2M-0" in result.stdout and not ANSI.search(result.stdout)


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
    env = {**os.environ, "_HVO_CALC_COMPLETE": "bash_complete", "COMP_WORDS": "hvo-calc check --format p",
           "COMP_CWORD": "3"}
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
