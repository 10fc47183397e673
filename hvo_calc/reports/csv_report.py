"""CSV: one row per pool and a totals row, flat columns, a header row.

Columns follow the models' field order; nested models are flattened with their field
name as prefix (`per_hugepage_struct_pages`, `would_free_saved_bytes`). A name renamed in
the JSON (schema 2.0) keeps its old column too, after the model's fields, as JSON keeps it. The first column,
`row`, is `pool`, `node` (per NUMA node sums, with the node's own columns at the end)
or `total`; a field a row does not have is empty.
Booleans are `true`/`false`, missing values (null) are empty. Lines end in `\\n`; a cell
holding a line break, a carriage return, a comma or a double quote (a pool name may) is
quoted as RFC 4180 says, so `csv.reader` reads every name back byte for byte. Known issues
are not rows: they are in the other formats.
"""

import csv
import dataclasses
import io
import types
import typing

from hvo_calc.models import NodeReport, PlanReport, PoolReport
from hvo_calc.record import plain


def _nested_record(annotation: object) -> type | None:
    """The record class in `Record` or `Record | None`, else None."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return next((c for c in candidates if isinstance(c, type) and dataclasses.is_dataclass(c)), None)


def columns(model: type = PoolReport, prefix: str = "") -> list[str]:
    """The flat column names of `model`, in field order, then its fields' deprecated old names."""
    names: list[str] = []
    hints = typing.get_type_hints(model)
    for field in dataclasses.fields(model):
        nested = _nested_record(hints[field.name])
        if nested is not None:
            names += columns(nested, f"{prefix}{field.name}_")
        else:
            names.append(f"{prefix}{field.name}")
    renamed: dict[str, str] = getattr(model, "renamed", {})
    return names + [f"{prefix}{name}" for name in renamed]


def _flatten(values: dict[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}_"))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def header() -> list[str]:
    """The header row: `row`, the pool columns, then the node's own columns."""
    pool_columns = columns()
    return ["row", *pool_columns, *(c for c in columns(NodeReport) if c not in pool_columns)]


def _line(cells: list[str]) -> str:
    """One CSV line ending in "\\n". The csv module quotes a cell for the characters of its line
    terminator only, so each line is written with "\\r\\n" (a bare carriage return in a name is
    quoted too) and its terminator then replaced."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2] + "\n"


def render(report: PlanReport) -> str:
    names = header()
    lines = [_line(names)]
    rows = [("pool", plain(pool)) for pool in report.pools]
    rows += [("node", plain(node)) for node in report.nodes] + [("total", plain(report.totals))]
    for kind, values in rows:
        flat = _flatten(values)
        lines.append(_line([kind, *(_cell(flat.get(name)) for name in names[1:])]))
    return "".join(lines)
