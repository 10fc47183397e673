"""`hvo-calc profiles`: the architectures, base pages and hugepage sizes the tool knows."""

import json

import click

from hvo_calc.cli import cli
from hvo_calc.profiles import all_profiles
from hvo_calc.units import short_size


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for scripts. Example: --format json")
def profiles(fmt: str) -> None:
    """List architecture profiles: base page, levels, vmemmap mapping, hugepage sizes.

    Example: hvo-calc profiles
    """
    rows = [
        {
            "arch": p.arch, "base_page": short_size(p.base_page), "va_bits": p.va_bits,
            "levels": list(p.levels), "vmemmap_leaf": p.vmemmap_leaf,
            "hugepage_sizes": {short_size(h.size): h.mapping for h in p.hugepage},
        }
        for p in all_profiles()
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from tabulate import tabulate

    table = [[r["arch"], r["base_page"], f'{r["va_bits"]}-bit, {len(r["levels"])} levels',
              f'{r["vmemmap_leaf"].upper()} leaves',
              ", ".join(f"{size} ({how})" for size, how in r["hugepage_sizes"].items())] for r in rows]
    click.echo(tabulate(table, headers=["arch", "base page", "paging", "vmemmap mapped by", "hugepage sizes"]))
