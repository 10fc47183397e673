"""The first lines of the inspect report (its JSON `summary`): HVO's state, then what it
frees (or would free, and how to turn it on), then how the model's figures compare with the
kernel's counters. Words only: every fact is the report's, as `host/` found it."""

from hvo_calc.advice import boot_and_runtime, turn_on_steps
from hvo_calc.host.models import ComparisonRow, HostFacts
from hvo_calc.models import PlanReport
from hvo_calc.units import human_size


def pages(count: int, page_bytes: int) -> str:
    return f"{count:,} pages ({human_size(count * page_bytes)})"


def cmdline_setting(facts: HostFacts) -> str:
    if facts.cmdline is None:
        return "command line not read"
    if facts.hvo.cmdline is None:
        return "no hugetlb_free_vmemmap= on the command line: the kernel's built-in default"
    return f"hugetlb_free_vmemmap={'on' if facts.hvo.cmdline else 'off'} on the command line"


def summary_lines(facts: HostFacts, plan: PlanReport | None, rows: list[ComparisonRow]) -> list[str]:
    state = facts.hvo.state
    page = facts.base_page_bytes or 4096
    lines = []
    if state == "not available":
        lines.append(
            f"HVO: not available: Linux {facts.kernel_modelled} on {facts.arch} has no HugeTLB vmemmap "
            f"optimization: {(facts.hvo.unavailable_reason or '').rstrip('.')}."
        )
        if facts.unknown_parameters:
            lines.append(f"The kernel did not know {', '.join(facts.unknown_parameters)} (its log says so).")
        lines += would_free_lines(plan, page, how=False, lead="A kernel with HVO")
    elif state == "not built":
        lines.append(
            "HVO: not built into this kernel (no vm.hugetlb_optimize_vmemmap: "
            "CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP is not set)."
        )
        lines += would_free_lines(plan, page, how=False, lead="A kernel with HVO built and on")
        lines.append(
            "To have it: a kernel built with CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP=y, then as below for a "
            "kernel where it is off."
        )
    elif state == "off":
        lines.append(f"HVO: built but off (vm.hugetlb_optimize_vmemmap = 0; {cmdline_setting(facts)}).")
        lines += would_free_lines(plan, page, how=True)
    elif state == "on":
        lines.append(f"HVO: on (vm.hugetlb_optimize_vmemmap = 1; {cmdline_setting(facts)}).")
        if plan and plan.pools:
            t = plan.totals
            lines.append(
                f"For the current pools the model frees {pages(t.freed_pages, page)} of vmemmap and "
                f"saves {pages(t.saved_pages, page)} net of {t.pagetable_pages:,} split page-table pages."
            )
        if facts.hvo.cmdline is False:
            lines.append(
                "The command line says off: hugepages allocated before the sysctl was set (those "
                "allocated at boot among them) are not optimized."
            )
    else:
        lines.append(
            f"HVO: state unknown (vm.hugetlb_optimize_vmemmap not read; {cmdline_setting(facts)}); "
            f"planned as {'on' if facts.hvo.hvo_enabled else 'off'}."
        )
    lines += known_issue_lines(plan)
    lines.append(comparison_line(rows))
    return lines


def known_issue_lines(plan: PlanReport | None) -> list[str]:
    """The plan's known kernel problems that this host's release is in range of."""
    lines = []
    for issue in plan.known_issues if plan else []:
        verb = "has" if issue.applies == "yes" else "may have"
        lines.append(
            f"Known issue: this kernel {verb} {issue.id} (Linux {issue.first} to {issue.last}): {issue.summary}."
        )
    return lines


def would_free_lines(plan: PlanReport | None, page: int, how: bool, lead: str = "Turning it on") -> list[str]:
    if plan is None or not plan.pools:
        lines = ["No hugepages are allocated: there is nothing for HVO to free now."]
        if how:
            lines.append(
                "To turn it on for pools allocated later: hugetlb_free_vmemmap=on on the kernel command "
                "line, or `sysctl -w vm.hugetlb_optimize_vmemmap=1` (persist it in /etc/sysctl.d/) before "
                "the hugepages are allocated."
            )
        return lines
    would = [p for p in plan.pools if p.would_free]
    frees = [p.would_free for p in plan.pools if p.would_free]
    lines = []
    if would:
        freed = sum(w.freed_pages for w in frees)
        saved = sum(w.saved_pages for w in frees)
        kernels = sorted({w.kernel for w in frees})
        lines.append(
            f"{lead} would free {pages(freed, page)} and save {pages(saved, page)} for the current "
            f"pools (as Linux {', '.join(kernels)} does)."
        )
    else:
        lines.append(
            "No pool of this host would be optimized by HVO (no kernel in the model's data frees any of its vmemmap)."
        )
    if how and would:
        lines.append(f"To turn it on: {turn_on_steps(*boot_and_runtime(would), allocated=True)}.")
    return lines


def comparison_line(rows: list[ComparisonRow]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    if not rows:
        return "Kernel counters: none to compare."
    parts = [
        f"{counts[s]} {s}"
        for s in ("agrees", "explained", "unexplained", "not available", "not compared")
        if counts.get(s)
    ]
    return "Model against the kernel's counters: " + ", ".join(parts) + "."
