"""What a host itself reads: the kernel command line, a GRUB drop-in, sysctl.d and tuned.

Boot-time pools go on the command line (`hugepages=`); run-time pools are set after boot:
vm.nr_hugepages for the default size on a one-node plan, sysfs for other sizes and for
pools per NUMA node (vm.nr_hugepages spreads a count over the nodes). The HVO switch must
be set before a pool is allocated: a hugepage allocated while it is off stays unoptimized.
"""

import textwrap

from hvo_calc.advice import cannot_have
from hvo_calc.kernel_cmdline import cmdline_for, default_size_bytes, runtime_counts, total_counts
from hvo_calc.kernels import behaviour
from hvo_calc.models import PlanReport
from hvo_calc.planner import PlanRequest
from hvo_calc.units import short_size

HVO_SYSCTL = "vm.hugetlb_optimize_vmemmap"
Setting = tuple[str, str]  # (sysctl key or sysfs path, value)


def plan_line(report: PlanReport) -> str:
    """The plan in a few words, for the first comment of each file."""
    host = report.host
    pools = ", ".join(
        f"{p.name} {p.hugepages} x {p.hugepage_size}{' at boot' if p.boot_time else ''}" for p in report.pools
    )
    return f"{host.arch} {short_size(host.base_page_bytes)} pages, Linux {host.kernel}: {pools}"


def comment(text: str) -> list[str]:
    """Text as comment lines of at most 100 characters."""
    return [f"# {line}" for line in textwrap.wrap(text, width=98, break_on_hyphens=False)]


def plan_comment(report: PlanReport) -> list[str]:
    return comment(f"for {plan_line(report)}")


def _kernel_has_hvo(request: PlanRequest, report: PlanReport) -> bool:
    return behaviour(request.kernel, report.host.arch).hvo_available


def sysctls(request: PlanRequest, report: PlanReport) -> list[Setting]:
    """The sysctls: the HVO switch (where the kernel has it) and, where the default size has
    run-time pools on a one-node plan, vm.nr_hugepages: all its hugepages, boot-time ones too."""
    settings: list[Setting] = []
    if _kernel_has_hvo(request, report):
        settings.append((HVO_SYSCTL, "1" if request.hvo else "0"))
    default = default_size_bytes(report)
    runtime = runtime_counts(report)
    if len(request.nodes) <= 1 and default in runtime:
        settings.append(("vm.nr_hugepages", str(sum(total_counts(report)[default].values()))))
    return settings


def sysfs_settings(request: PlanRequest, report: PlanReport) -> list[Setting]:
    """Run-time pools no sysctl can set: another size than the default, or per NUMA node.
    nr_hugepages is the whole count of its size (and node), boot-time hugepages included."""
    default, total = default_size_bytes(report), total_counts(report)
    settings: list[Setting] = []
    for size, runtime in runtime_counts(report).items():
        per_node = {node: total[size][node] for node in runtime}
        leaf = f"hugepages/hugepages-{size // 1024}kB/nr_hugepages"
        if len(request.nodes) > 1:
            settings += [(f"/sys/devices/system/node/node{n}/{leaf}", str(c)) for n, c in sorted(per_node.items())]
        elif size != default:
            settings.append((f"/sys/kernel/mm/{leaf}", str(sum(per_node.values()))))
    return settings


def boot_pool_note(report: PlanReport) -> list[str]:
    """Boot-time pools exist before any sysctl applies: only the command line reaches them."""
    boot = [p.name for p in report.pools if p.boot_time]
    if not boot:
        return []
    return comment(
        f"The pools allocated at boot ({', '.join(boot)}) exist before this applies: only the kernel "
        "command line gives them HVO (hvo-calc config --emit cmdline)."
    )


def hvo_note(request: PlanRequest, report: PlanReport) -> list[str]:
    """Where the kernel has no HVO, a comment saying so instead of a switch it lacks."""
    if _kernel_has_hvo(request, report):
        return []
    return comment(f"{cannot_have(behaviour(request.kernel, report.host.arch))}: no {HVO_SYSCTL} to set.")


def cmdline_text(request: PlanRequest, report: PlanReport) -> str:
    """The kernel parameters, one line."""
    return cmdline_for(request, report) + "\n"


def grub_text(request: PlanRequest, report: PlanReport) -> str:
    """A drop-in for /etc/default/grub.d/ adding the parameters to the default entries."""
    return "\n".join(
        [
            "# /etc/default/grub.d/90-hvo-calc.cfg: written by `hvo-calc config --emit grub`",
            *plan_comment(report),
            "# Then: update-grub (Debian, Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg, and reboot.",
            *hvo_note(request, report),
            f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {cmdline_for(request, report)}"',
            "",
        ]
    )


def sysctl_text(request: PlanRequest, report: PlanReport) -> str:
    """An /etc/sysctl.d/ file: the HVO switch first, then the run-time pools."""
    lines = [
        "# /etc/sysctl.d/10-hvo-calc.conf: written by `hvo-calc config --emit sysctl`",
        *plan_comment(report),
        f"# It must apply before the pools are allocated: a hugepage allocated while {HVO_SYSCTL}",
        "# is 0 keeps all its vmemmap until it is freed and allocated again. systemd-sysctl applies",
        "# /etc/sysctl.d/ early at boot; on a running host: sysctl --system, then allocate the pools.",
        *hvo_note(request, report),
        *boot_pool_note(report),
    ]
    if any(key == "vm.nr_hugepages" for key, _ in sysctls(request, report)):
        default = short_size(default_size_bytes(report))
        lines.append(f"# vm.nr_hugepages counts hugepages of the default size ({default}).")
    lines += [f"{key} = {value}" for key, value in sysctls(request, report)]
    extra = sysfs_settings(request, report)
    if extra:
        lines.append("# Run-time pools no sysctl sets (another size, or per NUMA node): after the above, as root:")
        lines += [f"#   echo {value} > {path}" for path, value in extra]
    return "\n".join(lines) + "\n"


def tuned_text(request: PlanRequest, report: PlanReport) -> str:
    """A tuned profile: the parameters through the bootloader plugin, the switch and the
    run-time pools through the sysctl plugin (and sysfs where no sysctl sets a pool)."""
    lines = [
        "# /etc/tuned/hvo-calc/tuned.conf: written by `hvo-calc config --emit tuned`",
        *plan_comment(report),
        "# Then: tuned-adm profile hvo-calc (or include=hvo-calc in your own profile), and reboot",
        "# for the command line.",
        *hvo_note(request, report),
        "",
        "[main]",
        "summary=HVO and hugepage pools planned by hvo-calc",
        "",
        "[bootloader]",
        f"cmdline_hvo={cmdline_for(request, report)}",
    ]
    settings = sysctls(request, report)
    if settings:
        lines += ["", "[sysctl]", *(f"{key}={value}" for key, value in settings)]
    extra = sysfs_settings(request, report)
    if extra:
        lines += ["", "[sysfs]", *(f"{path}={value}" for path, value in extra)]
    return "\n".join(lines) + "\n"
