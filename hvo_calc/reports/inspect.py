"""The inspect report in the machine formats and markdown (the table is `inspect_table`). The
plan inside is rendered by the plan's own renderers; these add the host and the comparison.

- json (`json_report`): `InspectReport` as is (`schema_version` of its own; the plan keeps its own).
- csv: the plan's CSV with the comparison's columns added at the end, and a row
  `comparison` for each comparison (its plan columns empty), the convention the plan's CSV
  has for node rows.
- markdown: summary, host, the plan's markdown, then the comparison as a pipe table.
- prometheus: the plan's metrics, then `hvo_calc_inspect_*` gauges: predicted, observed,
  difference and explained (1/0) with labels counter, scope, hugepage_size, unit; and
  the HVO state. For a fleet (every host's series, Prometheus sums them), always, pools or
  none: `hvo_calc_inspect_hvo_state` (1 for the host's state, 0 for the others), what
  turning HVO on would free and save for the current pools (`..._would_free_bytes`,
  `..._would_save_bytes`; 0 where it is on), the known issues the release is in range of,
  whether the counters agree with the model, and with `--expect FILE` the drift findings.
Machine formats are deterministic: the same tree gives the same bytes.
"""

import csv
import io
from typing import get_args

from hvo_calc.host.models import ComparisonRow, HostFacts, HvoState, InspectReport, Status
from hvo_calc.models import CheckResult
from hvo_calc.reports import RENDERERS
from hvo_calc.reports.csv_report import _cell
from hvo_calc.reports.grid import count_text, signed_text
from hvo_calc.reports.prometheus import _family
from hvo_calc.units import human_size, short_size

COMPARISON_COLUMNS = (
    "counter",
    "scope",
    "hugepage_size",
    "unit",
    "basis",
    "predicted",
    "observed",
    "difference",
    "status",
    "explained",
    "explanation",
)


def host_line(host: HostFacts) -> str:
    page = short_size(host.base_page_bytes) if host.base_page_bytes else "?"
    kernel = host.kernel_release or "?"
    if host.kernel_version and host.kernel_version != kernel:
        kernel += f" ({host.kernel_version})"
    nodes = f"{len(host.nodes)} NUMA node{'s' if len(host.nodes) != 1 else ''}"
    memory = f", MemTotal {human_size(host.memory_bytes)}" if host.memory_bytes else ""
    paging = f", {host.paging}-level paging" if host.paging else ""
    return (
        f"host: {host.machine} ({host.arch} {page} pages{paging}), Linux {kernel}, modelled as Linux "
        f"{host.kernel_modelled}, {nodes}{memory}"
    )


def render_csv(report: InspectReport) -> str:
    if report.plan is not None:
        rows = list(csv.reader(io.StringIO(RENDERERS["csv"](report.plan))))
    else:
        rows = [["row"]]
    header, body = rows[0], rows[1:]
    added = [c if c not in header else f"comparison_{c}" for c in COMPARISON_COLUMNS]
    width = len(header)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, *added])
    for cells in body:
        writer.writerow([*cells, *([""] * len(added))])
    for r in report.comparison:
        values = r.model_dump()
        writer.writerow(["comparison", *([""] * (width - 1)), *(_cell(values[c]) for c in COMPARISON_COLUMNS)])
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: InspectReport) -> str:
    from tabulate import tabulate

    host = report.host
    lines = [f"**hvo-calc inspect**: {_escape(host_line(host))}", ""]
    lines += [f"- {_escape(line)}" for line in report.summary] + [""]
    rows = [
        [
            c.hugepage_size,
            str(n.node),
            count_text(c.total),
            count_text(c.free),
            count_text(c.surplus),
            count_text(c.boot),
        ]
        for n in host.nodes
        for c in n.hugepages
    ]
    if rows:
        lines += [
            tabulate(
                rows,
                headers=("size", "node", "hugepages", "free", "surplus", "at boot"),
                tablefmt="pipe",
                disable_numparse=True,
            ),
            "",
        ]
    if report.plan is not None:
        lines.append(RENDERERS["markdown"](report.plan).rstrip("\n"))
        lines.append("")
    if report.comparison:
        table = [
            [
                r.counter,
                f"{r.scope} {r.hugepage_size}" if r.hugepage_size else r.scope,
                count_text(r.predicted),
                count_text(r.observed),
                signed_text(r.difference),
                r.status,
                _escape(r.explanation),
            ]
            for r in report.comparison
        ]
        lines += [
            "**model against the kernel's counters**",
            "",
            tabulate(
                table,
                headers=("counter", "scope", "predicted", "observed", "difference", "status", "why"),
                tablefmt="pipe",
                disable_numparse=True,
            ),
            "",
        ]
    items = [f"- note: {_escape(n)}" for n in report.notes]
    items += [f"- problem: `{p.source}`: {_escape(p.message)}" for p in report.problems]
    if items:
        lines += [*items, ""]
    return "\n".join(lines)


INSPECT_METRICS = (
    ("predicted", "inspect_predicted", "What the model predicts (or the plan assumed) for a kernel counter."),
    ("observed", "inspect_observed", "What the kernel's counter shows."),
    ("difference", "inspect_difference", "Observed minus predicted."),
    (
        "explained",
        "inspect_explained",
        "1 when the counter agrees or its difference is accounted for, 0 when not; absent when not checked.",
    ),
)


def _labels(r: ComparisonRow) -> dict[str, str]:
    return {"counter": r.counter, "scope": r.scope, "hugepage_size": r.hugepage_size or "", "unit": r.unit}


def render_prometheus(report: InspectReport) -> str:
    text = RENDERERS["prometheus"](report.plan) if report.plan is not None else ""
    lines: list[str] = []
    host = report.host
    _family(
        lines,
        "inspect_info",
        "The inspected host: machine, kernel release, modelled release, HVO state; always 1.",
        [
            (
                {
                    "machine": host.machine or "",
                    "release": host.kernel_release or "",
                    "kernel": host.kernel_modelled or "",
                    "hvo": host.hvo.state,
                    "schema_version": report.schema_version,
                },
                1,
            )
        ],
    )
    if host.hvo.sysctl is not None:
        _family(
            lines,
            "inspect_hvo_sysctl",
            "vm.hugetlb_optimize_vmemmap: the current setting.",
            [({"arch": host.arch or ""}, host.hvo.sysctl)],
        )
    for field, name, help_text in INSPECT_METRICS:
        samples = [(_labels(r), getattr(r, field)) for r in report.comparison if getattr(r, field) is not None]
        if samples:
            _family(lines, name, help_text, samples)
    lines += fleet_lines(report)
    _family(
        lines,
        "inspect_problems",
        "Files inspect could not read or understand.",
        [({"arch": host.arch or ""}, len(report.problems))],
    )
    return text + "\n".join(lines) + "\n"


def fleet_lines(report: InspectReport) -> list[str]:
    """The gauges a fleet dashboard sums over hosts: written for every host, pools or none."""
    host, arch = report.host, {"arch": report.host.arch or ""}
    pools = report.plan.pools if report.plan else []
    rows = report.comparison
    lines: list[str] = []
    families: list[tuple[str, str, list[tuple[dict[str, str], object]]]] = [
        (
            "inspect_hvo_state",
            "HVO's state on the host: 1 for its state, 0 for the others.",
            [({**arch, "state": state}, int(state == host.hvo.state)) for state in get_args(HvoState)],
        ),
        (
            "inspect_would_free_bytes",
            "Vmemmap that turning HVO on would free for the current pools, in bytes (0 where it is on).",
            [(arch, sum(p.would_free_bytes for p in pools))],
        ),
        (
            "inspect_would_save_bytes",
            "Net bytes turning HVO on would save for the current pools (0 where it is on).",
            [(arch, sum(p.would_free.saved_bytes for p in pools if p.would_free))],
        ),
        (
            "inspect_known_issues",
            "Known kernel issues whose range holds the host's release.",
            [(arch, sum(1 for i in report.plan.known_issues if i.applies == "yes") if report.plan else 0)],
        ),
        (
            "inspect_counters",
            "Kernel counters compared with the model, by the comparison's status.",
            [({**arch, "status": status}, sum(1 for r in rows if r.status == status)) for status in get_args(Status)],
        ),
        (
            "inspect_counters_agree",
            "1 when every counter compared agrees with the model or its difference is accounted for, else 0.",
            [(arch, int(all(r.status != "unexplained" for r in rows)))],
        ),
    ]
    for name, help_text, samples in families:
        _family(lines, name, help_text, samples)
    return lines


def drift_prometheus(report: InspectReport, findings: list[CheckResult]) -> str:
    """`inspect --expect FILE`: the drift findings, 1 per failed one, and how many failed."""
    arch = {"arch": report.host.arch or ""}
    lines: list[str] = []
    _family(
        lines,
        "inspect_drift_findings",
        "Findings of the host against the plan it should follow (--expect) that failed.",
        [(arch, sum(1 for f in findings if not f.passed))],
    )
    _family(
        lines,
        "inspect_drift",
        "One per finding of the host against its plan: 1 when it failed (drift), 0 when it holds.",
        [({**arch, "name": f.name, "kind": f.kind}, int(not f.passed)) for f in findings],
    )
    return "\n".join(lines) + "\n"
