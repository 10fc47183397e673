"""JSON: the report model as is, keys in schema order, two-space indent."""

from hvo_calc.models import PlanReport


def render(report: PlanReport) -> str:
    return report.model_dump_json(indent=2) + "\n"
