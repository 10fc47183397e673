"""`--capture DIR`: the files inspect read, written into a tree that `--root DIR` reads.

Only those files, byte for byte, at the same relative paths, plus two files of the
tree's own that the live host answers by other means:

- `uname.txt`: `machine=`, `release=` and `page_size=` (uname -m, uname -r, the page size),
- `dmesg-hugetlb.txt`: the HugeTLB lines of the kernel log, when it was read.

A capture is written even when nothing could be planned (for a bug report); a capture
of a capture is the same tree, less any file the first did not need.
"""

import os
from pathlib import Path

from hvo_calc.errors import InputError
from hvo_calc.host.collect import DMESG_FILE, UNAME_FILE, Collected
from hvo_calc.host.fs import HostFS
from hvo_calc.host.resolve import machine_of, page_of


def capture_files(fs: HostFS, found: Collected) -> dict[str, bytes]:
    """Relative path -> content of every file the capture holds."""
    files = {path: data for path, data in fs.files_read.items() if path not in (UNAME_FILE, DMESG_FILE)}
    machine, _ = machine_of(found)
    page, _, _ = page_of(found)
    uname = {"machine": machine, "release": found.release, "page_size": page}
    text = "".join(f"{key}={value}\n" for key, value in uname.items() if value)
    if text:
        files[UNAME_FILE] = text.encode()
    if found.dmesg and found.dmesg.lines:
        files[DMESG_FILE] = ("\n".join(found.dmesg.lines) + "\n").encode()
    return dict(sorted(files.items()))


def write_capture(fs: HostFS, found: Collected, directory: str | os.PathLike[str]) -> list[str]:
    """Write the capture under `directory` (created if needed); the paths written."""
    root = Path(directory)
    written = []
    try:
        if root.resolve() == fs.root.resolve():
            raise InputError(f"--capture {str(directory)!r} is the tree being read (--root)")
        for path, data in capture_files(fs, found).items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(path)
    except OSError as exc:
        raise InputError(f"cannot write --capture {str(directory)!r}: {exc.strerror or exc}") from None
    return written
