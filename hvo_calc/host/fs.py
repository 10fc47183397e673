"""One filesystem object rooted at a directory: the live host's `/`, or a captured tree.

Every reader of `inspect` goes through `HostFS.read`, which never raises: a file is
read (its text), absent, or unreadable (an OS error, or bytes that are not text), and
the result says which. The object remembers every file it read, byte for byte, and
every file it could not read with the reason, so `--capture` can write a tree that
`--root` reads back to the same result.

A tree is untrusted: each path is walked one component at a time from a descriptor of
the root (`openat` with O_NOFOLLOW and O_DIRECTORY), so no name can lead out of it. A
symbolic link is followed only while it stays inside the tree; one that leaves it is a
problem, never read. Only regular files are read (the kernel's /proc and /sys files are
regular files too), opened with O_NONBLOCK and checked with fstat, so a FIFO, socket
or device is a problem, never a wait; reads stop at `MAX_FILE_BYTES`.

Paths are relative to the root and written without a leading slash ("proc/meminfo"), so
the same path names a file on the live host and in a capture.
"""

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

# /proc and /sys files are small; zoneinfo of a large machine is a few hundred KiB.
MAX_FILE_BYTES = 16 << 20
READ_CHUNK_BYTES = 64 << 10
# The kernel's own limit on symbolic links followed in one lookup (MAXSYMLINKS).
MAX_SYMLINKS = 40
# A capture's record of the files the original could not read: `path<TAB>reason` lines.
UNREADABLE_FILE = "unreadable.txt"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class Problem:
    """Something inspect could not read or understand: where, and what."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass(frozen=True)
class FileText:
    """One file as read: `text`, or `error` ("absent" when it does not exist)."""

    path: str
    text: str | None = None
    error: str | None = None

    @property
    def absent(self) -> bool:
        return self.error == "absent"

    def problem(self, what: str = "") -> Problem:
        """The reading error as a problem, e.g. "proc/vmstat: absent (needed for ...)"."""
        detail = self.error or "unreadable"
        return Problem(self.path, f"{detail}{f' ({what})' if what else ''}")


@dataclass(frozen=True)
class Listing:
    """One directory's names, sorted, or `error` ("absent" when it does not exist)."""

    path: str
    names: tuple[str, ...] = ()
    error: str | None = None

    @property
    def absent(self) -> bool:
        return self.error == "absent"


class Refused(Exception):
    """A path that is not read, and why (the reason is the whole message)."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def read_bounded(fd: int, limit: int = MAX_FILE_BYTES, chunk: int = READ_CHUNK_BYTES) -> bytes:
    """Read to the end in page-sized reads, as cat does (a sysctl's handler allocates a
    buffer as large as the read asks for, and fails a large one with ENOMEM), but never
    more than `limit` bytes; more than that raises Refused."""
    parts: list[bytes] = []
    size = 0
    while True:
        part = os.read(fd, chunk)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            raise Refused(f"larger than {limit >> 20} MiB: not a /proc or /sys file; not read")
        parts.append(part)


def read_regular(fd: int, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the open file `fd`, when it is a regular file of at most `limit` bytes."""
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        raise Refused(f"{kind_of(status.st_mode)}, not a regular file; not read")
    if status.st_size > limit:
        raise Refused(f"larger than {limit >> 20} MiB: not a /proc or /sys file; not read")
    return read_bounded(fd, limit)


def decode_text(data: bytes) -> str:
    """UTF-8 text without NUL bytes, or Refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not text (bytes that are not UTF-8)") from None
    if "\x00" in text:
        raise Refused("not text (contains NUL bytes)")
    return text


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "absent"
    if exc.errno == errno.ELOOP:
        return "a symbolic link (changed while being read); not read"
    if exc.errno == errno.ENXIO:
        return "a socket, not a regular file; not read"
    return f"cannot read: {exc.strerror or exc}"


class _Walk:
    """One lookup of a relative path inside the tree, from a descriptor of the root: each
    component opened with O_NOFOLLOW, a symbolic link resolved against the directories
    already walked (its `..` cannot climb above the root; an absolute target leaves)."""

    def __init__(self, root: Path, path: str) -> None:
        self.path = path
        self.fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        self.links = 0

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def last(self) -> tuple[int, str, os.stat_result]:
        """The directory descriptor, name and lstat of the path's last component (no link)."""
        pending = [part for part in self.path.split("/") if part not in ("", ".")]
        while True:
            if not pending:  # the path ends in a directory already walked ("", "..", a link to ".")
                return self.fds[-1], ".", os.fstat(self.fds[-1])
            name = pending.pop(0)
            if name == "..":
                self._up()
                continue
            status = os.stat(name, dir_fd=self.fds[-1], follow_symlinks=False)
            if stat.S_ISLNK(status.st_mode):
                pending = self._follow(name) + pending
                continue
            if not pending:
                return self.fds[-1], name, status
            if stat.S_ISREG(status.st_mode):
                raise Refused("absent")  # as the kernel says it: ENOTDIR
            if not stat.S_ISDIR(status.st_mode):
                raise Refused(f"{name!r} on its way is {kind_of(status.st_mode)}, not a directory; not read")
            self.fds.append(os.open(name, _DIR_FLAGS, dir_fd=self.fds[-1]))

    def _up(self) -> None:
        if len(self.fds) == 1:
            raise Refused("a symbolic link that leaves the tree (through '..'); not read")
        os.close(self.fds.pop())

    def _follow(self, name: str) -> list[str]:
        self.links += 1
        if self.links > MAX_SYMLINKS:
            raise Refused(f"more than {MAX_SYMLINKS} symbolic links (a loop); not read")
        target = os.readlink(name, dir_fd=self.fds[-1])
        if target.startswith("/"):
            raise Refused(f"a symbolic link that leaves the tree (to {target[:80]!r}); not read")
        return [part for part in target.split("/") if part not in ("", ".")]


class HostFS:
    """The files of one host under `root`; `live` when root is the running system's `/`."""

    def __init__(self, root: str | os.PathLike[str] = "/", live: bool = False) -> None:
        self.root = Path(root)
        self.live = live
        self._read: dict[str, bytes] = {}
        self._unreadable: dict[str, str] = {}  # path -> why it was not read (not "absent")
        self._recorded: dict[str, str] = {}  # a capture's unreadable.txt: path -> why
        self._cache: dict[str, FileText] = {}

    def read(self, path: str) -> FileText:
        """The text of `path` (relative to the root); never raises."""
        path = path.lstrip("/")
        if path not in self._cache:
            self._cache[path] = self._read_uncached(path)
        return self._cache[path]

    def _read_uncached(self, path: str) -> FileText:
        try:
            if path in self._recorded:
                raise Refused(self._recorded[path])
            data = self._open_and_read(path)
            text = decode_text(data)
        except (Refused, OSError) as exc:
            return FileText(path, error=self._note(path, exc))
        self._read[path] = data
        return FileText(path, text=text)

    def _open_and_read(self, path: str) -> bytes:
        walk = _Walk(self.root, path)
        try:
            directory, name, status = walk.last()
            if stat.S_ISDIR(status.st_mode):
                raise Refused("is a directory, not a file")
            if not stat.S_ISREG(status.st_mode):  # never opened: opening a device can act
                raise Refused(f"{kind_of(status.st_mode)}, not a regular file; not read")
            fd = os.open(name, _FILE_FLAGS, dir_fd=directory)
            try:
                return read_regular(fd)
            finally:
                os.close(fd)
        finally:
            walk.close()

    def _note(self, path: str, exc: Exception) -> str:
        """Why `path` was not read; remembered (for `--capture`) unless it is absent."""
        reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
        if reason != "absent":
            self._unreadable[path] = reason
        return reason

    def listdir(self, path: str) -> Listing:
        """Names in a directory, sorted, or why they could not be listed."""
        path = path.lstrip("/")
        try:
            if path in self._recorded:
                raise Refused(self._recorded[path])
            walk = _Walk(self.root, path)
            try:
                directory, name, status = walk.last()
                if not stat.S_ISDIR(status.st_mode):
                    raise Refused(f"{kind_of(status.st_mode)}, not a directory; not read")
                fd = os.open(name, _DIR_FLAGS, dir_fd=directory)
                try:
                    names = tuple(sorted(os.listdir(fd)))
                finally:
                    os.close(fd)
            finally:
                walk.close()
        except (Refused, OSError) as exc:
            return Listing(path, error=self._note(path, exc))
        return Listing(path, names)

    def record_unreadable(self, recorded: dict[str, str]) -> None:
        """A capture's unreadable.txt: those paths read as the original host read them."""
        self._recorded.update(recorded)

    @property
    def files_read(self) -> dict[str, bytes]:
        """Every file read successfully, path -> its bytes (for `--capture`)."""
        return dict(sorted(self._read.items()))

    @property
    def unreadable(self) -> dict[str, str]:
        """Every file or directory that could not be read, path -> why (for `--capture`)."""
        return dict(sorted(self._unreadable.items()))


def parse_unreadable(text: str) -> dict[str, str]:
    """unreadable.txt: `path<TAB>reason` lines."""
    recorded: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        path, tab, reason = line.partition("\t")
        if not tab or not path or not reason:
            raise ValueError(f"line {number} is not 'path<TAB>reason'")
        recorded[path.lstrip("/")] = reason
    return recorded


def unreadable_text(unreadable: dict[str, str]) -> str:
    return "".join(f"{path}\t{' '.join(reason.split())}\n" for path, reason in sorted(unreadable.items()))
