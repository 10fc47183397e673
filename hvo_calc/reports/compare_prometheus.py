"""Compare as Prometheus text: each figure per scenario (a `scenario` label), and its delta.

Gauges in bytes (hugepages: a count); `hvo_calc_compare_planned` is 1 for a scenario that was
planned and 0 for one that cannot exist (which has no other series); `baseline="true"` marks
the scenario the deltas are taken from. Shares of RAM are left out: divide the bytes in PromQL.
"""

from hvo_calc.compare.models import CompareReport, Figures
from hvo_calc.reports.compare_formats import PERCENT_FIELDS
from hvo_calc.reports.prometheus import _family

FIELDS = tuple(f for f in Figures.model_fields if f not in PERCENT_FIELDS)


def _help(field: str) -> str:
    return f"The scenario's {field} (Figures.{field} of the compare report), summed over its pools."


def render(report: CompareReport) -> str:
    lines: list[str] = []
    labels = [{"scenario": s.name} for s in report.scenarios]
    _family(
        lines,
        "compare_planned",
        "1 when the scenario was planned, 0 when it cannot exist; baseline=true: the deltas' baseline.",
        [
            ({**label, "baseline": str(s.name == report.baseline).lower()}, s.report is not None)
            for label, s in zip(labels, report.scenarios)
        ],
    )
    for field in FIELDS:
        name = field.removesuffix("_bytes")
        suffix = "_bytes" if field.endswith("_bytes") else ""
        samples = [(label, getattr(s.figures, field)) for label, s in zip(labels, report.scenarios) if s.figures]
        _family(lines, f"compare_{name}{suffix}", _help(field), samples)
        deltas = [(label, getattr(s.delta, field)) for label, s in zip(labels, report.scenarios) if s.delta]
        _family(lines, f"compare_delta_{name}{suffix}", f"Difference from the baseline: {_help(field)}", deltas)
    return "\n".join(lines) + "\n"
