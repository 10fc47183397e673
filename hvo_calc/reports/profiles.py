"""Profiles: the architecture profiles, one line each for people (tabulate's plain table), or
as JSON (`ProfileRow`s)."""

import json

from hvo_calc.profile_report import ProfileRow

HEADERS = (
    "arch",
    "base page",
    "variant",
    "default",
    "paging",
    "vmemmap mapped by",
    "hugepage sizes",
    "HVO (mainline)",
)


def table_row(row: ProfileRow) -> list[str]:
    """One profile as a line of the table."""
    dropped = row["hvo_dropped_in_stable"]
    hvo = row["hvo"] + (f" (dropped in stable {', '.join(f'{d}+' for d in dropped)})" if dropped else "")
    return [
        row["arch"],
        row["base_page"],
        row["variant"] or "-",
        "yes" if row["default"] else "",
        f"{row['va_bits']}-bit, {len(row['levels'])} levels",
        f"{row['vmemmap_leaf'].upper()} leaves",
        ", ".join(f"{size} ({how})" for size, how in row["hugepage_sizes"].items()),
        hvo,
    ]


def render_table(rows: list[ProfileRow], *, wide: bool = False) -> str:
    from tabulate import tabulate

    return tabulate([table_row(r) for r in rows], headers=HEADERS) + "\n"


def render_json(rows: list[ProfileRow]) -> str:
    return json.dumps(rows, indent=2) + "\n"
