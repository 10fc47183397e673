"""One filesystem object rooted at a directory: the live host's `/`, or a captured tree.

Every reader of `inspect` goes through `HostFS.read`, which never raises: a file is
read (its text), absent, or unreadable (an OS error, or bytes that are not text), and
the result says which. The object remembers every file it read, byte for byte, so
`--capture` can write exactly those files into a tree that `--root` reads back.

Paths are relative to the root and written without a leading slash ("proc/meminfo"), so
the same path names a file on the live host and in a capture.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# /proc and /sys files are small; zoneinfo of a large machine is a few hundred KiB.
MAX_FILE_BYTES = 16 << 20
READ_CHUNK_BYTES = 64 << 10


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


def read_chunks(handle: BinaryIO, chunk: int = READ_CHUNK_BYTES) -> bytes:
    """Read to the end in page-sized reads, as cat does: a sysctl's handler allocates a
    buffer as large as the read asks for, and fails a large one with ENOMEM."""
    parts: list[bytes] = []
    size = 0
    while size <= MAX_FILE_BYTES:
        part = handle.read(chunk)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class HostFS:
    """The files of one host under `root`; `live` when root is the running system's `/`."""

    def __init__(self, root: str | os.PathLike[str] = "/", live: bool = False) -> None:
        self.root = Path(root)
        self.live = live
        self._read: dict[str, bytes] = {}
        self._cache: dict[str, FileText] = {}

    def read(self, path: str) -> FileText:
        """The text of `path` (relative to the root); never raises."""
        path = path.lstrip("/")
        if path in self._cache:
            return self._cache[path]
        result = self._read_uncached(path)
        self._cache[path] = result
        return result

    def _read_uncached(self, path: str) -> FileText:
        full = self.root / path
        try:
            with open(full, "rb", buffering=0) as handle:
                data = read_chunks(handle)
        except FileNotFoundError:
            return FileText(path, error="absent")
        except NotADirectoryError:
            return FileText(path, error="absent")
        except IsADirectoryError:
            return FileText(path, error="is a directory, not a file")
        except OSError as exc:
            return FileText(path, error=f"cannot read: {exc.strerror or exc}")
        if len(data) > MAX_FILE_BYTES:
            return FileText(path, error=f"larger than {MAX_FILE_BYTES >> 20} MiB: not a /proc or /sys file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return FileText(path, error="not text (bytes that are not UTF-8)")
        if "\x00" in text:
            return FileText(path, error="not text (contains NUL bytes)")
        self._read[path] = data
        return FileText(path, text=text)

    def listdir(self, path: str) -> list[str] | None:
        """Names in a directory, sorted; None when it is absent or unreadable."""
        try:
            return sorted(os.listdir(self.root / path.lstrip("/")))
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return (self.root / path.lstrip("/")).exists()

    @property
    def files_read(self) -> dict[str, bytes]:
        """Every file read successfully, path -> its bytes (for `--capture`)."""
        return dict(sorted(self._read.items()))
