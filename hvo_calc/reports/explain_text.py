"""Explain for people: the drawing of each hugepage's vmemmap before and after, and the prose
around it, wrapped to the width the console gives (at most `PROSE_WIDTH`). A line is a list of
(text, style) pieces: joined as they are when plain, styled by rich where colour is on, so
both look the same."""

import sys
import textwrap

import numpy as np

from hvo_calc.explain import (
    HEAD,
    HEAD_COPY,
    KEPT,
    ROLES,
    SHARED_TAIL,
    TAIL,
    Elided,
    Explanation,
    Hugepage,
    Page,
    PmdSplit,
    ranges,
)
from hvo_calc.units import human_size, short_size

PROSE_WIDTH = 100
MIN_WIDTH = 60


Piece = tuple[str, str | None]
Line = list[Piece]

TAILS_MAP_TEXT = {
    HEAD: "the head page",
    KEPT: "the second kept page",
    HEAD_COPY: "the head copy",
    SHARED_TAIL: "the shared tail page",
}


def _frame(pfn: int) -> str:
    return f"{pfn:#x}"


def _span(first: int, last: int) -> str:
    return _frame(first) if first == last else f"{_frame(first)}-{_frame(last)}"


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _perm(flags: str) -> Piece:
    return flags, "green" if flags == "RW" else "yellow"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summary(ex: Explanation) -> str:
    """What the kernel does to each hugepage of this size, as hugepage 0 shows it."""
    g, h = ex.geometry, ex.hugepages[0]
    roles = [ROLES[r] for r in h.roles.tolist()]
    if not ex.hvo_active:
        if g.vmemmap_pages == 0:
            return (
                f"The kernel keeps the struct pages as they are: a {short_size(g.hugepage_bytes)} hugepage's "
                f"{g.struct_pages:,} struct pages share one vmemmap page with other hugepages' "
                "(read-write, on its own frame)."
            )
        return (
            f"The kernel keeps all {_plural(len(h), 'vmemmap page')} of each hugepage: each maps its own "
            "frame, read-write, and nothing is freed."
        )
    kept = len(h) - roles.count(TAIL)
    text = f"Linux {ex.kernel.version} keeps {_plural(kept, 'vmemmap page')} of each hugepage: "
    if HEAD_COPY in roles:
        text += "the head page, moved to a fresh private copy (read-write; its old frame is freed)"
    elif kept == 1:
        text += "the head page, on its own frame (read-write)"
    else:
        text += "the head page and the page after it, each on its own frame (read-write)"
    text += f". The other {roles.count(TAIL):,} (the tails) map {TAILS_MAP_TEXT[h.tails_map or HEAD]} read-only"
    if h.tails_map == SHARED_TAIL and ex.shared_tail is not None:
        node, zone, order = ex.shared_tail
        text += (
            f": one page for node {node}, zone {zone}, order {order}, allocated with the first hugepage "
            "optimized there and never freed, which every later hugepage's tails map too"
        )
    elif h.tails_map == HEAD_COPY:
        text += ", so each hugepage's tails map a page of its own"
    freed = len(h.freed_pfns)
    return text + f". {_plural(freed, 'frame is', 'frames are')} freed per hugepage."


def _para(text: str, width: int, label: str = "", style: str | None = None) -> list[Line]:
    """`text` wrapped to `width`, after an optional styled label."""
    lines = textwrap.wrap(
        f"{label} {text}" if label else text, width=width, break_on_hyphens=False, break_long_words=False
    ) or [""]
    out: list[Line] = [[(line, None)] for line in lines]
    if label:
        out[0] = [(label, style), (lines[0][len(label) :], None)]
    return out


def _grid(header: list[str], rows: list[list[Line]], indent: str = "  ") -> list[Line]:
    """Rows of cells (each a list of pieces) in aligned columns under a bold header."""
    head: list[Line] = [[(h, "bold")] for h in header]
    cells = [head, *rows]
    widths = [max(sum(len(t) for t, _ in row[c]) for row in cells) for c in range(len(header))]
    out: list[Line] = []
    for row in cells:
        line: Line = [(indent, None)]
        for c, cell in enumerate(row):
            line.extend(cell)
            if c < len(row) - 1:
                line.append((" " * (widths[c] - sum(len(t) for t, _ in cell) + 2), None))
        out.append(line)
    return out


def _target(ex: Explanation, h: Hugepage) -> str:
    """What a hugepage's tails map, in words."""
    words = TAILS_MAP_TEXT[h.tails_map or HEAD]
    if h.tails_map == SHARED_TAIL and h.index > 0 and h.tails_pfn == ex.hugepages[0].tails_pfn:
        words = "the same shared tail page as hugepage 0"
    return words


def _page_row(ex: Explanation, h: Hugepage, item: Page | Elided, collapse: bool) -> list[Line]:
    if isinstance(item, Page):
        shared_with = [o.index for o in ex.hugepages if o.index < h.index and item.vaddr in o.vaddrs]
        if shared_with:  # several hugepages' struct pages in one vmemmap page
            what: list[Piece] = [(f"the same vmemmap page as hugepage {shared_with[0]}", None)]
        elif item.role == TAIL:
            what = [(f"tail -> {_target(ex, h)}", None)]
        elif item.role == HEAD_COPY:
            what = [("head copy", "cyan"), (f" (copy of {_frame(item.copy_of or 0)})", None)]
        else:
            what = [(item.role + (" (the tails map it)" if item.after_pfn == h.tails_pfn else ""), None)]
        return [
            [(str(item.index), None)],
            [(f"{item.vaddr:#x}", None)],
            [(_frame(item.before_pfn) + " ", None), _perm(item.before_flags)],
            [("->", None)],
            [(_frame(item.after_pfn) + " ", None), _perm(item.after_flags)],
            what,
            [("freed", "red")] if item.freed else [("kept", None)],
        ]
    lead = f"{item.count:,}" if collapse else f"... {item.count:,} more"
    if item.role == TAIL:
        what = [(f"{lead} tails -> {_target(ex, h)}", None)]
    else:
        what = [(f"{lead} {'kept pages' if item.role == KEPT else item.role + 's'}, each on its own frame", None)]
    return [
        [(f"{item.first_index}-{item.first_index + item.count - 1}", None)],
        [(_span(item.first_vaddr, item.last_vaddr), None)],
        [(_span(item.before_first, item.before_last) + " ", None), _perm(item.before_flags)],
        [("->", None)],
        [(_span(item.after_first, item.after_last) + " ", None), _perm(item.after_flags)],
        what,
        [("freed", "red")] if item.freed else [("kept", None)],
    ]


def _hugepage_lines(ex: Explanation, h: Hugepage) -> list[Line]:
    last = h.first_pfn + h.nr_pfns - 1
    where = (
        f": pfn {_span(h.first_pfn, last)}, struct pages at {h.struct_pages_vaddr:#x}, "
        f"{_plural(len(h), 'vmemmap page')}"
    )
    lines: list[Line] = [[(f"hugepage {h.index}", "bold"), (where, None)]]
    collapse = h.index > 0  # the first hugepage drawn in full, the others one line per run
    rows = [_page_row(ex, h, item, collapse) for item in h.shown(collapse)]
    lines += _grid(["page", "vmemmap address", "before", "", "after", "what", "old frame"], rows)
    freed = h.freed_pfns
    if len(freed):
        line: Line = [
            ("  ", None),
            ("freed", "red"),
            (f": {_plural(len(freed), 'frame')} ({', '.join(_span(a, b) for a, b in ranges(freed))})", None),
        ]
        if h.allocated_pfns:
            line.append((f"; allocated: {', '.join(_frame(p) for p in h.allocated_pfns)} (the head copy)", None))
        lines.append(line)
    else:
        lines.append([("  freed: nothing", None)])
    return lines


def _pmd_lines(ex: Explanation, width: int) -> list[Line]:
    profile = ex.profile
    block = human_size(profile.base_page * profile.entries_per_table)
    if not ex.pmd_splits:
        if profile.vmemmap_leaf != "pmd":
            return _para(
                f"{profile.arch} with {short_size(profile.base_page)} pages maps the vmemmap with base "
                "pages (PTEs) from the start: there is no PMD leaf to split.",
                width,
                "PMD:",
                "bold",
            )
        return _para(f"nothing split; the vmemmap stays mapped by {block} PMD leaves.", width, "PMD:", "bold")
    lines = _para(
        f"the vmemmap was mapped with {block} PMD leaves; remapping single pages takes a PTE table: "
        "one page-table page for each block, never freed.",
        width,
        "PMD split:",
        "bold",
    )
    splits = list(ex.pmd_splits)
    drawn: list[PmdSplit | None] = [*splits] if len(splits) <= 4 else [*splits[:2], None, splits[-1]]
    rows: list[list[Line]] = []
    for s in drawn:
        if s is None:
            hidden = splits[2:-1]
            tables = np.array(sorted(x.table_pfn for x in hidden), dtype=np.uint64)
            rows.append(
                [
                    [("...", None)],
                    [(f"{len(hidden)} more splits", None)],
                    [],
                    [(f"tables in frames {', '.join(_span(a, b) for a, b in ranges(tables))}", None)],
                    [],
                ]
            )
            continue
        rows.append(
            [
                [(f"{s.vaddr:#x}", None)],
                [(f"leaf over frames {_span(s.before_pfn, s.before_pfn + s.pages - 1)} ", None), _perm(s.before_flags)],
                [("->", None)],
                [("table in frame ", None), (_frame(s.table_pfn), "cyan")],
                [(", ".join(str(i) for i in s.hugepages), None)],
            ]
        )
    return lines + _grid(["PMD at", "before", "", "after", "hugepages"], rows)


def text_lines(ex: Explanation, width: int = PROSE_WIDTH) -> list[Line]:
    """The explanation for people, as lines of styled pieces."""
    g, profile = ex.geometry, ex.profile
    size = short_size(g.hugepage_bytes)
    title = (
        f"HVO explained: {profile.arch} {short_size(profile.base_page)} pages, Linux {ex.kernel.release}, "
        f"{size} hugepages, struct page {g.struct_page_bytes} B"
    )
    lines: list[Line] = [[(title, "bold")]]
    pages = (
        _plural(g.vmemmap_pages, "vmemmap page")
        if g.vmemmap_pages
        else f"less than one {short_size(profile.base_page)} vmemmap page"
    )
    lines += _para(
        f"A {size} hugepage has {g.struct_pages:,} struct pages ({human_size(g.vmemmap_bytes)}): "
        f"{pages}. Below, {len(ex.hugepages)} hugepages as the page-table model holds them after "
        f"{'HVO' if ex.hvo_active else 'allocation'}, read from its page tables.",
        width,
    )
    if not ex.hvo_active:
        lines += _para(ex.reason or "", width, "No HVO:", "bold red")
    lines += _para(summary(ex), width)
    for h in ex.hugepages:
        lines += [[], *_hugepage_lines(ex, h)]
    lines += [[], *_pmd_lines(ex, width)]
    if ex.shared_tail_pfn is not None and ex.shared_tail is not None:
        node, zone, order = ex.shared_tail
        users = [str(h.index) for h in ex.hugepages if h.tails_map == SHARED_TAIL]
        lines += [
            [],
            *_para(
                f"frame {_frame(ex.shared_tail_pfn)}, read-only, for node {node}, zone {zone}, order {order}: "
                f"the tails of hugepages {_and(users)} map it.",
                width,
                "Shared tail page:",
                "bold",
            ),
        ]
    if ex.hvo_active:
        h = ex.hugepages[0]
        freed, allocated = len(h.freed_pfns), len(h.allocated_pfns)
        net = freed - allocated
        text = f"{_plural(freed, 'frame')} freed"
        if allocated:
            text += f", {allocated} allocated (the head copy)"
        text += f": {_plural(net, 'page')} ({human_size(net * profile.base_page)}) saved"
        costs = []
        if ex.pmd_splits:
            costs.append(
                "a page-table page for each PMD block split (here "
                f"{_plural(len(ex.pmd_splits), 'split')} for {len(ex.hugepages)} hugepages)"
            )
        if ex.shared_tail_pfn is not None:
            costs.append("one shared tail page per node, zone and order")
        text += f"; the pool also pays {' and '.join(costs)}." if costs else "."
        lines += [[], *_para(text, width, "Per hugepage:", "bold")]
    return lines


def render(ex: Explanation, *, wide: bool = False) -> str:
    """The explanation for people, wrapped to the console's width (COLUMNS, else the terminal's,
    else 80; at least MIN_WIDTH, at most PROSE_WIDTH, or PROSE_WIDTH with `wide`): styled by rich
    where `hvo_calc.console` gives colour, plain text otherwise."""
    from hvo_calc import console

    width = PROSE_WIDTH if wide else max(MIN_WIDTH, min(PROSE_WIDTH, console.width(sys.stdout)))
    if not console.colour(sys.stdout):
        return "".join("".join(t for t, _ in line).rstrip() + "\n" for line in text_lines(ex, width))
    import io

    from rich.text import Text

    buffer = io.StringIO()
    styled = console.make_console(buffer, width=10_000)
    for line in text_lines(ex, width):
        styled.print(Text.assemble(*[(t, s) if s else t for t, s in line]), soft_wrap=True)
    return buffer.getvalue()
