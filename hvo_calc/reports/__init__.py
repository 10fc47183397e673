"""Renderers: a report in, text out. They format; they compute nothing.

`RENDERERS` maps each `--format` name to its renderer; machine formats are
deterministic and never coloured.
"""

from typing import Callable

from hvo_calc.models import PlanReport
from hvo_calc.reports import csv_report, json_report, markdown, prometheus, table

Renderer = Callable[[PlanReport], str]

RENDERERS: dict[str, Renderer] = {
    "table": table.render,
    "json": json_report.render,
    "csv": csv_report.render,
    "markdown": markdown.render,
    "prometheus": prometheus.render,
}
MACHINE_FORMATS = frozenset(RENDERERS) - {"table"}
