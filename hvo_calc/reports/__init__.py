"""Renderers: a report in, text out. They format; they compute nothing.

`RENDERERS` maps each `--format` name to its renderer. A renderer's module is imported
the first time it is used, so `--format json` never pays for rich or tabulate. Machine
formats are deterministic and never coloured.
"""

from collections.abc import Callable, Iterator, Mapping
from importlib import import_module

Renderer = Callable[..., str]

_MODULES = {
    "table": "table",
    "json": "json_report",
    "csv": "csv_report",
    "markdown": "markdown",
    "prometheus": "prometheus",
}


class _Renderers(Mapping[str, Renderer]):
    """Format name -> its module's `render`, imported on first use."""

    def __getitem__(self, name: str) -> Renderer:
        return import_module(f"hvo_calc.reports.{_MODULES[name]}").render

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


RENDERERS: Mapping[str, Renderer] = _Renderers()
MACHINE_FORMATS = frozenset(_MODULES) - {"table"}
