"""The reports room: a report in, text out. Renderers format; they compute nothing (every
figure, in pages and in bytes, is the report's).

One registry for every kind of report: `render(kind, fmt, report, wide=...)`. `KINDS` maps
each kind (plan, inspect, explain, profiles, compare, recommend) to its `--format` names and
the function that renders each, as "module:function" in this package, imported the first time
it is used, so `--format json` never pays for rich or tabulate. Machine formats are
deterministic and never coloured; `wide` (the tables' `--wide`) is for the table alone.
"""

from collections.abc import Callable, Iterator, Mapping
from importlib import import_module

Renderer = Callable[..., str]
HUMAN_FORMAT = "table"

_PLAN = {
    "table": "table:render",
    "json": "json_report:render",
    "csv": "csv_report:render",
    "markdown": "markdown:render",
    "prometheus": "prometheus:render",
}
KINDS: Mapping[str, Mapping[str, str]] = {
    "plan": _PLAN,
    "inspect": {
        "table": "inspect_table:render",
        "json": "json_report:render",
        "csv": "inspect:render_csv",
        "markdown": "inspect:render_markdown",
        "prometheus": "inspect:render_prometheus",
    },
    "explain": {"table": "explain_text:render", "json": "explain_json:render"},
    "profiles": {"table": "profiles:render_table", "json": "profiles:render_json"},
    "compare": {
        "table": "compare_table:render",
        "json": "json_report:render",
        "csv": "compare_csv:render",
        "markdown": "compare_markdown:render",
        "prometheus": "compare_prometheus:render",
    },
    "recommend": {"table": "recommend_table:render", "json": "json_report:render"},
}


def renderer(kind: str, fmt: str) -> Renderer:
    """The function that renders `kind` in `fmt`, imported now."""
    module, name = KINDS[kind][fmt].split(":")
    found: Renderer = getattr(import_module(f"hvo_calc.reports.{module}"), name)
    return found


def render(kind: str, fmt: str, report: object, *, wide: bool = False) -> str:
    """`report` (a report of `kind`) as `fmt` prints it; `wide`: the table with every column."""
    if fmt == HUMAN_FORMAT:
        return renderer(kind, fmt)(report, wide=wide)
    return renderer(kind, fmt)(report)


def formats(kind: str) -> tuple[str, ...]:
    """The `--format` names of `kind`, the human one first."""
    return tuple(KINDS[kind])


class _Renderers(Mapping[str, Renderer]):
    """Format name -> the renderer of one kind, imported on first use."""

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def __getitem__(self, name: str) -> Renderer:
        return renderer(self._kind, name)

    def __iter__(self) -> Iterator[str]:
        return iter(KINDS[self._kind])

    def __len__(self) -> int:
        return len(KINDS[self._kind])


def renderers(kind: str) -> Mapping[str, Renderer]:
    """`kind`'s renderers by format name."""
    return _Renderers(kind)


RENDERERS: Mapping[str, Renderer] = renderers("plan")
MACHINE_FORMATS = frozenset(_PLAN) - {HUMAN_FORMAT}
