"""JSON: the report model as is (plan, inspect, compare, recommend), keys in schema order,
two-space indent."""

from pydantic import BaseModel


def render(report: BaseModel) -> str:
    return report.model_dump_json(indent=2) + "\n"
