"""The plan's sentences, each written once: the title, the kernel's boot lines, why a pool has
no HVO, what it would free, a shrink's outcome, the memory, notes, the hint and known kernel
issues. The table prints them as lines, markdown as a list; each marks the text from the report
in its own way (`Marks`), so a pool name stays literal in both."""

from collections.abc import Callable
from dataclasses import dataclass

from hvo_calc.models import KnownIssueReport, PlanReport, PoolReport, ShrinkReport
from hvo_calc.reports.text import markdown_code, markdown_text, one_line
from hvo_calc.units import human_size, short_size


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Marks:
    """How a format writes text from the report inside a sentence."""

    name: Callable[[str], str]  # a pool name
    literal: Callable[[str], str]  # a line the kernel prints
    text: Callable[[str], str]  # any other text from the report (a kernel release)
    strong: Callable[[str], str]  # the word that warns


PLAIN = Marks(name=one_line, literal=one_line, text=one_line, strong=_same)
MARKDOWN = Marks(name=markdown_code, literal=markdown_code, text=markdown_text, strong=lambda text: f"**{text}**")


@dataclass(frozen=True)
class Sentence:
    text: str
    warning: bool = False
    detail: str | None = None  # a second sentence, for the formats with room for it


def kernel_title(report: PlanReport, marks: Marks = PLAIN) -> str:
    """ "Linux 6.12", and the release as given where it says more: "Linux 6.12 (6.12.117+deb13-amd64)"."""
    host = report.host
    if host.kernel_release and host.kernel_release != host.kernel:
        return f"Linux {host.kernel} ({marks.text(host.kernel_release)})"
    return f"Linux {host.kernel}"


def plan_title(report: PlanReport, marks: Marks = PLAIN) -> str:
    """What was planned: "x86-64 4K pages, Linux 7.3, struct page 64 B, packed placement"."""
    host = report.host
    return (
        f"{host.arch} {short_size(host.base_page_bytes)} pages, {kernel_title(report, marks)}, "
        f"struct page {host.struct_page_bytes} B, {host.placement} placement"
    )


def _pages(pages: int, size_bytes: int) -> str:
    return f"{pages:,} pages ({human_size(size_bytes)})"


def pool_sentences(pool: PoolReport, marks: Marks) -> list[str]:
    """The pool's boot line, why it has no HVO, and what HVO would free in it."""
    name = marks.name(pool.name)
    lines = [f"{name}: boot line: {marks.literal(pool.boot_line)}"] if pool.boot_line else []
    if pool.reason:
        lines.append(f"{name}: no HVO: {pool.reason}")
    if pool.would_free:
        w = pool.would_free
        lines.append(
            f"{name}: with HVO (as in Linux {w.kernel}) it would free "
            f"{_pages(w.freed_pages, pool.would_free_bytes)} and save {_pages(w.saved_pages, w.saved_bytes)}"
        )
    return lines


def shrink_sentence(name: str, s: ShrinkReport) -> str:
    """A shrink's restore and whether the node's free memory holds it."""
    head = (
        f"{name}: shrink to {s.shrink_to} releases {s.hugepages_released} hugepages; the restore "
        f"needs {human_size(s.restore_bytes)} ({s.policy} allocation)"
    )
    if s.succeeds is None or s.available_bytes is None:
        return head + "; give node memory to check it"
    if s.succeeds:
        return head + f": succeeds ({human_size(s.available_bytes)} free)"
    return head + (
        f": FAILS, {human_size(s.missing_bytes)} short; {s.surplus_hugepages} hugepages stay as "
        f"surplus; {s.pagetable_pages_kept} split page tables are kept either way"
    )


def head_copy_clause(report: PlanReport) -> str:
    """What the transient peak means for the head copy, where the kernel makes it mandatory (7.1+)."""
    if report.host.head_copy_mandatory and any(pool.hvo_active for pool in report.pools):
        return (
            "; each hugepage's head vmemmap page copy is mandatory on this kernel: a hugepage whose copy "
            "cannot be allocated stays unoptimized"
        )
    return ""


def memory_sentence(report: PlanReport) -> str | None:
    """The struct pages' share of RAM without and with HVO, and what MemTotal and MemFree gain."""
    m = report.memory
    if m is None:
        return None
    return (
        f"memory: struct pages take {human_size(m.vmemmap_bytes_before)} ({m.vmemmap_percent_before:.3f}% of "
        f"{human_size(m.memory_bytes)}) without HVO, {human_size(m.vmemmap_bytes_after)} "
        f"({m.vmemmap_percent_after:.3f}%) with it; MemTotal gains {human_size(m.memtotal_gain_bytes)}, "
        f"MemFree {human_size(m.memfree_gain_bytes)}; transient peak while allocating "
        f"{human_size(m.peak_transient_bytes)}{head_copy_clause(report)}"
    )


def known_issue_sentence(report: PlanReport, issue: KnownIssueReport, marks: Marks = PLAIN) -> Sentence:
    """`WARNING: Linux 6.12.117 (6.12.115 to 6.12.118): <summary>; bites pools: a, b`."""
    release = marks.text(report.host.kernel_release or report.host.kernel)
    affected = "" if issue.applies == "yes" else " may be affected"
    pools = (
        f"bites pools: {', '.join(marks.name(name) for name in issue.pools)}"
        if issue.pools
        else "bites no pool of this plan"
    )
    span = f"({issue.first} to {issue.last})"
    text = f"{marks.strong('WARNING')}: Linux {release}{affected} {span}: {issue.summary}; {pools}"
    return Sentence(text, warning=True, detail=f"{issue.detail} Source: {issue.source}. Id: `{issue.id}`.")


def plan_sentences(report: PlanReport, marks: Marks = PLAIN) -> list[Sentence]:
    """Every sentence under the plan's tables, in the order both formats print them."""
    texts = [line for pool in report.pools for line in pool_sentences(pool, marks)]
    texts += [shrink_sentence(marks.name(pool.name), pool.shrink) for pool in report.pools if pool.shrink]
    memory = memory_sentence(report)
    texts += [memory] if memory else []
    texts += [f"note: {note}" for note in report.host.notes]
    texts += [f"HVO: {report.host.hvo_enable_hint}"] if report.host.hvo_enable_hint else []
    sentences = [Sentence(text) for text in texts]
    return sentences + [known_issue_sentence(report, issue, marks) for issue in report.known_issues]
