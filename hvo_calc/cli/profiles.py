"""`hvo-calc profiles`: the architectures, base pages, paging modes and hugepage sizes the
tool knows, and in which mainline releases each architecture has HVO."""

import json
from typing import Literal, TypedDict

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued
from hvo_calc.kernels import hvo_releases, stable_releases_without_hvo
from hvo_calc.profiles import ArchProfile, LevelName, all_profiles
from hvo_calc.units import short_size


class ProfileRow(TypedDict):
    """One profile as `profiles --format json` prints it."""

    name: str
    arch: str
    base_page: str
    variant: str
    mmu: str
    default: bool
    uname_machine: list[str]
    va_bits: int
    levels: list[LevelName]
    table_entries: dict[str, int]
    vmemmap_start: str
    vmemmap_leaf: Literal["pmd", "pte"]
    zones: list[str]
    hugepage_sizes: dict[str, str]
    hvo: str
    hvo_dropped_in_stable: list[str]


def profile_row(profile: ArchProfile) -> ProfileRow:
    """One profile as `profiles --format json` prints it."""
    return {
        "name": profile.name,
        "arch": profile.arch,
        "base_page": short_size(profile.base_page),
        "variant": profile.variant,
        "mmu": profile.mmu,
        "default": profile.default,
        "uname_machine": list(profile.uname_machine),
        "va_bits": profile.va_bits,
        "levels": list(profile.levels),
        "table_entries": dict(profile.entries_by_level),
        "vmemmap_start": f"{profile.vmemmap_start:#x}",
        "vmemmap_leaf": profile.vmemmap_leaf,
        "zones": list(profile.zones),
        "hugepage_sizes": {short_size(h.size): h.mapping for h in profile.hugepage},
        "hvo": hvo_releases(profile.arch),
        "hvo_dropped_in_stable": list(stable_releases_without_hvo(profile.arch)),
    }


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


@cli.command(cls=SingleValued)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts. Example: --format json",
)
def profiles(fmt: str) -> None:
    """List architecture profiles: base page, paging variant, levels, vmemmap mapping,
    hugepage sizes, and the mainline releases with HVO on each architecture.

    The default profile of an architecture is the one --arch alone selects.

    Example: hvo-calc profiles
    """
    rows = [profile_row(p) for p in all_profiles()]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from tabulate import tabulate

    headers = [
        "arch",
        "base page",
        "variant",
        "default",
        "paging",
        "vmemmap mapped by",
        "hugepage sizes",
        "HVO (mainline)",
    ]
    click.echo(tabulate([table_row(r) for r in rows], headers=headers))
