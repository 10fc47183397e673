"""Compare as CSV: one row per scenario: number, name, each axis, reason, figures, then `delta_` figures."""

from hvo_calc.compare.models import CompareReport, Figures
from hvo_calc.reports.csv_report import _cell, _line

FIELDS = tuple(Figures.model_fields)


def render(report: CompareReport) -> str:
    axes = list(dict.fromkeys(axis for s in report.scenarios for axis in s.varies))
    names = ["scenario", "name", *axes, "baseline", "reason", *FIELDS, *(f"delta_{f}" for f in FIELDS)]
    lines = [_line(names)]
    for number, s in enumerate(report.scenarios, 1):
        figures = s.figures.model_dump() if s.figures else {}
        delta = s.delta.model_dump() if s.delta else {}
        cells = [str(number), s.name, *(s.varies.get(a, "") for a in axes), _cell(s.name == report.baseline)]
        cells += [_cell(s.reason), *(_cell(figures.get(f)) for f in FIELDS), *(_cell(delta.get(f)) for f in FIELDS)]
        lines.append(_line(cells))
    return "".join(lines)
