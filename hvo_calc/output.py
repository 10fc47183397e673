"""Where a rendered report goes: stdout, a file replaced atomically, or a device written in place.

`--output` decides by what the path names now:

* nothing, or a regular file: `write_atomic` writes the whole text to a temporary file in
  the target's directory and `os.replace`s it over the target, so a reader (node_exporter's
  textfile collector, a dashboard poller) sees the old file or the new one, never half of
  one. The temporary name starts with a dot and ends in `.tmp`, which the textfile
  collector ignores (it reads only `*.prom`). An existing file keeps its mode (and, when
  run as root, its owner).
* a symlink: it is followed and its target replaced the same way; the link stays a link.
* a FIFO, /dev/stdout or /proc/self/fd/N, a terminal, or a sink device (/dev/null,
  /dev/zero, /dev/full): written in place, never replaced. A device node is never renamed
  over, whoever runs the tool.
* a directory, a socket, a block device, any other device (opening /dev/watchdog arms it;
  /dev/mem is physical memory), anything else in /proc or /sys: refused.

Every failure (ENOSPC on /dev/full, EACCES, a missing directory, ...) is an `InputError`:
one line, exit code 2.
"""

import errno
import fcntl
import os
import re
import stat
import sys
from typing import TextIO

import click

from hvo_calc.errors import InputError, StdoutClosed

STDOUT = "-"

# Box-drawing characters (U+2500-U+257F) as ASCII, for a terminal whose encoding lacks them.
_BOX = {
    **{code: "-" for code in range(0x2500, 0x2580)},
    **{ord(c): "|" for c in "│┃┆┇┊┋║╎╏"},
    **{
        ord(c): "+"
        for c in "┌┍┎┏┐┑┒┓└┕┖┗┘┙┚┛├┝┞┟┠┡┢┣┤┥┦┧┨┩┪┫┬┭┮┯┰┱┲┳┴┵┶┷┸┹┺┻┼┽┾┿╀╁╂╃╄╅╆╇╈╉╊╋╒╓╔╕╖╗╘╙╚╛╜╝╞╟╠╡╢╣╤╥╦╧╨╩╪╫╬╭╮╯╰"
    },
    **{ord(c): "=" for c in "═"},
}


def _cannot(path: str | os.PathLike[str], exc: OSError | str, option: str = "--output") -> InputError:
    reason = exc if isinstance(exc, str) else (exc.strerror or str(exc))
    return InputError(f"cannot write {option} {str(path)!r}: {reason}")


def _new_file_mode() -> int:
    """The mode `open()` would give a new file: 0o666 less the umask (mkstemp uses 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _same_file(status: os.stat_result, stream: TextIO) -> bool:
    """Whether `status` is the file behind `stream` (our stdout or stderr)."""
    try:
        return os.path.samestat(status, os.fstat(stream.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


def _target_mode(path: str | os.PathLike[str], target: str, option: str) -> tuple[os.stat_result | None, int]:
    """The target's status (None while it does not exist) and the mode its replacement gets;
    anything but a regular file is refused."""
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None, _new_file_mode()
    if not stat.S_ISREG(status.st_mode):
        raise _cannot(path, "not a regular file (it is written in place, never replaced)", option)
    return status, stat.S_IMODE(status.st_mode)


def _keep_owner(temporary: str, status: os.stat_result | None) -> None:
    """Root rewriting another user's file leaves it theirs."""
    if status is not None and os.geteuid() == 0:
        try:
            os.chown(temporary, status.st_uid, status.st_gid)
        except OSError:
            pass


def _still_regular(path: str | os.PathLike[str], target: str, option: str) -> None:
    """Last look before the rename: whatever took the name since must be a regular file."""
    try:
        if not stat.S_ISREG(os.lstat(target).st_mode):
            raise _cannot(path, "it is no longer a regular file; not replaced", option)
    except FileNotFoundError:
        pass


def write_atomic(path: str | os.PathLike[str], text: str, option: str = "--output") -> None:
    """Replace the regular file `path` (or, for a symlink, its target) with `text` (UTF-8) in
    one step; keep an existing file's mode and owner. Never replaces anything but a regular
    file: `write_output` sends devices, FIFOs and sockets to `write_in_place`."""
    target = os.path.realpath(path)  # a symlink stays a link: its target is replaced
    try:
        status, mode = _target_mode(path, target, option)
        import tempfile  # only when writing a file: it costs start-up time otherwise

        prefix = f".{os.path.basename(target)}."
        fd, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=os.path.dirname(target))
    except OSError as exc:
        raise _cannot(path, exc, option) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        _keep_owner(temporary, status)
        _still_regular(path, target, option)
        os.replace(temporary, target)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            raise _cannot(path, exc, option) from None
        raise


def write_in_place(path: str | os.PathLike[str], text: str, regular: bool = False) -> None:
    """Write `text` into what `path` already is (a device, FIFO, /dev/stdout), without
    replacing it. A regular file reached this way (/dev/fd/N, /proc/self/fd/N) is appended
    to, as the shell that opened it asked for, never truncated behind its back."""
    flags = os.O_WRONLY | os.O_NOCTTY | (os.O_APPEND if regular else 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO nobody reads (O_NONBLOCK only)
            raise _cannot(path, "nothing behind it takes writes (a socket, or a device that is not there)") from None
        raise _cannot(path, exc) from None
    data = text.encode("utf-8")
    try:
        with os.fdopen(fd, "wb", buffering=0) as handle:
            view = memoryview(data)
            while view:
                written = handle.write(view)
                view = view[written or 0 :]
                if not written:
                    raise OSError(errno.EIO, "the device took no more")
    except BrokenPipeError:  # the FIFO's reader went away: as for a closed stdout
        raise StdoutClosed from None
    except OSError as exc:
        raise _cannot(path, exc) from None


_FD_ALIAS = re.compile(r"/dev/(stdout|stderr|fd/\d+)|/proc/(self|thread-self|\d+)/fd/\d+")

# Character devices a report may be written into: sinks (/dev/null, /dev/zero, /dev/full)
# and terminals (ttys, the console, pseudo-terminals). Any other device is refused before
# it is opened: opening /dev/watchdog arms it, and a write to /dev/mem, a disk or a flash
# chip would break the host.
_SINKS = {(1, 3), (1, 5), (1, 7)}
_TERMINAL_MAJORS = {4, 5, *range(136, 144)}


def _fd_of_alias(path: str) -> int | None:
    """The descriptor of ours an alias names (/dev/stdout: 1, /dev/fd/9: 9), or None."""
    match = _FD_ALIAS.fullmatch(os.path.abspath(path))
    if match is None or (match[2] not in (None, "self", "thread-self")):
        return None
    named = {"stdout": 1, "stderr": 2}
    return named[match[1]] if match[1] in named else int(path.rsplit("/", 1)[1])


def _is_fd_alias(path: str) -> bool:
    """/dev/stdout, /dev/fd/1, /proc/self/fd/1 and the like: names of open files, not files."""
    return _FD_ALIAS.fullmatch(os.path.abspath(path)) is not None


def _check_in_place(path: str, status: os.stat_result) -> None:
    """Refuse the targets a report must never be written into."""
    mode = status.st_mode
    if stat.S_ISBLK(mode):
        raise _cannot(path, "it is a block device (a disk); refused: give a file name")
    if stat.S_ISCHR(mode):
        device = (os.major(status.st_rdev), os.minor(status.st_rdev))
        if device not in _SINKS and device[0] not in _TERMINAL_MAJORS:
            raise _cannot(
                path,
                f"it is a device ({device[0]}:{device[1]}) other than a terminal or "
                "/dev/null; refused: give a file name",
            )


def _kernel_interface(path: str) -> bool:
    """/proc and /sys (kernel settings and state), other than the names of our open files."""
    if _is_fd_alias(path):
        return False
    return any(
        name == root or name.startswith(root + "/")
        for name in (os.path.abspath(path), os.path.realpath(path))
        for root in ("/proc", "/sys")
    )


def _check_fd_alias(path: str) -> None:
    """/dev/fd/N and the like name a descriptor of ours: it must be open, and for writing."""
    fd = _fd_of_alias(path)
    if fd is None:
        return
    try:
        readable_only = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
    except OSError:
        raise _cannot(path, "no such open file") from None
    if readable_only:
        raise _cannot(path, "that descriptor is open for reading only")


def _write_existing(path: str, status: os.stat_result, text: str) -> bool:
    """Write into what `path` already is where it is not a file to replace (our own stream, a
    device, a FIFO, a descriptor's name); whether it did."""
    if stat.S_ISDIR(status.st_mode):
        raise _cannot(path, "it is a directory; give a file name")
    for stream in (sys.stdout, sys.stderr):
        if _same_file(status, stream):  # -o /dev/stdout: the same file as our own stream
            _echo(text, stream)
            return True
    regular = stat.S_ISREG(status.st_mode)
    if regular and not _is_fd_alias(path):
        return False
    _check_in_place(path, status)
    write_in_place(path, text, regular=regular)
    return True


def write_output(path: str, text: str) -> None:
    """Write `text` to `--output path`, by what the path names now (see the module doc)."""
    if _kernel_interface(path):
        raise _cannot(path, "it is in /proc or /sys, a kernel interface; refused: give a file name")
    if path.endswith(os.sep):
        raise _cannot(path, "a name ending in / is a directory; give a file name")
    _check_fd_alias(path)
    try:
        status: os.stat_result | None = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        status = None  # a new file, or a dangling symlink: created where it points
    except OSError as exc:  # ELOOP, ENOTDIR, EACCES on the way, ...
        raise _cannot(path, exc) from None
    if status is not None and _write_existing(path, status, text):
        return
    if status is None and _is_fd_alias(path):
        raise _cannot(path, "no such open file")
    write_atomic(path, text)


def _encodable(text: str, stream: object) -> str:
    """`text` as the stream's encoding can carry it: box-drawing lines become ASCII where the
    encoding has no box-drawing characters; anything else it lacks is replaced (by the
    stream's error handler) rather than crashing. Text it can encode is left byte-exact."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        return text.translate(_BOX)


def _echo(text: str, stream: TextIO) -> None:
    """Write `text` as it is: whether it carries colour was decided when it was rendered
    (`hvo_calc.console`), so click must not strip it on a pipe (FORCE_COLOR, TTY_COMPATIBLE)."""
    try:
        click.echo(_encodable(text, stream), file=stream, nl=False, color=True)
        stream.flush()
    except BrokenPipeError:
        raise StdoutClosed from None


def emit(text: str, output: str | None, *, human: bool = False) -> None:
    """Print `text` to stdout, or write it to `output` ("-" is stdout).

    A human format written to a file loses any colour codes: a file is not a terminal.
    """
    if output is None or output == STDOUT:
        _echo(text, sys.stdout)
        return
    write_output(output, click.unstyle(text) if human else text)
