"""The words of inspect's comparison rows (their JSON `explanation`): how a prediction is made
up, what accounts for a difference, why a counter was not compared. `host.compare` finds the
figures and the causes; this says them."""

from typing import TYPE_CHECKING

from hvo_calc.units import human_size, short_size

if TYPE_CHECKING:
    from hvo_calc.host.compare import Cause, Solution
    from hvo_calc.models import PlanReport


def _name(cause: "Cause") -> str:
    return f"{short_size(cause.size)}{' boot' if cause.preoptimized else ''}"


def _plural(k: int, word: str, one: str, many: str) -> str:
    """Number agreement: 1 hugepage keeps, 2 hugepages keep."""
    return word.format(s="" if k == 1 else "s", verb=one if k == 1 else many)


def cause_what(cause: "Cause", k: int) -> str:
    """The hugepages and their state: "512 2M hugepages optimized earlier and since released"."""
    were = "was" if k == 1 else "were"
    if cause.state == "unoptimized":
        return f"{k} of the {cause.limit} {_name(cause)} hugepages {were} allocated while HVO was off"
    if cause.state == "optimized":
        return f"{k} of the {cause.limit} {_name(cause)} hugepages {were} allocated while HVO was on"
    return f"{k} {_name(cause)} {_plural(k, 'hugepage{s}', '', '')} optimized earlier and since released"


def memmap_story(cause: "Cause", k: int) -> str:
    """The cause with the arithmetic of its nr_memmap_pages."""
    total = abs(k * cause.memmap)
    if cause.state == "unoptimized":
        why = (
            " and are not optimized (the sysctl is the current setting, not the pool's state): "
            f"{k} x {cause.head_copies} head-page copies fewer = {total} pages"
        )
    elif cause.state == "optimized":
        why = (
            " and stay optimized (the sysctl now reads 0; it is the current setting, not the pool's "
            f"state): {k} x {cause.head_copies} head-page copies = {total} pages"
        )
    else:
        keep = _plural(k, "keep{verb}", "s", "")
        why = (
            f" {keep} their restored vmemmap in buddy pages: {k} x ({cause.head_copies} head copy + "
            f"{cause.restored} restored) = {total} pages"
        )
    return cause_what(cause, k) + why


def boot_story(cause: "Cause", k: int) -> str:
    """The arithmetic of the cause's nr_memmap_boot_pages."""
    total, name, hugepages = abs(k * cause.boot), _name(cause), _plural(k, "hugepage{s}", "", "")
    if cause.state == "unoptimized":
        keep = _plural(k, "keep{verb}", "s", "")
        return (
            f"the same {k} unoptimized {name} {hugepages} {keep} their boot-memory vmemmap: "
            f"{k} x {cause.boot_pages} = {total} pages"
        )
    if cause.state == "optimized":
        return (
            f"the same {k} optimized {name} {hugepages} freed their boot-memory vmemmap: {k} x "
            f"{cause.boot_pages} = {total} pages"
        )
    return (
        f"the same {k} released {name} {hugepages} freed their boot-memory vmemmap when they were "
        f"optimized: {k} x {cause.boot_pages} = {total} pages"
    )


def memmap_text(solution: "Solution") -> str:
    return "; ".join(memmap_story(c, k) for c, k in solution.parts if c.memmap)


def boot_text(solution: "Solution") -> str:
    return "; ".join(boot_story(c, k) for c, k in solution.parts if c.boot)


def short(solution: "Solution") -> str:
    """The causes without their arithmetic."""
    return " and ".join(cause_what(c, k) for c, k in solution.parts)


def also(solutions: "list[Solution]") -> str:
    """The next ways that fit too, after the best."""
    more = solutions[1:3]
    return f" (also fits: {'; '.join(short(s) for s in more)})" if more else ""


def memmap_difference(d_memmap: int, solutions: "list[Solution]") -> str:
    if solutions:
        return f"{d_memmap:+d} = {memmap_text(solutions[0])}{also(solutions)}"
    return f"not accounted for by hugepages optimized, unoptimized or released: {d_memmap:+d} pages"


def boot_difference(d_boot: int, solutions: "list[Solution]", section_vmemmap_pages: int | None) -> str:
    """What accounts for a difference in nr_memmap_boot_pages, or the section arithmetic it may be."""
    best = solutions[0] if solutions else None
    if best and boot_text(best):
        return f"{d_boot:+d} = {boot_text(best)}{also(solutions)}"
    if best:
        return f"{d_boot:+d}: accounted for with nr_memmap_pages ({short(best)})"
    text = f"not accounted for: {d_boot:+d} pages"
    if section_vmemmap_pages and d_boot % section_vmemmap_pages == 0:
        text += (
            f" = {d_boot // section_vmemmap_pages} section(s) of vmemmap: the estimate of present "
            "sections (per node, present pages rounded up to whole sections) may miss sections "
            "only partly present"
        )
    return text


NOT_READ = "not compared: proc/vmstat was not read"
SECTIONS_UNKNOWN = (
    "not compared: the present memory sections are not known (proc/zoneinfo not read, or no "
    "section size for this architecture)"
)
MEMTOTAL = "the nodes' MemTotal (the plan's node memory), summed"
HUGEPAGES_TOTAL = "the plan's hugepages (sysfs nr_hugepages), against meminfo"


def unavailable(counter: str, kernel_version: tuple[int, int] | None, first_release: str) -> str:
    release = f"Linux {kernel_version[0]}.{kernel_version[1]}" if kernel_version else "this kernel"
    return (
        f"not available on this kernel: {release} has no {counter} in /proc/vmstat "
        f"(it appeared in Linux {first_release})"
    )


def memmap_agreement(plan: "PlanReport | None") -> str:
    pools = plan.pools if plan else []
    parts = [f"{p.name} {p.memmap_pages}" for p in pools if p.memmap_pages]
    return "agrees: " + (" + ".join(parts) if parts else "no pool holds buddy vmemmap pages")


def boot_agreement(boot_vmemmap_pages: int | None, section_vmemmap_pages: int | None, freed: int) -> str:
    sections = (
        boot_vmemmap_pages // section_vmemmap_pages
        if boot_vmemmap_pages is not None and section_vmemmap_pages
        else None
    )
    whole = (
        f"{sections} present sections x {section_vmemmap_pages} = {boot_vmemmap_pages}"
        if sections
        else f"{boot_vmemmap_pages}"
    )
    return f"agrees: {whole} pages of boot vmemmap, less {freed} freed by the pools"


def sysfs_against_meminfo(what: str) -> str:
    return f"sysfs {what}, against meminfo (the plan counts free, used and surplus hugepages alike)"


def can_free(size: int) -> str:
    return (
        f"'N KiB vmemmap can be freed for a {human_size(size)} page': what HVO frees per hugepage "
        "(printed whether HVO is on or off)"
    )


def preallocated(asked: int, count: int) -> str:
    text = "hugepages= of the command line, against 'pre-allocated N pages'"
    if count < asked:
        text += ": the kernel allocated fewer than asked (memory short or fragmented at boot)"
    return text
