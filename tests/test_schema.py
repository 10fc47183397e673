"""The committed JSON Schemas match the models and the command's output, every field of
every one is described, and each command's real JSON output validates against its schema."""

import json
from pathlib import Path

import jsonschema
import pytest

from hvo_calc.cli.schema import schema_text
from hvo_calc.models import SCHEMA_VERSION

COMMITTED = Path(__file__).resolve().parent.parent / "schema" / "plan-report.schema.json"
REGENERATE = "hvo-calc schema > schema/plan-report.schema.json"


def test_committed_schema_matches_models():
    assert COMMITTED.exists(), f"schema/plan-report.schema.json is missing; create it with: {REGENERATE}"
    if COMMITTED.read_text() != schema_text():
        pytest.fail(
            "the report models and schema/plan-report.schema.json have drifted; if the change is "
            f"intended, regenerate it with `{REGENERATE}` and bump SCHEMA_VERSION in models.py "
            "(minor when only adding fields, major when renaming or removing)"
        )


def test_schema_command_prints_it_deterministically(run):
    first, second = run("schema"), run("schema")
    assert first.exit_code == 0 and first.stdout == second.stdout == schema_text()
    schema = json.loads(first.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "hvo-calc plan report"  # a title for people, not the class name
    assert {"host", "pools", "totals"} <= set(schema["required"])


def test_schema_version_is_semver_like():
    major, minor = SCHEMA_VERSION.split(".")[:2]
    assert major.isdigit() and minor.isdigit()


PLANS = [
    (),
    ("--huge", "2M", "--count", "10"),
    ("--huge", "1G", "--count", "2", "--kernel", "5.10"),
    ("--huge", "2M", "--count", "3", "--hvo", "off"),
    ("--arch", "arm64", "--page", "64K", "--huge", "512M", "--count", "2"),
    ("--arch", "arm64", "--page", "16K", "--huge", "32M", "--count", "4", "--placement", "scattered"),
]


@pytest.mark.parametrize("args", PLANS, ids=lambda args: " ".join(args) or "default")
def test_json_output_validates(run, args):
    validator = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text()))
    result = run("plan", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    validator.validate(report)
    assert report["schema_version"] == SCHEMA_VERSION


def test_schema_rejects_a_broken_report(run):
    validator = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text()))
    report = json.loads(run("plan", "--huge", "2M", "--count", "1", "--format", "json").stdout)
    del report["pools"][0]["freed_pages"]
    report["totals"]["surprise"] = 1
    messages = [error.message for error in validator.iter_errors(report)]
    assert any("freed_pages" in m for m in messages) and any("surprise" in m for m in messages)


# --- every JSON output: plan (and check), inspect, explain, compare, recommend ---------------------

SCHEMAS = Path(__file__).resolve().parent.parent / "schema"
HOSTS = Path(__file__).resolve().parent / "fixtures" / "hosts"
COMMANDS = ("plan", "inspect", "explain", "compare", "recommend")


def committed(command: str) -> dict:
    return json.loads((SCHEMAS / f"{command}-report.schema.json").read_text())


def test_every_json_report_has_a_schema_command():
    from hvo_calc.schemas import REPORTS

    assert tuple(REPORTS) == COMMANDS
    assert {path.name for path in SCHEMAS.glob("*.schema.json")} == {f"{c}-report.schema.json" for c in COMMANDS}


@pytest.mark.parametrize("command", COMMANDS)
def test_committed_file_is_what_the_command_prints(run, command):
    regenerate = f"hvo-calc schema --command {command} > schema/{command}-report.schema.json"
    result = run("schema", "--command", command)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == run("schema", "--command", command).stdout == schema_text(command)
    assert (SCHEMAS / f"{command}-report.schema.json").read_text() == result.stdout, f"regenerate: {regenerate}"


@pytest.mark.parametrize("command", COMMANDS)
def test_schema_has_an_id_a_title_and_a_description(command):
    schema = committed(command)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    version = schema["properties"]["schema_version"]["default"]
    assert schema["$id"] == f"https://hvo-calc.invalid/schema/{command}-report-{version}.schema.json"
    assert schema["title"] == f"hvo-calc {command} report"
    assert schema["description"].startswith(f"What `hvo-calc {command} --format json`")


def described(schema: dict) -> list[str]:
    """Where a schema leaves something undescribed: each definition (and the top) without a
    description or a title, each property without a description; nested schemas walked too."""
    missing = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")
        if not isinstance(node, dict):
            return
        if "properties" in node:
            if not node.get("description") or not node.get("title"):
                missing.append(where)
            for name, prop in node["properties"].items():
                if not isinstance(prop, dict) or not str(prop.get("description", "")).strip():
                    missing.append(f"{where}.properties.{name}")
        for key, value in node.items():
            walk(value, f"{where}.{key}")

    walk(schema, "#")
    return missing


@pytest.mark.parametrize("command", COMMANDS)
def test_every_field_of_every_definition_is_described(command):
    schema = committed(command)
    assert len(schema["$defs"]) >= 3
    assert described(schema) == []


def test_the_walk_finds_an_undescribed_field():
    schema = committed("plan")
    del schema["$defs"]["PerHugepage"]["properties"]["reserved_pages"]["description"]
    del schema["$defs"]["Totals"]["description"]
    assert described(schema) == ["#.$defs.PerHugepage.properties.reserved_pages", "#.$defs.Totals"]


def test_reserved_pages_says_what_the_kernel_keeps():
    reserved = committed("plan")["$defs"]["PerHugepage"]["properties"]["reserved_pages"]["description"]
    assert "1 since 5.18" in reserved and "2 in 5.14-5.17" in reserved


OUTPUTS = [
    ("plan",),
    ("plan", "--huge", "1G", "--count", "4", "--memory", "64G", "--nodes", "2", "--shrink-to", "2", "--kernel", "6.1"),
    ("plan", "--arch", "arm64", "--kernel", "6.12", "--huge", "2M", "--count", "8"),
    ("check", "--huge", "2M", "--count", "64", "--min-saved", "1M"),
    ("explain",),
    ("explain", "--huge", "1G", "--kernel", "6.1"),
    ("explain", "--kernel", "5.16"),
    ("explain", "--hvo", "off"),
    ("explain", "--arch", "arm64", "--page", "64K", "--huge", "512M", "--kernel", "6.1"),
    ("compare", "--kernel", "6.1,7.3"),
    ("compare", "--huge", "2M,1G,3M", "--count", "4", "--memory", "64G"),
    ("recommend", "--need", "64G"),
    ("recommend", "--need", "700G", "--memory", "768G", "--nodes", "2", "--kernel", "6.12,7.3"),
]


def validate(command: str, report: dict) -> None:
    schema = committed("plan" if command == "check" else command)
    jsonschema.Draft202012Validator(schema).validate(report)
    assert schema["$id"].endswith(f"-{report['schema_version']}.schema.json")


@pytest.mark.parametrize("args", OUTPUTS, ids=" ".join)
def test_real_output_validates_against_its_schema(run, args):
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    validate(args[0], json.loads(result.stdout))


@pytest.mark.parametrize("host", sorted(p.name for p in HOSTS.iterdir() if p.is_dir()))
def test_inspect_of_each_captured_host_validates(run, host):
    result = run("inspect", "--root", str(HOSTS / host), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    validate("inspect", report)
    if report["plan"] is not None:
        validate("plan", report["plan"])


def test_explain_schema_rejects_a_page_it_does_not_describe(run):
    validator = jsonschema.Draft202012Validator(committed("explain"))
    report = json.loads(run("explain", "--format", "json").stdout)
    page = report["hugepages"][0]["pages"][1]
    assert page["after"]["role"] == "tail" and page["after"]["maps"] == "shared-tail"
    page["after"]["maps"] = "somewhere"
    page["vaddr"] = "4096"
    messages = [error.message for error in validator.iter_errors(report)]
    assert any("somewhere" in m for m in messages) and any("4096" in m for m in messages)


RENAMED_IN_2_0 = [  # (command, args, path to the object, old name, new name)
    (
        "plan",
        ("plan", "--pool", "1G:2,boot"),
        ("pools", 0),
        "memmap_boot_pages_freed",
        "memmap_boot_freed_pages",
    ),
    (
        "inspect",
        ("inspect", "--root", str(Path(__file__).parent / "fixtures" / "hosts" / "x86-64_7.3.4_2node_hvo-on")),
        ("host", "hvo"),
        "planned_on",
        "hvo_enabled",
    ),
]


@pytest.mark.parametrize(("command", "args", "path", "old", "new"), RENAMED_IN_2_0)
def test_a_name_renamed_in_2_0_stays_as_a_deprecated_alias(run, command, args, path, old, new):
    """2.0 renamed these to the vocabulary's names (docs/reference.md); the 1.x name is still in the
    JSON with the same value, and the schema says it is deprecated and read-only."""
    report = json.loads(run(*args, "--format", "json").stdout)
    assert report["schema_version"] == "2.0"
    node = report
    for key in path:
        node = node[key]
    assert node[new] == node[old]
    assert node[new] != 0 if command == "plan" else node[new] is True  # a figure that shows the alias follows it
    schema = json.loads(schema_text(command))
    (definition,) = (d for d in schema["$defs"].values() if old in d.get("properties", {}))
    assert definition["properties"][old]["readOnly"] is True
    assert definition["properties"][old]["description"].startswith(f"deprecated alias of {new}")


def test_a_1_x_report_reads_back_with_its_old_names(run):
    from hvo_calc.models import PlanReport
    from hvo_calc.record import read

    text = run("plan", "--pool", "1G:2,boot", "--format", "json").stdout
    report = json.loads(text)
    for pool in report["pools"]:
        del pool["memmap_boot_freed_pages"]  # as 1.x wrote it: the old name only
    old = read(PlanReport, report)
    assert old == read(PlanReport, text)
    assert old.pools[0].memmap_boot_freed_pages == 2 * 4095  # x86-64 1G: 4095 of 4096 pages, boot memory


def test_the_csv_keeps_the_renamed_column_beside_the_new_one(run):
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(run("plan", "--pool", "1G:2,boot", "--format", "csv").stdout)))
    pool = next(row for row in rows if row["row"] == "pool")
    assert pool["memmap_boot_freed_pages"] == pool["memmap_boot_pages_freed"] == str(2 * 4095)


def test_a_report_with_both_names_that_disagree_is_refused(run):
    import pydantic

    from hvo_calc.models import PlanReport
    from hvo_calc.record import read

    report = json.loads(run("plan", "--pool", "1G:2,boot", "--format", "json").stdout)
    report["pools"][0]["memmap_boot_pages_freed"] += 1
    with pytest.raises(pydantic.ValidationError, match="the old name of memmap_boot_freed_pages"):
        read(PlanReport, report)
