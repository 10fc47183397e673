"""`--write-config FILE`: the plan inspect ran, as a plan file (`plan --config` reads it),
for editing into a what-if: change a count, a kernel, `hvo`, add `shrink_to`, and run
`hvo-calc plan --config FILE` or `check`.

Values are written so that the file gives the same plan back: node memory in bytes (the
nodes' MemTotal), the kernel release the plan used, hugepage sizes as `short_size`.
"""

import json

from hvo_calc.host.models import InspectReport
from hvo_calc.planner import PlanRequest
from hvo_calc.units import short_size


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def plan_file_text(request: PlanRequest, report: InspectReport) -> str:
    host = report.host
    lines = [
        "# Written by `hvo-calc inspect --write-config`: the plan of this host's hugepage pools.",
        f"# Host: {host.machine}, Linux {host.kernel_release}"
        f"{f' ({host.kernel_version})' if host.kernel_version else ''}; HVO {host.hvo.state}"
        f"{f' (vm.hugetlb_optimize_vmemmap = {host.hvo.sysctl})' if host.hvo.sysctl is not None else ''}.",
        "# Edit it into a what-if and run: hvo-calc plan --config THIS_FILE (or hvo-calc check).",
        "",
        "[host]",
        f"arch = {_toml_string(request.arch)}",
    ]
    if request.base_page:
        lines.append(f"base_page = {_toml_string(short_size(request.base_page))}")
    if request.paging:
        lines.append(f"paging = {request.paging}")
    lines += [f"kernel = {_toml_string(request.kernel)}", f"hvo = {'true' if request.hvo else 'false'}"]
    host_nodes = [n for n in host.nodes if n.memory_bytes]
    for index, node in enumerate(request.nodes):
        name = f"node {host_nodes[index].node}" if index < len(host_nodes) else f"node {index}"
        lines += ["", f"[[node]]  # {name}: MemTotal {node.memory} bytes", f"memory = {node.memory}"]
    for pool in request.pools:
        lines += [
            "",
            "[[pool]]",
            f"name = {_toml_string(pool.name or '')}",
            f"size = {_toml_string(short_size(pool.size_bytes))}",
            f"count = {pool.count}",
            f"node = {pool.node}",
            f"boot = {'true' if pool.boot else 'false'}",
        ]
    return "\n".join(lines) + "\n"
