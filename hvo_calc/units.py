"""Binary sizes: parse what users type, print what the kernel prints.

All sizes are binary (K = KiB = 1024 bytes). The kernel's own boot line formats sizes
with `string_get_size(..., STRING_UNITS_2, ...)` to three significant digits ("2.00 MiB",
"32.0 MiB", "512 MiB"), which `kernel_size_text` reproduces so users can compare with
dmesg; `human_size` is the report's own, always two decimals.
"""

import re

from hvo_calc.errors import InputError

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

_UNITS = {"": 1, "K": KiB, "M": MiB, "G": GiB, "T": TiB, "P": 1 << 50}
# ASCII digits only, and few enough of them (int() refuses over 4300 digits): 30 is past 2**64 bytes.
_SIZE_RE = re.compile(r"^\s*(\d{1,30})\s*([KMGTP]?)(?:I?B)?\s*$", re.IGNORECASE | re.ASCII)


def parse_size(text: str | int, what: str = "size") -> int:
    """Bytes in `text` ("64K", "64KiB", "2M", "1G", "16G" or a plain byte count)."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise InputError(
            f"{what} {text!r} is not a size: use a whole number with a binary unit, e.g. 64K, 64KiB, 2M, 1G, 16G"
        )
    if isinstance(text, int):
        if text < 0:
            raise InputError(f"{what} {text} is negative: use a whole number of bytes, or a size such as 2M")
        return text
    match = _SIZE_RE.match(text)
    if not match:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise InputError(
            f"{what} {shown!r} is not a size: use a whole number with a binary unit, e.g. 64K, 64KiB, 2M, 1G, 16G"
        )
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def short_size(size_bytes: int) -> str:
    """The shortest exact spelling, as users type it: 4K, 2M, 1G, 16G."""
    for suffix in "PTGMK":
        unit = _UNITS[suffix]
        if size_bytes >= unit and size_bytes % unit == 0:
            return f"{size_bytes // unit}{suffix}"
    return str(size_bytes)


KERNEL_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def kernel_size_text(size_bytes: int) -> str:
    """A size as the kernel's string_get_size(size, 1, STRING_UNITS_2) prints it (lib/
    string_helpers.c): reduced below 1024 by whole divisions, three significant digits from
    the last remainder in thousandths, rounded half up: "2.00 MiB", "64.0 KiB", "512 MiB"."""
    size, exponent, remainder = size_bytes, 0, 0
    while size >> 32:  # Napier's reduction to 32 bits: its remainders are thrown away
        size, exponent = size // 1024, exponent + 1
    while size >= 1024:
        size, remainder = divmod(size, 1024)
        exponent += 1
    decimals = 0 if size == 0 else next(j for j in range(3) if size * 10**j * 10 >= 1000)
    remainder = remainder * 1000 // 1024 + (500, 50, 5)[decimals]
    if remainder >= 1000:
        remainder, size = remainder - 1000, size + 1
    fraction = f".{remainder:03d}"[: decimals + 1] if decimals else ""
    unit = KERNEL_UNITS[exponent] if exponent < len(KERNEL_UNITS) else "UNK"
    return f"{size}{fraction} {unit}"


def human_size(size_bytes: int) -> str:
    """A readable binary size with two decimals: 2.00 MiB, 16.00 GiB (the reports' own)."""
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
