"""`--capture DIR`: the files inspect read, written into a tree that `--root DIR` reads.

Only those files, byte for byte, at the same relative paths, plus three files of the
tree's own that the live host answers by other means:

- `uname.txt`: `machine=`, `release=` and `page_size=` (uname -m, uname -r, the page size),
- `dmesg-hugetlb.txt`: the HugeTLB lines of the kernel log, when it was read,
- `unreadable.txt`: each file or directory that could not be read, and why, so that
  inspecting the capture reports the same state and problems as the original did.

DIR must be absent or an empty directory. The tree is built in a fresh temporary
directory beside DIR (every file created with O_EXCL and O_NOFOLLOW, every directory
walked by descriptor) and renamed into place whole: a failure part way (a full disk,
Ctrl-C) leaves nothing. A capture is written even when nothing could be planned (for a
bug report); a capture of a capture is the same tree, less any file the first did not need.
"""

import os
import shutil
import stat
import tempfile
from pathlib import Path

from hvo_calc.errors import InputError
from hvo_calc.host.collect import DMESG_FILE, UNAME_FILE, Collected
from hvo_calc.host.fs import UNREADABLE_FILE, HostFS, kind_of, unreadable_text
from hvo_calc.host.resolve import machine_of, page_of

_OWN_FILES = (UNAME_FILE, DMESG_FILE, UNREADABLE_FILE)


def capture_files(fs: HostFS, found: Collected) -> dict[str, bytes]:
    """Relative path -> content of every file the capture holds."""
    files = {path: data for path, data in fs.files_read.items() if path not in _OWN_FILES}
    machine, _ = machine_of(found)
    page, _, _ = page_of(found)
    uname = {"machine": machine, "release": found.release, "page_size": page}
    text = "".join(f"{key}={value}\n" for key, value in uname.items() if value)
    if text:
        files[UNAME_FILE] = text.encode()
    if found.dmesg and found.dmesg.lines:
        files[DMESG_FILE] = ("\n".join(found.dmesg.lines) + "\n").encode()
    unreadable = {path: why for path, why in fs.unreadable.items() if path != UNREADABLE_FILE}
    if unreadable:
        files[UNREADABLE_FILE] = unreadable_text(unreadable).encode()
    return dict(sorted(files.items()))


def _cannot(directory: str | os.PathLike[str], why: str) -> InputError:
    return InputError(f"cannot write --capture {str(directory)!r}: {why}")


def check_capture_target(directory: str | os.PathLike[str]) -> None:
    """DIR is absent or an empty directory (not a link to one), in a directory that exists."""
    target = Path(directory)
    try:
        status = os.lstat(target)
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise _cannot(directory, f"{str(target.parent)!r} is not a directory") from None
        return
    except OSError as exc:
        raise _cannot(directory, exc.strerror or str(exc)) from None
    if not stat.S_ISDIR(status.st_mode):
        raise _cannot(directory, f"it is {kind_of(status.st_mode)}; give a new or empty directory")
    try:
        empty = not os.listdir(target)
    except OSError as exc:
        raise _cannot(directory, exc.strerror or str(exc)) from None
    if not empty:
        raise _cannot(directory, "it is not empty; give a new or empty directory")


def _write_file(top: int, path: str, data: bytes, mode: int) -> None:
    """Create `path` under the directory `top`: its directories made and opened one by one
    without following links, the file created new (O_EXCL), written whole and synced."""
    *parents, name = path.split("/")
    fds = [os.dup(top)]
    try:
        for part in parents:
            try:
                os.mkdir(part, 0o777, dir_fd=fds[-1])
            except FileExistsError:
                pass
            fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fds[-1]))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, mode, dir_fd=fds[-1])
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        for fd in fds:
            os.close(fd)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_capture(fs: HostFS, found: Collected, directory: str | os.PathLike[str]) -> list[str]:
    """Write the capture at `directory` (absent or empty) in one rename; the paths written."""
    check_capture_target(directory)
    target = Path(directory)
    if target.exists() and target.resolve() == fs.root.resolve():
        raise _cannot(directory, "it is the tree being read (--root)")
    files = capture_files(fs, found)
    umask = _umask()
    try:
        building = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot(directory, exc.strerror or str(exc)) from None
    try:
        top = os.open(building, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            for path, data in files.items():
                _write_file(top, path, data, 0o666 & ~umask)
            os.fchmod(top, 0o777 & ~umask)
        finally:
            os.close(top)
        os.rename(building, target)  # replaces an empty directory; refuses anything else
    except BaseException as exc:
        shutil.rmtree(building, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _cannot(directory, exc.strerror or str(exc)) from None
        raise
    return list(files)
