"""`hvo-calc config --emit KIND`: a plan rendered into what sets a host up.

Each KIND is one function from the plan (its request and its report) to the text of one file:
the kernel command line, a GRUB drop-in, an /etc/sysctl.d/ file, a tuned profile, a
KubeletConfiguration and an OpenShift PerformanceProfile. They format what the plan and its
report say; the kernel parameters come from one place, `hvo_calc.kernel_cmdline`.
"""

from collections.abc import Callable

from hvo_calc.emit.boot import cmdline_text, grub_text, sysctl_text, tuned_text
from hvo_calc.emit.kubernetes import kubelet_text, openshift_text
from hvo_calc.models import PlanReport
from hvo_calc.planner import PlanRequest

Emitter = Callable[[PlanRequest, PlanReport], str]

EMITTERS: dict[str, Emitter] = {
    "cmdline": cmdline_text,
    "grub": grub_text,
    "sysctl": sysctl_text,
    "tuned": tuned_text,
    "kubelet": kubelet_text,
    "openshift": openshift_text,
}
