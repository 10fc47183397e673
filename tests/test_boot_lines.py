"""Boot lines as the kernel prints them: string_get_size's three significant digits, held
against the HugeTLB lines of every captured host's kernel log."""

import json
import re
from pathlib import Path

import pytest

from hvo_calc.host.readers import kernel_size
from hvo_calc.units import kernel_size_text

HOSTS = Path(__file__).parent / "fixtures" / "hosts"
LOGS = sorted(HOSTS.glob("*/dmesg*"))
SIZE_IN_LINE = re.compile(r"HugeTLB: (?:registered (.+?) page size|\d+ KiB vmemmap can be freed for a (.+?) page)")
FREED_LINE = re.compile(r"(HugeTLB: \d+ KiB vmemmap can be freed for a (.+?) page)")
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize(
    "size, text",
    [
        (2 * MiB, "2.00 MiB"),
        (32 * MiB, "32.0 MiB"),
        (512 * MiB, "512 MiB"),
        (64 * KiB, "64.0 KiB"),
        (16 * GiB, "16.0 GiB"),
        (1 * GiB, "1.00 GiB"),
        (16 * MiB, "16.0 MiB"),
        (1536, "1.50 KiB"),  # a remainder, rounded in thousandths
        (1000, "1000 B"),
        (0, "0 B"),
    ],
)
def test_kernel_size_text(size, text):
    assert kernel_size_text(size) == text


def test_every_captured_log_has_hugetlb_lines():
    assert len(LOGS) == len([p for p in HOSTS.iterdir() if p.is_dir()])
    assert all(SIZE_IN_LINE.search(log.read_text()) for log in LOGS)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.parent.name)
def test_sizes_read_back_as_the_kernel_printed_them(log):
    sizes = [a or b for a, b in SIZE_IN_LINE.findall(log.read_text())]
    assert sizes
    for text in sizes:
        size = kernel_size(text)
        assert size is not None and kernel_size_text(size) == text


def _host(log: Path) -> tuple[str, str]:
    """The captured host's `uname -m` and upstream release (its directory's name says it)."""
    uname = dict(line.split("=", 1) for line in (log.parent / "uname.txt").read_text().split())
    return uname["machine"], log.parent.name.split("_")[1]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.parent.name)
def test_planned_boot_line_is_the_kernels(run, log):
    machine, release = _host(log)
    lines = FREED_LINE.findall(log.read_text())
    assert lines
    for line, text in lines:
        size = kernel_size(text)
        result = run("plan", "--arch", machine, "--kernel", release, "--huge", str(size), "--format", "json")
        assert result.exit_code == 0, result.stderr
        (pool,) = json.loads(result.stdout)["pools"]
        assert pool["boot_line"] == line
