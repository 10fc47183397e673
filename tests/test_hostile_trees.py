"""`hvo-calc inspect` on trees built to hurt it: FIFOs, sockets and devices where /proc and
/sys files are expected, symbolic links out of the tree, huge files, runaway id lists,
non-ASCII digits, unreadable files, and capture targets with links planted in them.

Every case asserts the exit code, one problem line naming the file, that nothing outside
the tree was read (a secret beside it never shows up) and that nothing was written
outside the target. A guard interrupts any test that waits (a FIFO opened for reading
blocks until a writer comes), so a hang is a failure, not a stuck suite.
"""

import errno
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hvo_calc.host import capture as capture_module
from hvo_calc.host import fs as fs_module
from hvo_calc.host.collect import collect
from hvo_calc.host.fs import MAX_FILE_BYTES, HostFS
from hvo_calc.host.readers import parse_id_list, parse_int

HOSTS = Path(__file__).parent / "fixtures" / "hosts"
ALL_HOSTS = sorted(p.name for p in HOSTS.iterdir() if p.is_dir())
HOST = "x86-64_7.3.4_2node_hvo-on"
SECRET = "secret-outside-the-tree-6f1c"
GUARD_SECONDS = 20


class Hung(BaseException):
    """The guard fired: the code under test waited."""


@pytest.fixture(autouse=True)
def no_wait():
    """Interrupt the test if it blocks (an open of a FIFO, a read of /dev/zero that never ends)."""

    def fire(signum, frame):
        raise Hung(f"inspect waited more than {GUARD_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, GUARD_SECONDS)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def files_inspect_reads(host: str = HOST) -> list[str]:
    """Every file inspect reads from a host tree, and the optional ones it looks for."""
    fs = HostFS(HOSTS / host)
    collect(fs)
    return sorted(set(fs.files_read) | {"proc/version_signature", "proc/sys/kernel/arch"})


READ = files_inspect_reads()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of a good host, with a 0600 secret file and a directory beside it (outside)."""
    root = tmp_path / "tree"
    shutil.copytree(HOSTS / HOST, root)
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("nr_hugepages", "hugetlb_optimize_vmemmap", "nr_overcommit_hugepages"):
        (outside / name).write_text(f"{SECRET}\n")
    return root


def snapshot(directory: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under `directory`: its kind and content (links by target)."""
    entries: dict[str, tuple[int, bytes | str]] = {}
    for path in sorted(directory.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            entries[str(path.relative_to(directory))] = (stat.S_IFMT(mode), os.readlink(path))
        elif stat.S_ISREG(mode):
            entries[str(path.relative_to(directory))] = (stat.S_IFMT(mode), path.read_bytes())
        else:
            entries[str(path.relative_to(directory))] = (stat.S_IFMT(mode), b"")
    return entries


def replace(tree: Path, path: str, make) -> None:
    target = tree / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    make(target)


def problem_lines(result, needle: str) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if needle in line]


def inspect(run, tree: Path, *args: str):
    result = run("inspect", "--root", str(tree), "--format", "json", *args)
    assert SECRET not in result.stdout + result.stderr
    return result


def one_problem(result, path: str, what: str) -> str:
    """The single stderr line naming `path` and saying `what`; exit 0 or 2 as the file matters."""
    lines = problem_lines(result, f"{path}: ")
    assert len(lines) == 1 and what in lines[0], result.stderr
    return lines[0]


# -- FIFOs, sockets, devices -------------------------------------------------------------------


@pytest.mark.parametrize("path", READ)
def test_a_fifo_for_any_file_is_a_problem_not_a_wait(run, tree, path):
    replace(tree, path, os.mkfifo)
    result = inspect(run, tree)
    assert result.exit_code == 0, result.stderr  # each has a stand-in (uname.txt, the nodes' meminfo, ...)
    one_problem(result, path, "a FIFO, not a regular file; not read")


@pytest.mark.parametrize("path", ["sys/kernel/mm/hugepages", "sys/devices/system/node/node1/hugepages", "proc/sys"])
def test_a_fifo_for_a_directory_is_a_problem(run, tree, path):
    replace(tree, path, os.mkfifo)
    result = inspect(run, tree)
    assert result.exit_code == 0 and "Traceback" not in result.stderr
    name = path.rsplit("/", 1)[-1]
    assert any(
        f"{name!r} on its way is a FIFO" in line or f"{path}: a FIFO" in line for line in result.stderr.splitlines()
    ), result.stderr


def test_a_fifo_never_blocks_a_real_process(tree):
    """The same, as a user runs it: a separate process, which must end on its own."""
    replace(tree, "proc/vmstat", os.mkfifo)
    done = subprocess.run(
        [sys.executable, "-m", "hvo_calc", "inspect", "--root", str(tree), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "proc/vmstat: a FIFO, not a regular file; not read" in done.stderr


def test_a_socket_is_a_problem(run, tree, monkeypatch):
    directory = tree / "proc"
    (directory / "vmstat").unlink()
    monkeypatch.chdir(directory)  # a socket's name is limited to 108 bytes: bind it relative
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("vmstat")
        server.listen(1)
        result = inspect(run, tree)
    finally:
        server.close()
    assert result.exit_code == 0
    one_problem(result, "proc/vmstat", "a socket, not a regular file; not read")


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root (CAP_MKNOD)")
@pytest.mark.parametrize("device", [(1, 5), (10, 130)])  # /dev/zero; /dev/watchdog (opening it arms it)
def test_a_device_is_a_problem_and_never_opened(run, tree, monkeypatch, device):
    path = "proc/zoneinfo"
    try:
        replace(tree, path, lambda p: os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(*device)))
    except PermissionError:
        pytest.skip("this root may not make device nodes (no CAP_MKNOD, as in many containers)")
    opened = []
    real_open = os.open

    def watching(name, flags, *args, **kwargs):
        opened.append(str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(fs_module.os, "open", watching)
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, path, "a character device, not a regular file; not read")
    assert "zoneinfo" not in opened


# -- symbolic links ---------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["absolute", "relative", "dangling"])
def test_a_link_out_of_the_tree_is_never_read(run, tree, how):
    path = "proc/cmdline"
    secret = tree.parent / "secret"
    target = {"absolute": str(secret), "relative": "../../secret", "dangling": str(tree.parent / "gone")}[how]
    replace(tree, path, lambda p: p.symlink_to(target))
    captured = tree.parent / "captured"
    result = inspect(run, tree, "--capture", str(captured))
    assert result.exit_code == 0
    one_problem(result, path, "a symbolic link that leaves the tree")
    assert all(SECRET.encode() not in data for _, data in snapshot(captured).values() if isinstance(data, bytes))
    assert (captured / "unreadable.txt").read_text().startswith(f"{path}\ta symbolic link that leaves the tree")


def test_a_directory_link_out_of_the_tree_is_never_read(run, tree):
    replace(tree, "proc/sys/vm", lambda p: p.symlink_to(tree.parent / "outside"))
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "proc/sys/vm/hugetlb_optimize_vmemmap", "a symbolic link that leaves the tree")
    assert json.loads(result.stdout)["host"]["hvo"]["state"] == "unknown"


def test_dotdot_links_cannot_climb_out(run, tree):
    """A link inside the tree whose `..`s climb past the root."""
    replace(tree, "proc/version", lambda p: p.symlink_to("../" * 6 + "secret"))
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "proc/version", "a symbolic link that leaves the tree (through '..')")


def test_links_inside_the_tree_are_followed(run, tree):
    """A tree copied with its links (sysfs is full of them) reads the same as without."""
    expected = inspect(run, tree).stdout
    (tree / "real").mkdir()
    shutil.move(tree / "proc/meminfo", tree / "real/meminfo")
    (tree / "proc/meminfo").symlink_to("../real/meminfo")
    shutil.move(tree / "sys/kernel/mm/hugepages", tree / "real/hugepages")
    (tree / "sys/kernel/mm/hugepages").symlink_to("../../../real/hugepages")
    result = inspect(run, tree)
    assert result.exit_code == 0 and result.stdout == expected


def test_a_dangling_link_is_absent(run, tree):
    replace(tree, "proc/vmstat", lambda p: p.symlink_to("nowhere"))
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "proc/vmstat", "absent")


def test_a_link_loop_is_a_problem(run, tree):
    replace(tree, "proc/vmstat", lambda p: p.symlink_to("vmstat2"))
    (tree / "proc/vmstat2").symlink_to("vmstat")
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "proc/vmstat", "more than 40 symbolic links")


# -- sizes and numbers -------------------------------------------------------------------------------


def test_a_huge_file_is_not_read(run, tree):
    with open(tree / "proc/zoneinfo", "r+b") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk spent
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "proc/zoneinfo", "larger than 16 MiB")


def test_a_file_growing_past_the_bound_is_not_read_whole():
    """A file whose size says 0 (as /proc's do) is still read no further than the bound."""
    read, write = os.pipe()
    os.write(write, b"x" * 1000)
    os.close(write)
    try:
        with pytest.raises(fs_module.Refused, match="larger than"):
            fs_module.read_bounded(read, limit=100, chunk=64)
    finally:
        os.close(read)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_dmesg_from_a_device_is_refused(run, tree, device):
    result = inspect(run, tree, "--dmesg", device)
    assert result.exit_code == 0
    one_problem(result, device, "cannot read --dmesg: a character device, not a regular file (nor /dev/kmsg)")


def test_dmesg_from_a_fifo_or_a_huge_file_is_refused(run, tree, tmp_path):
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    one_problem(inspect(run, tree, "--dmesg", str(fifo)), str(fifo), "a FIFO, not a regular file")
    huge = tmp_path / "huge.log"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    result = inspect(run, tree, "--dmesg", str(huge))
    assert result.exit_code == 0
    one_problem(result, str(huge), "larger than 16 MiB")


def test_dmesg_from_kmsg_reads_until_there_is_no_more(run, tree):
    if not os.access("/dev/kmsg", os.R_OK):
        pytest.skip("/dev/kmsg is not readable here")
    result = inspect(run, tree, "--dmesg", "/dev/kmsg")
    assert result.exit_code == 0 and not problem_lines(result, "/dev/kmsg"), result.stderr


def test_a_runaway_node_list_is_refused_before_it_is_expanded(run, tree):
    ranges = ",".join(f"{i * 65536}-{i * 65536 + 65535}" for i in range(40))
    (tree / "sys/devices/system/node/online").write_text(ranges + "\n")
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "sys/devices/system/node/online", "beyond the kernel's largest 1,024 NUMA nodes")


def test_id_lists_are_bounded():
    assert parse_id_list("0-1023") == list(range(1024))
    for text in ("1024", "0-1024", ",".join(["0"] * 1025), "0-99999999999"):
        with pytest.raises(ValueError, match="1,024|ASCII"):
            parse_id_list(text)
    assert parse_id_list("0-8191", limit=8192, what="CPUs")[-1] == 8191
    with pytest.raises(ValueError, match="8,192 CPUs"):
        parse_id_list("8192", limit=8192, what="CPUs")


def test_non_ascii_digits_are_not_numbers(run, tree):
    assert int("١٢٨") == 128 and "١٢٨".isdigit()  # what Python alone would accept
    with pytest.raises(ValueError):
        parse_int("١٢٨\n")
    with pytest.raises(ValueError):
        parse_id_list("٠-١")
    (tree / "sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages").write_text("١٢٨\n")
    (tree / "sys/devices/system/node/possible").write_text("٠-١\n")
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "hugepages-2048kB/nr_overcommit_hugepages", "expected a whole number")
    one_problem(result, "sys/devices/system/node/possible", "ASCII digits")


def test_non_ascii_page_size_is_not_a_number(run, tree):
    (tree / "uname.txt").write_text("machine=x86_64\nrelease=7.3.4+deb13-cloud-amd64\npage_size=٤٠٩٦\n")
    result = inspect(run, tree)
    assert result.exit_code == 0  # the page size is still derived from MemTotal / managed pages
    one_problem(result, "uname.txt", "page_size='٤٠٩٦' is not a number of bytes (ASCII digits)")
    assert json.loads(result.stdout)["host"]["base_page_bytes"] == 4096


# -- unreadable files ------------------------------------------------------------------------------


@pytest.fixture
def unreadable(monkeypatch):
    """Make files unreadable: chmod 000, and (as root, whom modes do not stop) an open of
    that file failing with EACCES as the kernel would fail it for anyone else."""
    inodes: set[tuple[int, int]] = set()
    real_open = os.open

    def guarded(name, flags, *args, **kwargs):
        fd = real_open(name, flags, *args, **kwargs)
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) in inodes:
            os.close(fd)
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(name))
        return fd

    monkeypatch.setattr(fs_module.os, "open", guarded)

    def make(path: Path) -> None:
        status = path.stat()
        inodes.add((status.st_dev, status.st_ino))
        path.chmod(0)

    return make


@pytest.mark.parametrize(
    "path",
    ["sys/devices/system/node/online", "proc/sys/vm/hugetlb_optimize_vmemmap", "proc/vmstat", "proc/cmdline"],
)
def test_an_unreadable_file_is_always_a_problem(run, tree, unreadable, path):
    unreadable(tree / path)
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, path, "cannot read: Permission denied")


def test_an_unreadable_directory_is_a_problem(run, tree, unreadable):
    unreadable(tree / "sys/devices/system/node/node1/hugepages")
    result = inspect(run, tree)
    assert result.exit_code == 0
    one_problem(result, "node1/hugepages", "cannot read: Permission denied")


# -- --capture: the round trip and the target -------------------------------------------------------


def inspect_both(run, tree: Path, tmp_path: Path) -> tuple:
    captured = tmp_path / "captured"
    original = run("inspect", "--root", str(tree), "--format", "json", "--capture", str(captured))
    again = run("inspect", "--root", str(captured), "--format", "json")
    return original, again, captured


@pytest.mark.parametrize("host", ALL_HOSTS)
def test_capture_round_trips_every_host(run, tmp_path, host):
    original, again, _ = inspect_both(run, HOSTS / host, tmp_path)
    assert original.exit_code == again.exit_code == 0
    assert json.loads(again.stdout) == json.loads(original.stdout)
    assert again.stderr == original.stderr


DAMAGE = {
    "unreadable sysctl": lambda tree, unreadable: unreadable(tree / "proc/sys/vm/hugetlb_optimize_vmemmap"),
    "unreadable node list": lambda tree, unreadable: unreadable(tree / "sys/devices/system/node/online"),
    "unreadable hugepages directory": lambda tree, unreadable: unreadable(
        tree / "sys/devices/system/node/node0/hugepages"
    ),
    "fifo vmstat": lambda tree, _: replace(tree, "proc/vmstat", os.mkfifo),
    "fifo sysctl": lambda tree, _: replace(tree, "proc/sys/vm/hugetlb_optimize_vmemmap", os.mkfifo),
    "link out": lambda tree, _: replace(tree, "proc/cmdline", lambda p: p.symlink_to(tree.parent / "secret")),
    "not utf-8": lambda tree, _: (tree / "proc/version").write_bytes(b"Linux \xff\xfe\n"),
    "garbled counter": lambda tree, _: (tree / "proc/vmstat").write_text("nr_memmap_pages lots\n"),
    "fifo dmesg lines": lambda tree, _: replace(tree, "dmesg-hugetlb.txt", os.mkfifo),
    "no meminfo": lambda tree, _: (tree / "proc/meminfo").unlink(),
    "fifo meminfo": lambda tree, _: replace(tree, "proc/meminfo", os.mkfifo),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_capture_of_a_damaged_tree_round_trips(run, tree, tmp_path, unreadable, damage):
    """Same exit code, state, figures and problems from the capture as from the original;
    an unreadable sysctl stays "unknown" (it came back as "not built")."""
    DAMAGE[damage](tree, unreadable)
    original, again, captured = inspect_both(run, tree, tmp_path)
    assert original.exit_code == again.exit_code, (original.stderr, again.stderr)
    assert again.stdout == original.stdout and again.stderr == original.stderr
    assert SECRET not in original.stdout + original.stderr
    assert captured.is_dir()
    if damage == "unreadable sysctl":
        assert json.loads(again.stdout)["host"]["hvo"]["state"] == "unknown"


def test_capture_of_a_capture_is_the_same_tree(run, tree, tmp_path, unreadable):
    unreadable(tree / "proc/sys/vm/hugetlb_optimize_vmemmap")
    _, _, first = inspect_both(run, tree, tmp_path)
    second = tmp_path / "second"
    assert run("inspect", "--root", str(first), "--format", "json", "--capture", str(second)).exit_code == 0
    assert snapshot(second) == snapshot(first)


def planted(target: Path, outside: Path) -> None:
    """A capture target with links already in it: a file, a directory and a dangling one."""
    (target / "proc/sys").mkdir(parents=True)
    (target / "proc/sys/vm").symlink_to(outside)
    (target / "proc/meminfo").symlink_to(outside / "nr_hugepages")
    (target / "uname.txt").symlink_to(outside / "created-through-a-link")


@pytest.mark.parametrize("kind", ["planted links", "a link to a directory", "a file", "a non-empty directory"])
def test_capture_target_that_is_not_new_or_empty_is_refused(run, tree, tmp_path, kind):
    outside = tmp_path / "outside"
    target = tmp_path / "target"
    if kind == "planted links":
        target.mkdir()
        planted(target, outside)
    elif kind == "a link to a directory":
        target.symlink_to(outside)
    elif kind == "a file":
        target.write_text("keep me\n")
    else:
        target.mkdir()
        (target / "keep").write_text("keep me\n")
    before = snapshot(tmp_path)
    result = inspect(run, tree, "--capture", str(target))
    assert result.exit_code == 2 and result.stdout == ""
    lines = problem_lines(result, "--capture")
    assert len(lines) == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    refused = f"hvo-calc: error: cannot write --capture {str(target)!r}: it is"
    assert lines[0].startswith(refused) or kind == "a file" and "is a file" in lines[0]  # click's own check
    assert snapshot(tmp_path) == before  # nothing written, through a link or beside


def test_capture_into_an_empty_directory(run, tree, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    assert inspect(run, tree, "--capture", str(target)).exit_code == 0
    assert (target / "proc/meminfo").read_bytes() == (tree / "proc/meminfo").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "outside", "secret", "tree"]


@pytest.mark.parametrize("after", [1, 10, 40])
def test_a_full_disk_leaves_nothing_of_the_capture(run, tree, tmp_path, monkeypatch, after):
    writes = []
    real_write = os.write

    def full(fd, data):
        writes.append(fd)
        if len(writes) >= after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data[: max(1, len(data) // 2)])  # short writes on the way

    monkeypatch.setattr(capture_module.os, "write", full)
    before = snapshot(tmp_path)
    target = tmp_path / "captured"
    result = inspect(run, tree, "--capture", str(target))
    assert result.exit_code == 2 and result.stdout == ""
    assert f"cannot write --capture {str(target)!r}: No space left on device" in result.stderr
    assert snapshot(tmp_path) == before


def test_ctrl_c_while_capturing_leaves_nothing(run, tree, tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(capture_module.os, "fsync", interrupted)
    before = snapshot(tmp_path)
    result = inspect(run, tree, "--capture", str(tmp_path / "captured"))
    assert result.exit_code == 130
    assert snapshot(tmp_path) == before


# -- --write-config ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "socket", "missing directory"])
def test_write_config_target_checked_before_anything_is_printed(run, tree, tmp_path, monkeypatch, kind):
    target = tmp_path / "host.toml"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        monkeypatch.chdir(tmp_path)
        server.bind(target.name)
    name = str(tmp_path / "nowhere" / "host.toml") if kind == "missing directory" else str(target)
    before = snapshot(tmp_path)
    result = run("inspect", "--root", str(tree), "--write-config", name)
    if kind == "socket":
        server.close()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"hvo-calc: error: cannot write --write-config {name!r}: ")
    assert len(result.stderr.splitlines()) == 1 and "--output" not in result.stderr
    assert snapshot(tmp_path) == before


def test_write_config_failing_late_names_write_config(run, tree, tmp_path, monkeypatch):
    from hvo_calc import output

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    target = tmp_path / "host.toml"
    result = run("inspect", "--root", str(tree), "--format", "json", "--write-config", str(target))
    assert result.exit_code == 2
    assert f"cannot write --write-config {str(target)!r}: No space left on device" in result.stderr
    assert not target.exists() and not list(tmp_path.glob(".host.toml.*"))
