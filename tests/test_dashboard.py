"""The Grafana dashboard (configs/grafana/hvo-calc.json) asks only for what `--format prometheus` writes.

The metrics and labels are collected from the prometheus renderer run on real plans (one with a
known kernel issue, the example plan files with nodes and memory, a host without HVO) and from
`inspect --format prometheus --expect` on captured hosts (the fleet row); every PromQL expression
of every panel and every template query must name only those.
"""

import json
import re
from pathlib import Path

import pytest
from conftest import invoke
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "configs" / "grafana" / "hvo-calc.json"
EXAMPLES = ROOT / "configs" / "examples"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCRAPE_LABELS = {"instance", "job"}  # added by Prometheus when it scrapes node_exporter

PLANS = [
    ("--arch", "x86-64", "--huge", "2M", "--count", "2", "--kernel", "6.12.117", "--shrink-to", "1"),  # known issue
    ("--config", str(EXAMPLES / "x86-vm-host-2node.toml"), "--kernel", "7.3"),  # nodes, memory, shared tails
    ("--config", str(EXAMPLES / "x86-vm-host-2node.toml")),
    ("--config", str(EXAMPLES / "arm64-64k-host.toml")),
    ("--config", str(EXAMPLES / "database-host-2m.toml")),
    ("--arch", "arm64", "--huge", "2M", "--count", "2"),  # no HVO on the kernel
]

# PromQL words that are neither metrics nor functions
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


HOSTS = ROOT / "tests" / "fixtures" / "hosts"
# inspect on captured hosts, each against the plan written from the first (HVO on: the second drifts)
INSPECTED = ("x86-64_7.3.4_2node_hvo-on", "x86-64_7.3.4_2node_hvo-off", "x86-64_6.12.117_1node_hvo-on")


def _prometheus(args: tuple[str, ...]) -> str:
    result = invoke("plan", *args, "--format", "prometheus")  # conftest's: the same on every click
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _inspected(expect: Path) -> list[str]:
    """`inspect --format prometheus --expect` on each of INSPECTED (the plan written from the first)."""
    first = invoke("inspect", "--root", str(HOSTS / INSPECTED[0]), "--write-config", str(expect), "--format", "json")
    assert first.exit_code == 0, first.stderr
    texts = []
    for host in INSPECTED:
        result = invoke("inspect", "--root", str(HOSTS / host), "--expect", str(expect), "--format", "prometheus")
        assert result.exit_code == 0, result.stderr
        texts.append(result.stdout)
    return texts


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> dict[str, set[str]]:
    """Every metric the tool wrote for PLANS and INSPECTED, with the labels its series carry."""
    metrics: dict[str, set[str]] = {}
    texts = [_prometheus(args) for args in PLANS] + _inspected(tmp_path_factory.mktemp("fleet") / "host.toml")
    for text in texts:
        for family in text_string_to_metric_families(text):
            labels = metrics.setdefault(family.name, set())
            for sample in family.samples:
                labels |= set(sample.labels)
    assert "hvo_calc_known_issue" in metrics and "hvo_calc_host_vmemmap_bytes_before" in metrics
    return metrics


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside rows included; rows themselves left out."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def _query(variable: dict) -> str:
    query = variable.get("query", "")
    return query["query"] if isinstance(query, dict) else query


def _exprs(dashboard: dict) -> list[str]:
    exprs = [target["expr"] for panel in _panels(dashboard) for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", _query(variable).strip())
            assert match, variable["name"]
            exprs.append(match.group(1))
    return exprs


def _strip(expr: str) -> str:
    """The expression without strings, template variables, range and label-list brackets."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    return re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords and labels left out)."""
    bare = re.sub(r"\{[^}]*\}", "", _strip(expr))
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", bare):
        if bare[match.end() :].lstrip().startswith("(") or match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, labels its matchers name) for every `metric{...}` selector."""
    stripped = _strip(expr)
    return [
        (metric, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers)))
        for metric, matchers in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}", stripped)
    ]


def test_extractor():
    assert metric_names('count by (instance) (a_b{x=~"$x", y="q{z}"}) / on(pool) c[5m] + sum(rate(d[1m]))') == {
        "a_b",
        "c",
        "d",
    }
    assert selectors('a{x=~"$x", y!="1"} / b{z="w"}') == [("a", {"x", "y"}), ("b", {"z"})]


def test_dashboard_is_valid_json_with_a_schema_version(dashboard):
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"] and dashboard["id"] is None
    assert isinstance(dashboard["__inputs"], list) and isinstance(dashboard["__requires"], list)
    assert "${DS_" not in DASHBOARD.read_text(encoding="utf-8")  # nothing left for an import to fill in


def test_every_metric_is_one_the_tool_writes(dashboard, emitted):
    used = set()
    for expr in _exprs(dashboard):
        names = metric_names(expr)
        assert names, expr
        assert names <= set(emitted), f"{expr}: {sorted(names - set(emitted))}"
        used |= names
    wanted = {
        "hvo_calc_pool_saved_bytes",
        "hvo_calc_node_saved_bytes",
        "hvo_calc_pool_bytes",
        "hvo_calc_host_vmemmap_bytes_before",
        "hvo_calc_host_vmemmap_bytes_after",
        "hvo_calc_pool_hvo_active",
        "hvo_calc_pool_shared_tail_pages",
        "hvo_calc_known_issue",
        # the fleet row
        "hvo_calc_inspect_hvo_state",
        "hvo_calc_inspect_would_save_bytes",
        "hvo_calc_inspect_known_issues",
        "hvo_calc_inspect_drift_findings",
    }
    assert wanted <= used


def test_every_label_matched_is_one_the_metric_has(dashboard, emitted):
    for expr in _exprs(dashboard):
        for metric, labels in selectors(expr):
            assert labels <= emitted[metric] | SCRAPE_LABELS, f"{expr}: {metric} has no {labels - emitted[metric]}"


def test_legends_name_labels_the_result_has(dashboard, emitted):
    for panel in _panels(dashboard):
        for target in panel["targets"]:
            grouped = re.search(r"\bby\s*\(([^)]*)\)", target["expr"])
            if grouped:
                available = {label.strip() for label in grouped.group(1).split(",")}
            else:
                available = set.intersection(*(emitted[m] for m in metric_names(target["expr"]))) | SCRAPE_LABELS
            used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
            assert used <= available, (panel["title"], used - available)


def test_template_variables_are_label_values_of_written_series(dashboard, emitted):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    for variable in variables.values():
        if variable["type"] == "query":
            metric_selector, label = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", _query(variable).strip()).groups()
            (metric,) = metric_names(metric_selector)
            assert label in emitted[metric] | SCRAPE_LABELS
    used = set(re.findall(r"\$(\w+)", json.dumps([_exprs(dashboard)])))
    assert used <= set(variables) and {"job", "instance", "arch", "node", "pool"} <= set(variables)


def test_every_panel_and_query_reads_the_datasource_variable(dashboard):
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    for panel in _panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for other in dashboard["templating"]["list"]:
        if other["type"] == "query":
            assert other["datasource"] == DATASOURCE, other["name"]


def test_layout(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]] + [
        p["id"] for p in _panels(dashboard) if p not in dashboard["panels"]
    ]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, panel["title"]  # no two panels overlap
                cells.add((x, y))
    for panel in _panels(dashboard):
        assert panel["title"] and panel.get("description")


def test_known_issue_table_shows_the_issue_labels(dashboard, emitted):
    (table,) = [
        p
        for p in _panels(dashboard)
        if "hvo_calc_known_issue" in metric_names(p["targets"][0]["expr"]) and p["type"] == "table"
    ]
    (organize,) = [t["options"] for t in table["transformations"] if t["id"] == "organize"]
    shown = set(organize["indexByName"])
    assert shown <= emitted["hvo_calc_known_issue"] | SCRAPE_LABELS
    assert {"id", "applies", "first", "last", "pools", "summary"} <= shown


def test_fleet_row_counts_hosts_by_what_inspect_writes(dashboard, tmp_path):
    """The fleet panels' series, as inspect writes them for the captured hosts: one HVO state
    each, what turning HVO on would save where it is off, the drifted host."""
    (row,) = [p for p in dashboard["panels"] if p["type"] == "row" and p["title"].startswith("Fleet")]
    fleet = [p for p in dashboard["panels"] if p["gridPos"]["y"] == row["gridPos"]["y"] + 1]
    assert {p["title"] for p in fleet} == {
        "Hosts by HVO state",
        "Would save if HVO were on, all hosts",
        "Hosts on releases with known issues",
        "Drifted hosts",
    }
    assert all('job=~"$job"' in t["expr"] for p in fleet for t in p["targets"])
    samples: dict[str, list] = {}
    for text in _inspected(tmp_path / "host.toml"):
        for family in text_string_to_metric_families(text):
            samples.setdefault(family.name, []).extend(family.samples)
    on = [s.labels["state"] for s in samples["hvo_calc_inspect_hvo_state"] if s.value == 1]
    assert sorted(on) == ["off", "on", "on"]
    # 2node_hvo-off: 11,298 pages (the README's figure) would be saved; 0 where HVO is on
    assert sorted(s.value for s in samples["hvo_calc_inspect_would_save_bytes"]) == [0, 0, 11298 * 4096]
    # in INSPECTED's order: the plan's own host, the same host with HVO off (1: HVO), a one-node
    # host with other pools (its pools and counters differ from the plan's)
    on_host, off_host, other = (s.value for s in samples["hvo_calc_inspect_drift_findings"])
    assert (on_host, off_host) == (0, 1) and other > 1
    assert sorted(s.value for s in samples["hvo_calc_inspect_known_issues"]) == [0, 0, 1]  # 6.12.117
