"""Compare as JSON: the report model as is (each scenario's plan report in the plan schema)."""

from hvo_calc.compare.models import CompareReport


def render(report: CompareReport) -> str:
    return report.model_dump_json(indent=2) + "\n"
