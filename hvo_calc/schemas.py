"""The published JSON Schemas: one per JSON report, committed at schema/NAME.schema.json and
printed by `hvo-calc schema --command COMMAND`.

Each is pydantic's schema of the report's model with the dialect, an `$id` naming the report
and its schema version (`https://hvo-calc.invalid/schema/plan-report-1.3.schema.json`; the
`.invalid` domain never resolves: the `$id` identifies, it is not a place to fetch from), and
the model's title and description. The text is the same on every pydantic the floors allow:
older releases wrap a described `$ref` in `allOf`, newer ones put the description beside it,
so the wrapping is undone (a 2020-12 `$ref` may have siblings)."""

import inspect
import json
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue

from hvo_calc.record import adapter

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://hvo-calc.invalid/schema/"


@dataclass(frozen=True)
class Published:
    """One JSON report: the model that prints it and the constant holding its schema version."""

    name: str  # the file stem: schema/{name}.schema.json
    module: str
    model: str
    version: str

    def report_model(self) -> type:
        """The report's class: a pydantic model, or a record (the plan report)."""
        model: type = getattr(import_module(self.module), self.model)
        return model

    def schema_version(self) -> str:
        return str(getattr(import_module(self.module), self.version))

    @property
    def filename(self) -> str:
        return f"{self.name}.schema.json"


# Every command with a JSON output (`check --format json` prints the plan report).
REPORTS = {
    "plan": Published("plan-report", "hvo_calc.models", "PlanReport", "SCHEMA_VERSION"),
    "inspect": Published("inspect-report", "hvo_calc.host.models", "InspectReport", "INSPECT_SCHEMA_VERSION"),
    "explain": Published("explain-report", "hvo_calc.explain_models", "ExplainReport", "EXPLAIN_SCHEMA_VERSION"),
    "compare": Published("compare-report", "hvo_calc.compare.models", "CompareReport", "COMPARE_SCHEMA_VERSION"),
    "recommend": Published(
        "recommend-report", "hvo_calc.compare.models", "RecommendReport", "RECOMMEND_SCHEMA_VERSION"
    ),
}


def _unwrap_refs(node: Any) -> Any:
    """`{"allOf": [{"$ref": R}], ...}` as `{"$ref": R, ...}`, all through the schema."""
    if isinstance(node, list):
        return [_unwrap_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _unwrap_refs(value) for key, value in node.items()}
    wrapped = out.get("allOf")
    if isinstance(wrapped, list) and len(wrapped) == 1 and set(wrapped[0]) == {"$ref"} and "$ref" not in out:
        del out["allOf"]
        out = {"$ref": wrapped[0]["$ref"], **out}
    return out


class ReportSchema(GenerateJsonSchema):
    """pydantic's generator, with described references and records' descriptions written one way
    on every version."""

    def generate(self, schema: Any, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        result: JsonSchemaValue = _unwrap_refs(super().generate(schema, mode=mode))
        return result

    def dataclass_schema(self, schema: Any) -> JsonSchemaValue:
        """A record's docstring is its description, as newer pydantic releases write it."""
        result: JsonSchemaValue = super().dataclass_schema(schema)
        doc = schema["cls"].__doc__
        if doc and "description" not in result:
            result["description"] = inspect.cleandoc(doc)
        return result


def schema_id(command: str) -> str:
    report = REPORTS[command]
    return f"{ID_BASE}{report.name}-{report.schema_version()}.schema.json"


def report_schema(command: str = "plan") -> dict[str, Any]:
    """The JSON Schema of the JSON report of `command`, with its dialect and `$id`."""
    model = REPORTS[command].report_model()  # a pydantic model or a record: one adapter reads both
    generated = adapter(model).json_schema(mode="serialization", schema_generator=ReportSchema)
    return {"$schema": DIALECT, "$id": schema_id(command), **generated}


def schema_text(command: str = "plan") -> str:
    """The schema as printed: sorted keys, two-space indent, a final newline (deterministic)."""
    return json.dumps(report_schema(command), indent=2, sort_keys=True) + "\n"
