"""`hvo-calc config --emit KIND`: render a plan into what sets a host up."""

from typing import Any

import click

from hvo_calc.cli import cli
from hvo_calc.cli.options import SingleValued, plan_options, request_from_options
from hvo_calc.cli.report_options import output_option
from hvo_calc.output import emit

KINDS = ("cmdline", "grub", "sysctl", "tuned", "kubelet", "openshift")


@cli.command(cls=SingleValued)
@plan_options
@click.option(
    "--emit",
    "kind",
    type=click.Choice(KINDS),
    required=True,
    help="What to write: cmdline (kernel parameters), grub (/etc/default/grub.d/ drop-in), sysctl "
    "(/etc/sysctl.d/ file), tuned (profile), kubelet (KubeletConfiguration), openshift "
    "(PerformanceProfile). Example: --emit grub",
)
@output_option
def config(kind: str, output: str | None, **options: Any) -> None:
    """Render a plan (the same flags as `plan`, or --config FILE) into the configuration that
    makes a host do it: the kernel command line for boot-time pools and the HVO switch, the
    sysctl for run-time pools, and the files tuned, kubelet and OpenShift read.

    \b
    Examples:
      hvo-calc config --emit cmdline --config configs/examples/x86-vm-host-2node.toml
      hvo-calc config --emit sysctl --huge 2M --count 4096 --kernel 6.12
      hvo-calc config --emit openshift --config host.toml -o profile.yaml
    """
    from hvo_calc.emit import EMITTERS
    from hvo_calc.heap import keep_freed_memory
    from hvo_calc.planner import plan

    request = request_from_options(**options)
    keep_freed_memory()
    emit(EMITTERS[kind](request, plan(request)), output, human=False)
