"""JSON: the report as is (plan, inspect, compare, recommend), keys in schema order,
two-space indent. The plan report is a record, written by `record.to_json`; the others are
pydantic models, written by pydantic (tests/test_record.py holds the two to the same bytes
for a plan)."""

from typing import Any

from hvo_calc.record import to_json


def render(report: Any) -> str:
    if hasattr(report, "model_dump_json"):
        return str(report.model_dump_json(indent=2)) + "\n"
    return to_json(report) + "\n"
