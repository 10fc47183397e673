"""The committed JSON Schema matches the models, and JSON reports validate against it."""

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
    assert schema["title"] == "PlanReport"
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
