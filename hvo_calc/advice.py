"""The advice line: what to do about HVO, saying only what applies.

Nothing where HVO is on (a host) or switched off on purpose (a plan with `--hvo off`);
"cannot have HVO" and why where the release or architecture lacks it; for pools allocated at
boot only the kernel command line (the sysctl is read after they exist); for pools allocated
at run time the sysctl, set before they are allocated, and that hugepages allocated already
stay as they are until they are allocated again.
"""

from collections.abc import Sequence

from hvo_calc.kernels import KernelBehaviour
from hvo_calc.models import PlanReport, PoolReport
from hvo_calc.record import replace


def cannot_have(kernel: KernelBehaviour) -> str:
    """Why this release on this architecture has no HVO at all."""
    why = kernel.why_unavailable.rstrip(".")
    return f"Linux {kernel.release or kernel.version} on {kernel.arch} cannot have HVO: {why}"


def turn_on_steps(boot: Sequence[str], runtime: Sequence[str], allocated: bool) -> str:
    """How to turn HVO on for these pools: the command line for the boot-time ones, the sysctl
    for the run-time ones (`allocated`: they exist already and must be allocated again)."""
    steps = []
    if boot:
        steps.append(
            "add hugetlb_free_vmemmap=on to the kernel command line and reboot (the only way for "
            f"the pools allocated at boot: {', '.join(boot)})"
        )
    if runtime:
        when = ", then shrink each pool to 0 and allocate it again" if allocated else " before the pools are allocated"
        after = (
            "stay unoptimized"
            if allocated
            else "stay as they are until they are allocated again (`hvo-calc config --emit sysctl` writes the file)"
        )
        steps.append(
            f"{'or, for the pools allocated at run time, ' if boot else ''}run `sysctl -w "
            f"vm.hugetlb_optimize_vmemmap=1` (persist it in /etc/sysctl.d/){when} "
            f"({', '.join(runtime)}): hugepages allocated before the change {after}"
        )
    return "; ".join(steps)


def boot_and_runtime(pools: Sequence[PoolReport]) -> tuple[list[str], list[str]]:
    """The names of the pools allocated at boot, and of those allocated at run time."""
    return [p.name for p in pools if p.boot_time], [p.name for p in pools if not p.boot_time]


def plan_advice(hvo: bool, kernel: KernelBehaviour, pools: Sequence[PoolReport]) -> str | None:
    """A plan's advice: how to have HVO as planned (distribution kernels leave it off)."""
    if not kernel.hvo_available:
        return cannot_have(kernel) + "."
    optimized = [p for p in pools if p.hvo_active]
    if not hvo or not optimized:
        return None
    steps = turn_on_steps(*boot_and_runtime(optimized), allocated=False)
    return f"distribution kernels leave it off; to have it as planned: {steps}"


def host_advice(state: str, kernel: KernelBehaviour, plan: PlanReport) -> str | None:
    """A host's advice, by HVO's state there: nothing where it is on (or not known)."""
    if state == "not available":
        return cannot_have(kernel) + "."
    if state == "not built":
        return "not built into this kernel (CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP is not set)."
    would = [p for p in plan.pools if p.would_free]
    if state != "off" or not would:
        return None
    return f"off on this host; to turn it on: {turn_on_steps(*boot_and_runtime(would), allocated=True)}."


def with_host_advice(plan: PlanReport, state: str, kernel: KernelBehaviour) -> PlanReport:
    """The plan of a host's pools, its advice line the host's own."""
    return replace(plan, host=replace(plan.host, hvo_enable_hint=host_advice(state, kernel, plan)))
