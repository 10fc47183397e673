"""Recommend for people: the layouts best first, each with its kernel command line; then the impossible ones."""

from hvo_calc.compare.models import RecommendReport
from hvo_calc.reports.compare_formats import figure_text
from hvo_calc.reports.compare_table import console_for
from hvo_calc.units import human_size, short_size

COLUMNS = ("rank", "hugepages", "kernel", "extra", "vmemmap", "freed", "page tables", "saved", "MemTotal gain")


def render(report: RecommendReport, *, encoding: str | None = None, wide: bool = False) -> str:
    from rich.table import Table

    console, finish = console_for(encoding)
    grid = Table(
        title=f"HVO recommend: {short_size(report.need_bytes)} of hugepages on {report.arch} "
        f"{short_size(report.base_page_bytes)} pages, best first (most memory returned)",
        title_justify="left",
    )
    for column in COLUMNS:
        grid.add_column(column, justify="left" if column in ("hugepages", "kernel") else "right")
    for layout in report.layouts:
        f = layout.figures
        grid.add_row(
            str(layout.rank),
            f"{f.hugepages:,} x {layout.hugepage_size}" + (f" on {layout.nodes} nodes" if layout.nodes > 1 else ""),
            layout.kernel,
            human_size(layout.extra_bytes),
            *(figure_text(field, getattr(f, field)) for field in ("vmemmap_bytes", "freed_bytes", "pagetable_bytes")),
            figure_text("saved_bytes", f.saved_bytes),
            figure_text("memtotal_gain_bytes", f.memtotal_gain_bytes),
        )
    console.print(grid)
    for layout in report.layouts:
        console.print(f"{layout.rank}: {layout.cmdline}", soft_wrap=True)
        if layout.reason:
            console.print(f"{layout.rank}: no HVO: {layout.reason}", soft_wrap=True)
    for item in report.impossible:
        console.print(f"impossible: {item.hugepage_size} on Linux {item.kernel}: {item.reason}", soft_wrap=True)
    return finish()
