"""docs/reference.md's vocabulary table is what the tool prints: every name it lists is in the
output it names, and every table header, markdown header and pool gauge is listed."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "docs" / "reference.md"
HOST = Path(__file__).parent / "fixtures" / "hosts" / "x86-64_7.3.4_2node_hvo-on"
# two nodes with memory, 7.3 (shared tail), a shrink: every column and gauge the plan has
PLAN = ("plan", "--config", str(ROOT / "configs" / "examples" / "x86-vm-host-2node.toml"), "--kernel", "7.3")
COLUMNS = ("figure", "table", "markdown", "CSV", "JSON", "Prometheus")


def vocabulary() -> list[dict[str, str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    section = text[text.index("## One vocabulary") :]
    body = section[section.index("\n| ") + 1 :]
    lines = body[: body.index("\n\n")].splitlines()  # the first table, to its blank line
    assert [c.strip() for c in lines[0].strip("|").split("|")] == list(COLUMNS)
    return [dict(zip(COLUMNS, (c.strip() for c in line.strip("|").split("|")))) for line in lines[1:]]


def names(cell: str) -> list[str]:
    """The code spans of a cell that are names: those before a parenthesis (an aside)."""
    return re.findall(r"`([^`]+)`", re.sub(r"\(.*?\)", "", cell))


def spans(cell: str, prefix: str = "") -> list[str]:
    """The names of a cell in the part before or after `inspect` (prefix "inspect")."""
    plan, _, inspect = cell.partition("inspect")
    return names(inspect if prefix else plan)


@pytest.fixture(scope="module")
def outputs():
    from conftest import invoke

    def out(*args: str, env: dict[str, str] | None = None) -> str:
        result = invoke(*args, env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    return {
        "table": out(*PLAN, "--wide", env={"COLUMNS": "250", "NO_COLOR": "1"}),
        "markdown": out(*PLAN, "--format", "markdown"),
        "CSV": out(*PLAN, "--format", "csv"),
        "JSON": json.loads(out(*PLAN, "--format", "json")),
        "Prometheus": out(*PLAN, "--format", "prometheus"),
        "inspect JSON": json.loads(out("inspect", "--root", str(HOST), "--format", "json")),
        "inspect Prometheus": out("inspect", "--root", str(HOST), "--format", "prometheus"),
    }


def table_headers(text: str) -> set[str]:
    return {cell.strip() for line in text.splitlines() if line.startswith("┃") for cell in line.split("┃")} - {""}


def markdown_headers(text: str) -> set[str]:
    lines = text.splitlines()
    heads = [lines[i] for i in range(len(lines) - 1) if lines[i + 1].startswith("|:") or lines[i + 1].startswith("|-")]
    return {cell.strip() for line in heads for cell in line.strip("|").split("|")}


def resolve(report: object, path: str) -> list[object]:
    """The values at `pools[].freed_pages`, `host.hvo.state`: each list element for `[]`."""
    values = [report]
    for key in path.split("."):
        many = key.endswith("[]")
        values = [value[key.removesuffix("[]")] for value in values if value is not None]  # type: ignore[index]
        if many:
            values = [item for value in values for item in value]  # type: ignore[attr-defined]
    return values


def gauges(text: str) -> tuple[set[str], set[str]]:
    families = list(text_string_to_metric_families(text))
    labels = {label for f in families for s in f.samples for label in s.labels}
    return {f.name for f in families}, labels


ROWS = vocabulary()


def test_the_vocabulary_has_its_rows():
    assert len(ROWS) >= 20 and all(row["figure"] for row in ROWS)
    listed = [n for row in ROWS for n in names(row["JSON"])]
    assert len(listed) == len(set(listed))  # each figure listed once


@pytest.mark.parametrize("row", ROWS, ids=[r["figure"][:40] for r in ROWS])
def test_every_name_listed_is_printed(outputs, row):
    assert set(names(row["table"])) <= table_headers(outputs["table"])
    assert set(names(row["markdown"])) <= markdown_headers(outputs["markdown"])
    assert set(names(row["CSV"])) <= set(next(csv.reader(io.StringIO(outputs["CSV"]))))
    for path in spans(row["JSON"]):
        assert resolve(outputs["JSON"], path), path
    for path in spans(row["JSON"], "inspect"):
        assert resolve(outputs["inspect JSON"], path), path
    plan_metrics, plan_labels = gauges(outputs["Prometheus"])
    inspect_metrics = gauges(outputs["inspect Prometheus"])[0]
    assert set(re.findall(r"label `(\w+)`", row["Prometheus"])) <= plan_labels
    assert {n for n in names(row["Prometheus"]) if n.startswith("hvo_calc_")} <= plan_metrics | inspect_metrics


def test_every_header_and_pool_gauge_is_listed(outputs):
    listed = {column: {n for row in ROWS for n in names(row[column])} for column in COLUMNS[1:]}
    assert table_headers(outputs["table"]) <= listed["table"]
    assert markdown_headers(outputs["markdown"]) <= listed["markdown"]
    pool_gauges = {
        m for m in gauges(outputs["Prometheus"])[0] if m.startswith(("hvo_calc_pool_", "hvo_calc_hugepage_"))
    }
    assert pool_gauges <= listed["Prometheus"]
