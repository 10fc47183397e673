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
import io
import types
import typing

from pydantic import BaseModel

from hvo_calc.models import NodeReport, PlanReport, PoolReport


def _nested_model(annotation: object) -> type[BaseModel] | None:
    """The model class in `Model` or `Model | None`, else None."""
    candidates = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def columns(model: type[BaseModel] = PoolReport, prefix: str = "") -> list[str]:
    """The flat column names of `model`, in field order."""
    names: list[str] = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is not None:
            names += columns(nested, f"{prefix}{name}_")
        else:
            names.append(f"{prefix}{name}")
    aliases = model.__pydantic_decorators__.computed_fields  # the deprecated names (on every pydantic)
    return names + [f"{prefix}{name}" for name in aliases]


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
    rows = [("pool", pool.model_dump()) for pool in report.pools]
    rows += [("node", node.model_dump()) for node in report.nodes] + [("total", report.totals.model_dump())]
    for kind, values in rows:
        flat = _flatten(values)
        lines.append(_line([kind, *(_cell(flat.get(name)) for name in names[1:])]))
    return "".join(lines)
