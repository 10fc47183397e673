"""`--write-config FILE`: the plan inspect ran, as a plan file (`plan --config` reads it),
for editing into a what-if: change a count, a kernel, `hvo`, add `shrink_to`, and run
`hvo-calc plan --config FILE` or `check`.

Values are written so that the file gives the same plan back: node memory in bytes (the
nodes' MemTotal), the kernel release the plan used, hugepage sizes as `short_size`. The
writing itself is the plan-file module's (`hvo_calc.planfile.dump_plan`); this says what
the host adds to it: where it came from, and which node each [[node]] is.
"""

from hvo_calc.host.models import InspectReport
from hvo_calc.planfile import dump_plan
from hvo_calc.planner import PlanRequest, default_hugepage_size
from hvo_calc.profiles import find_profile
from hvo_calc.units import short_size


def plan_file_text(request: PlanRequest, report: InspectReport) -> str:
    host = report.host
    version = f" ({host.kernel_version})" if host.kernel_version else ""
    sysctl = f" (vm.hugetlb_optimize_vmemmap = {host.hvo.sysctl})" if host.hvo.sysctl is not None else ""
    comments = [
        "Written by `hvo-calc inspect --write-config`: the plan of this host's hugepage pools.",
        f"Host: {host.machine}, Linux {host.kernel_release}{version}; HVO {host.hvo.state}{sysctl}.",
        "Edit it into a what-if and run: hvo-calc plan --config THIS_FILE (or hvo-calc check).",
    ]
    host_nodes = [n.node for n in host.nodes if n.memory_bytes]
    ids = host_nodes + list(range(len(host_nodes), len(request.nodes)))
    notes = [f"node {ids[index]}: MemTotal {node.memory} bytes" for index, node in enumerate(request.nodes)]
    profile = find_profile(request.arch, request.base_page, request.paging, request.mmu)
    return dump_plan(request, comments, notes, example_pool=short_size(default_hugepage_size(profile)))
