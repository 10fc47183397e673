"""The bad-input corpus: every input that once broke the tool, or could, as a case.

Each one, on the command line or in a plan file, must end in exit code 2 and exactly one
stderr line starting with "hvo-calc: error:", never a traceback. A plan-file problem names
the file (and the key, where there is one). A property test throws random values and
types at every plan-file key: never a traceback, exit 0 or 2. Counts stay small, so the
whole file runs in seconds.
"""

import json
import os
import tempfile
from pathlib import Path

import pytest
from conftest import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def assert_bad_input(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hvo-calc: error:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- the command line -------------------------------------------------------------------

BLANK = ["", " ", "\t", "  \n"]
STRING_OPTIONS = [
    ("plan", "--huge"),
    ("plan", "--page"),
    ("plan", "--kernel"),
    ("plan", "--arch"),
    ("plan", "--config"),
    ("plan", "--output"),
    ("check", "--allow-known-issue"),
    ("plan", "--format"),
    ("plan", "--placement"),
    ("plan", "--hvo"),
    ("plan", "--paging"),
    ("plan", "--mmu"),
    ("plan", "--count"),
    ("plan", "--shrink-to"),
    ("plan", "--struct-page-size"),
    ("check", "--min-saved"),
    ("check", "--max-vmemmap"),
    ("check", "--max-overhead"),
]


@pytest.mark.parametrize("command, option", STRING_OPTIONS)
@pytest.mark.parametrize("value", BLANK, ids=repr)
def test_blank_option_values_are_refused(command, option, value):
    assert_bad_input(invoke(command, option, value), option)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["plan", "--paging", "6"], "--paging"),
        (["plan", "--paging", "four"], "--paging"),
        (["plan", "--mmu", "segment"], "--mmu"),
        (["plan", "--count", "true"], "--count"),
        (["plan", "--count", "1.5"], "--count"),
        (["plan", "--count", "-1"], "--count"),
        (["plan", "--shrink-to", "-1"], "--shrink-to"),
        (["plan", "--huge", "9" * 5000], "is not a size"),
        (["plan", "--huge", "2M\nx"], "is not a size"),
        (["plan", "--huge", "２M"], "is not a size"),  # a full-width digit
        (["plan", "--arch", "x86-64\nrm -rf /"], "unknown architecture"),
        (["plan", "--kernel", "6.12\n7.0"], ""),
        (["plan", "--huge", "2M", "--count", "4", "--shrink-to", "5"], "shrink_to 5"),
        (["plan", "--config", "/nonexistent/host.toml"], "/nonexistent/host.toml"),
        (["plan", "--config", "/dev/null"], "not a regular file"),
        (["plan", "--config", "/dev/zero"], "not a regular file"),
        (["plan", "--huge", "2M", "--output", "/nonexistent/dir/x.json"], "cannot write --output"),
        (["check", "--huge", "2M", "--max-overhead", "inf"], "--max-overhead"),
        # A list value no scenario can take is bad input (3M beside x86-64 keeps its row instead).
        (["compare", "--kernel", "6.1,x", "--huge", "2M"], "--kernel: unknown kernel version 'x'; accepted: 5.10"),
        (["compare", "--arch", "x86-64,foo", "--huge", "2M"], "--arch: unknown architecture 'foo'; accepted: arm64"),
        (["compare", "--huge", "2M,banana", "--count", "2"], "--huge: hugepage size 'banana' is not a size"),
        (["compare", "--page", "4K,big", "--huge", "2M"], "--page: base page size 'big' is not a size"),
        (["recommend", "--need", "10G", "--kernel", "6.1,x"], "--kernel: unknown kernel version 'x'"),
        (["recommend", "--need", "10G", "--sizes", "2M,zz"], "--sizes: hugepage size 'zz' is not a size"),
    ],
)
def test_bad_command_lines(args, fragment):
    assert_bad_input(invoke(*args), fragment)


def test_a_directory_as_plan_file_or_output(tmp_path):
    assert_bad_input(invoke("plan", "--config", str(tmp_path)), "directory")
    assert_bad_input(invoke("plan", "--huge", "2M", "--output", str(tmp_path)), "directory")


def test_arch_takes_uname_spellings_without_a_fixed_list():
    """`uname -m` names reach the profiles' lookup (no click.Choice in front of it)."""
    from hvo_calc.cli import _register, cli

    _register()
    option = next(p for p in cli.commands["plan"].params if p.name == "arch")
    assert option.type.name == "text"


# --- plan files -------------------------------------------------------------------------

POOL = '[[pool]]\nsize = "2M"\ncount = 2\n'


def pool(**values: str) -> str:
    keys = {"size": '"2M"', "count": "2", **values}
    return "[[pool]]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items() if value is not None)


def node(**values: str) -> str:
    keys = {"memory": '"8G"', **values}
    return "[[node]]\n" + "".join(f"{key} = {value}\n" for key, value in keys.items() if value is not None)


def host(**values: str) -> str:
    return "[host]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())


# (content, what the line must say besides the file name); a str is written as UTF-8.
PLAN_FILES = {
    # encodings and bytes
    "utf-16": (POOL.encode("utf-16"), "UTF-16"),
    "utf-16-le-no-bom": (POOL.encode("utf-16-le"), "NUL"),
    "utf-32": (POOL.encode("utf-32"), "UTF-"),
    "latin-1": ('[[pool]]\nname = "größe"\nsize = "2M"\ncount = 2\n'.encode("latin-1"), "not UTF-8"),
    "binary": (bytes(range(256)), "NUL"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL"),
    "latin-1-binary": (b"\x89PNG\r\n\x1a\n", "not UTF-8"),
    "too-large": ("#" * ((1 << 20) + 10), "larger than"),
    "not-toml": ("pools:\n  - size: 2M\n", "cannot read TOML"),
    "control-character": ('[[pool]]\nsize = "2M\x07"\ncount = 2\n', "cannot read TOML"),
    # structure
    "empty": ("", "pool"),
    "no-pools": (host(arch='"x86-64"'), "pool"),
    "pool-as-table": ('[pool]\nsize = "2M"\ncount = 2\n', "pool"),
    "host-not-a-table": ("host = 5\n" + POOL, "host"),
    "node-as-table": ('[node]\nmemory = "8G"\n' + POOL, "node"),
    "unknown-top-key": ("colour = 1\n" + POOL, "colour"),
    "unknown-pool-key": (pool(colour='"red"'), "colour"),
    "unknown-host-key": (host(cpus="4") + POOL, "cpus"),
    "arrays-1000-deep": ("x = " + "[" * 1000 + "]" * 1000 + "\n" + POOL, "nested"),
    "arrays-100-deep": ("x = " + "[" * 100 + "]" * 100 + "\n" + POOL, "nested"),
    "inline-tables-deep": ("x = " + "{a = " * 400 + "1" + "}" * 400 + "\n" + POOL, "nested"),
    "dotted-key-deep": ("a" + ".a" * 2000 + " = 1\n" + POOL, "nested"),
    "pool-in-pool": ('[[pool]]\nsize = "2M"\ncount = 2\n[[pool.pool]]\nsize = "2M"\n', "pool"),
    "4097-pools": (POOL * 4097, "at most 4096"),
    "1025-nodes": (node(memory='"1G"') * 1025 + POOL, "at most 1024"),
    # pool values
    "count-true": (pool(count="true"), "count"),
    "count-string": (pool(count='"12"'), "count"),
    "count-float": (pool(count="12.0"), "count"),
    "count-zero": (pool(count="0"), "count"),
    "count-negative": (pool(count="-1"), "count"),
    "count-array": (pool(count="[1]"), "count"),
    "count-table": (pool(count="{a = 1}"), "count"),
    "count-date": (pool(count="1979-05-27"), "count"),
    "count-missing": (pool(count=None), "count"),
    "boot-yes": (pool(boot='"yes"'), "boot"),
    "boot-one": (pool(boot="1"), "boot"),
    "shrink-to-true": (pool(shrink_to="true"), "shrink_to"),
    "shrink-to-string": (pool(shrink_to='"1"'), "shrink_to"),
    "shrink-to-over-count": (pool(shrink_to="3"), "shrink_to"),
    "node-true": (pool(node="true"), "node"),
    "node-string": (pool(node='"0"'), "node"),
    "node-negative": (pool(node="-1"), "node"),
    "node-missing": (pool(node="3"), "node"),
    "size-true": (pool(size="true"), "size"),
    "size-float": (pool(size="2.5"), "size"),
    "size-empty": (pool(size='""'), "size"),
    "size-blank": (pool(size='"  "'), "size"),
    "size-unit": (pool(size='"2Q"'), "size"),
    "size-negative": (pool(size="-2097152"), "size"),
    "size-negative-string": (pool(size='"-2M"'), "size"),
    "size-zero": (pool(size='"0"'), "size"),
    "size-5000-digits": (pool(size='"' + "9" * 5000 + '"'), "size"),
    "size-huge": (pool(size='"99999999999999999999P"'), "size"),
    "size-missing": (pool(size=None), "size"),
    "name-number": (pool(name="5"), "name"),
    "name-empty": (pool(name='""'), "name"),
    "name-blank": (pool(name='"   "'), "name"),
    "name-65": (pool(name='"' + "n" * 65 + '"'), "name"),
    "name-newline": (pool(name='"a\\nb"'), "name"),
    "name-tab": (pool(name='"a\\tb"'), "name"),
    "name-nul": (pool(name='"a\\u0000b"'), "name"),
    "name-escape": (pool(name='"\\u001b[31mred"'), "name"),
    "name-bidi": (pool(name='"a\\u202eb"'), "name"),
    "zone-unknown": (pool(zone='"highmem"'), "zone"),
    "zone-number": (pool(zone="1"), "zone"),
    "zone-empty": (pool(zone='""'), "zone"),
    # host values
    "arch-empty": (host(arch='""') + POOL, "arch"),
    "arch-number": (host(arch="64") + POOL, "arch"),
    "kernel-empty": (host(kernel='" "') + POOL, "kernel"),
    "kernel-float": (host(kernel="6.12") + POOL, "kernel"),
    "base-page-true": (host(base_page="true") + POOL, "base_page"),
    "base-page-unit": (host(base_page='"4X"') + POOL, "base_page"),
    "struct-page-string": (host(struct_page_size='"64"') + POOL, "struct_page_size"),
    "struct-page-true": (host(struct_page_size="true") + POOL, "struct_page_size"),
    "struct-page-small": (host(struct_page_size="7") + POOL, "struct_page_size"),
    "struct-page-large": (host(struct_page_size="5000") + POOL, "struct_page_size"),
    "hvo-yes": (host(hvo='"yes"') + POOL, "hvo"),
    "hvo-one": (host(hvo="1") + POOL, "hvo"),
    "placement-unknown": (host(placement='"random"') + POOL, "placement"),
    "placement-number": (host(placement="1") + POOL, "placement"),
    "paging-6": (host(paging="6") + POOL, "paging"),
    "paging-string": (host(paging='"5"') + POOL, "paging"),
    "paging-true": (host(paging="true") + POOL, "paging"),
    "paging-float": (host(paging="4.0") + POOL, "paging"),
    "mmu-unknown": (host(mmu='"segment"') + POOL, "mmu"),
    "mmu-true": (host(mmu="true") + POOL, "mmu"),
    # node values
    "memory-zero-string": (node(memory='"0"') + POOL, "memory"),
    "memory-zero": (node(memory="0") + POOL, "memory"),
    "memory-negative": (node(memory="-1") + POOL, "memory"),
    "memory-negative-string": (node(memory='"-1G"') + POOL, "memory"),
    "memory-true": (node(memory="true") + POOL, "memory"),
    "memory-float": (node(memory="8.5") + POOL, "memory"),
    "memory-missing": (node(memory=None, free='"1G"') + POOL, "memory"),
    "free-over-memory": (node(free='"9G"') + POOL, "free"),
    "free-negative": (node(free="-1") + POOL, "free"),
    "free-true": (node(free="true") + POOL, "free"),
}


@pytest.fixture(scope="module")
def plan_dir():
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@pytest.mark.parametrize("name", sorted(PLAN_FILES))
def test_bad_plan_files(plan_dir, name):
    content, fragment = PLAN_FILES[name]
    path = plan_dir / f"{name}.toml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    line = assert_bad_input(invoke("plan", "--config", str(path)), str(path), fragment)
    assert len(line) < 600


@pytest.mark.parametrize("name", ["count-true", "name-65", "memory-zero-string", "paging-6", "zone-unknown"])
def test_plan_file_messages_say_what_is_accepted(plan_dir, name):
    content, _ = PLAN_FILES[name]
    path = plan_dir / f"accepted-{name}.toml"
    path.write_text(content, encoding="utf-8")
    assert_bad_input(invoke("plan", "--config", str(path)), "accepted")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (pool(name='"db"') + pool(name='"db"', size='"1G"', count="1"), "db"),  # names must differ
        (host(arch='"mips"') + POOL, "unknown architecture"),
        (node(memory='"12"') + POOL, "node 0 has"),  # 12 bytes of memory: the pool does not fit
        (host(base_page='"0"') + POOL, "base page"),
    ],
)
def test_plan_files_the_planner_refuses(plan_dir, content, fragment):
    path = plan_dir / "planner.toml"
    path.write_text(content)
    assert_bad_input(invoke("plan", "--config", str(path)), fragment)


def test_good_plan_file_with_new_keys(plan_dir):
    """zone, paging and mmu reach the request (x86-64 has 4- and 5-level paging)."""
    path = plan_dir / "good.toml"
    path.write_text(
        host(arch='"x86_64"', paging="5", kernel='"6.12"') + node(free='"1G"') + pool(zone='"movable"', name='"db"')
    )
    result = invoke("plan", "--config", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["pools"][0]["zone"] == "movable" and report["pools"][0]["name"] == "db"


def test_a_utf8_byte_order_mark_is_fine(plan_dir):
    path = plan_dir / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + POOL.encode())
    assert invoke("plan", "--config", str(path), "--format", "json").exit_code == 0


# --- random plan files ------------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"


WORDS = [
    "2M",
    "1G",
    "4K",
    "64K",
    "16K",
    "0",
    "-1G",
    "8G",
    "12",
    "yes",
    "true",
    "normal",
    "movable",
    "dma32",
    "highmem",
    "radix",
    "hash",
    "x86-64",
    "x86_64",
    "aarch64",
    "arm64",
    "6.12",
    "6.12.117",
    "latest",
    "packed",
    "scattered",
    "",
    " ",
]
VALUES = st.one_of(
    st.booleans(),
    st.integers(-3, 40),
    st.floats(-3, 40, allow_nan=False),
    st.sampled_from(WORDS),
    st.text(max_size=8),
    st.lists(st.integers(0, 2), max_size=2),
    st.just({"a": 1}),
)
HOST_KEYS = ["arch", "base_page", "kernel", "struct_page_size", "hvo", "placement", "paging", "mmu", "colour"]
NODE_KEYS = ["memory", "free", "colour"]
POOL_KEYS = ["size", "count", "node", "name", "boot", "shrink_to", "zone", "colour"]


def tables(keys: list[str], required: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Tables with the required keys (mostly sensible, sometimes anything) and any others."""
    sensible = st.fixed_dictionaries({key: st.one_of(strategy, VALUES) for key, strategy in required.items()})
    return st.tuples(sensible, st.dictionaries(st.sampled_from(keys), VALUES, max_size=3)).map(
        lambda parts: {**parts[0], **parts[1]}
    )


PLANS = st.fixed_dictionaries(
    {
        "host": tables(HOST_KEYS, {}),
        "node": st.lists(tables(NODE_KEYS, {"memory": st.sampled_from(["8G", "64G"])}), max_size=2),
        "pool": st.lists(
            tables(POOL_KEYS, {"size": st.sampled_from(["2M", "1G"]), "count": st.integers(1, 8)}), max_size=3
        ),
    }
)


def plan_text(plan: dict) -> str:
    text = "[host]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in plan["host"].items())
    for table in ("node", "pool"):
        for entry in plan[table]:
            text += f"[[{table}]]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items())
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PLANS)
def test_random_plan_files_never_break_the_tool(plan):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", encoding="utf-8") as handle:
        handle.write(plan_text(plan))
        handle.flush()
        result = invoke("plan", "--config", handle.name, "--format", "json")
    assert "Traceback" not in result.stderr
    assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("hvo-calc: error:"), result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("config", "--emit", "cmdline", "--count", "2", "--count", "3"),
        ("config", "--emit", "cmdline", "--emit", "sysctl"),
        ("inspect", "--root", "a", "--root", "b"),
        ("schema", "--command", "plan", "--command", "compare"),
        ("profiles", "--format", "json", "--format", "table"),
        ("explain", "--huge", "2M", "--huge", "1G"),
        ("recommend", "--need", "1G", "--need", "2G"),
    ],
)
def test_every_command_refuses_a_single_valued_option_twice(run, args):
    result = run(*args)
    repeated = next(a for a in args if a.startswith("--") and args.count(a) == 2)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"hvo-calc: error: {repeated} is given more than once; it takes one value: give it once"
    ]


def test_a_plan_file_that_is_a_fifo_or_a_device_is_refused_not_waited_on(run, tmp_path):
    fifo = tmp_path / "plan.toml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        result = run("plan", "--config", str(path))
        assert result.exit_code == 2
        assert result.stderr == f"hvo-calc: error: {path}: the plan file is not a regular file; accepted: a TOML file\n"
