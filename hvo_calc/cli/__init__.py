"""The command line: parse options, call the planner, print a renderer's output.

Exit codes come from one place, `main`: 0 success, 1 a budget failed, 2 bad input
(one line on stderr naming the problem and what is accepted), 3 the simulation failed
its own verification (or another bug: one line, never a traceback), 130 interrupted
(Ctrl-C: one line), 141 stdout closed early (`hvo-calc plan | head -1`: quietly).
"""

import os
import re
import signal
import sys


class Interrupted(BaseException):
    """Ctrl-C, raised by our SIGINT handler. Not a KeyboardInterrupt, so nothing on the way
    (click among them) turns it into something else or prints half a line first."""


_in_main = False  # before `main` runs there is nothing to clean up: exit on the spot
_interrupted = False  # set by the handler: whatever the interrupt turns into on its way up is one


def _importing(frame: object) -> bool:
    """Whether the interrupted code is an import: a module being loaded has nothing to clean
    up, and an exception raised while pydantic-core builds a model class ends in a panic."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):  # type: ignore[attr-defined]
            return True
        frame = frame.f_back  # type: ignore[attr-defined]
    return False


def _on_sigint(signum: int, frame: object) -> None:
    global _interrupted
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
    if not _in_main or _importing(frame):
        os.write(2, b"hvo-calc: interrupted\n")
        os._exit(130)
    _interrupted = True
    raise Interrupted  # unwinds: temporary files go, a progress bar gives the terminal back


def _install_sigint() -> object:
    """Our SIGINT handler in place of the current one (returned); None where signals cannot be
    set (not the main thread) or are ignored on purpose (nohup, a shell's background job)."""
    try:
        if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
            return None
        return signal.signal(signal.SIGINT, _on_sigint)
    except (ValueError, OSError):
        return None


def _is_program() -> bool:
    """Whether this process is `hvo-calc` or `python -m hvo_calc` (not a library caller or a test)."""
    first = sys.argv[0] if sys.argv else ""
    return os.path.basename(first) == "hvo-calc" or first.endswith(os.path.join("hvo_calc", "__main__.py"))


# As the program, take Ctrl-C from the first import on: the imports below and the
# commands' imports are most of the first 0.2 s.
_PROGRAM = _is_program()
if _PROGRAM:
    _install_sigint()

from typing import Any  # noqa: E402  (click imports typing itself)

import click  # noqa: E402

from hvo_calc import __version__  # noqa: E402
from hvo_calc.errors import HvoError, StdoutClosed  # noqa: E402

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a process that SIGPIPE ended
EXIT_BUG = 3


# The commands, by name: the module that defines each (imported only when that command runs)
# and the line `hvo-calc --help` lists it with. A new command is a module here and a line below.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("check", "Plan, print the report and fail (exit 1) when a budget is broken: for CI."),
    "compare": ("compare", "Plan what-if scenarios side by side: every combination of the axes, or plan files."),
    "config": ("config", "Render a plan into the kernel command line, sysctl and files that make a host do it."),
    "explain": ("explain", "Show what HVO does to one hugepage's vmemmap, page by page."),
    "inspect": ("inspect", "Inspect a host (or a captured /proc and /sys tree) against the model."),
    "plan": ("plan", "Simulate HVO on hugepage pools: reserved, freed and saved vmemmap."),
    "profiles": ("profiles", "List the architecture profiles: page sizes, paging, hugepage sizes."),
    "recommend": ("recommend", "Recommend hugepage layouts for a need, ranked by memory returned."),
    "schema": ("schema", "Print the JSON Schema of a JSON report."),
}


def help_width(max_width: int) -> int | None:
    """The width click's help formatter would take (COLUMNS, else the terminal's, at most
    `max_width`, less 2, at least 50), found without `shutil`: importing it and the archive
    modules it brings is a twentieth of `hvo-calc --help`. None where click's test runner
    forces a width of its own."""
    from click import formatting

    if formatting.FORCED_WIDTH is not None:
        return None
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(min(columns, max_width) - 2, 50)


class LazyGroup(click.Group):
    """A group whose commands' modules are imported when a command is looked up, not before:
    `hvo-calc --help` and `--version` import click and nothing of the commands."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        if parent is None and "terminal_width" not in extra:  # the commands' contexts inherit it
            extra["terminal_width"] = help_width(self.context_settings.get("max_content_width") or 80)
        return super().make_context(info_name, args, parent, **extra)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            from importlib import import_module

            import_module(f"{__name__}.{COMMANDS[cmd_name][0]}")  # registers itself on `cli`
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from `COMMANDS`, without importing a command to ask its help."""
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx) if name in COMMANDS]
        rows += [(name, self.commands[name].get_short_help_str()) for name in self.commands if name not in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # hvo_calc/


def _declared(relative: str, name: str) -> str:
    """A string constant as the package's source declares it (`NAME = "1.1"`), read without
    importing its module: importing it would build the module's pydantic models."""
    try:
        with open(os.path.join(_PACKAGE, relative), encoding="utf-8") as source:
            match = re.search(rf'^{name}\s*(?::[^=\n]*)?=\s*"([^"\n]*)"', source.read(), re.MULTILINE)
    except OSError:
        match = None
    if match:
        return match[1]
    from importlib import import_module  # no source beside it (a compiled-only install)

    module = "hvo_calc." + relative.removesuffix(".py").replace("/", ".")
    return str(getattr(import_module(module), name))


# The JSON reports' schema versions: (report, source file in the package, constant it declares).
SCHEMA_VERSIONS = (
    ("plan", "models.py", "SCHEMA_VERSION"),
    ("inspect", "host/models.py", "INSPECT_SCHEMA_VERSION"),
    ("explain", "explain_models.py", "EXPLAIN_SCHEMA_VERSION"),
    ("compare", "compare/models.py", "COMPARE_SCHEMA_VERSION"),
    ("recommend", "compare/models.py", "RECOMMEND_SCHEMA_VERSION"),
)


def _newest_release() -> str:
    """The last of kernel.toml's `releases`, read as `_declared` reads a constant: the array
    without a TOML parser (tomllib and the parse cost `--version` a tenth of `import click`),
    the parser only where the array is not written as a plain list of strings."""
    with open(os.path.join(_PACKAGE, "configs", "kernel.toml"), encoding="utf-8") as kernel_toml:
        text = kernel_toml.read()
    match = re.search(r'^releases\s*=\s*\[((?:\s*"[0-9.]+"\s*,?)*)\s*\]', text, re.MULTILINE)
    if match and (releases := re.findall(r'"([0-9.]+)"', match[1])):
        return str(releases[-1])
    import tomllib

    return str(tomllib.loads(text)["releases"][-1])


def version_text() -> str:
    """What `--version` prints: the version, each JSON report's schema version, and the
    newest kernel release the data knows (what `--kernel latest` means)."""
    newest = _newest_release()
    schemas = ", ".join(f"{report} {_declared(source, name)}" for report, source, name in SCHEMA_VERSIONS)
    return f"hvo-calc {__version__}\nJSON schemas: {schemas}\nnewest kernel release known: {newest}"


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version, the JSON schema versions and the newest kernel release known, and exit.",
)
def cli() -> None:
    """Plan hugepage pools with HugeTLB Vmemmap Optimization (HVO).

    Simulates, on a model of the kernel's vmemmap page tables, how much struct-page
    memory HVO frees for each pool: reserved (kept mapped), freed, page-table pages
    spent on splits, and the net saving. Sizes are binary: 64K = 64 KiB, 2M = 2 MiB.

    Example: hvo-calc plan --arch arm64 --page 64K --huge 512M --count 64
    """


def _register() -> None:
    """Load every command (for callers that use `cli` directly and want them all: tests)."""
    for name in COMMANDS:
        cli.get_command(click.Context(cli), name)


def one_line(text: str) -> str:
    """`text` on one line: line breaks and other control characters written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def say(message: str) -> None:
    """One line on stderr (a line of our own on a terminal, where ^C left the cursor)."""
    try:
        sys.stderr.write(one_line(message) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # stderr is gone: the exit code still tells


def _safe_streams() -> None:
    """Whatever the stdout and stderr encodings, printing never fails on a character they
    lack: it is replaced. Text they can encode is written unchanged (machine formats stay
    byte-exact)."""
    for stream, errors in ((sys.stdout, "replace"), (sys.stderr, "backslashreplace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=errors)
            except (ValueError, OSError, TypeError):
                pass


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's last flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame, for a bug report."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    return f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"


def _run(argv: list[str] | None) -> int:
    """The command line, to an exit code; expected errors become one stderr line."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # Bare `hvo-calc` is `hvo-calc --help`: click 8.2+ reports a group run without a command
        # as a usage error (exit 2) when not in standalone mode.
        cli.main(args=args or ["--help"], prog_name="hvo-calc", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort as exc:  # click turns KeyboardInterrupt (and EOF on a prompt) into this
        say("hvo-calc: interrupted" if isinstance(exc.__cause__, KeyboardInterrupt) else "hvo-calc: aborted")
        return EXIT_INTERRUPTED
    except click.UsageError as exc:
        say(f"hvo-calc: error: {exc.format_message()}")
        return 2
    except HvoError as exc:
        say(f"hvo-calc: error: {exc}")
        return exc.exit_code
    return 0


def _interrupted_exit(previous: object) -> int:
    """One line for Ctrl-C, and its exit code."""
    if previous is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as our handler does: no second interrupt
    if sys.stderr is not None and sys.stderr.isatty():
        say("")  # end the line ^C started on the terminal
    say("hvo-calc: interrupted")
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> None:
    """Run the CLI, turning every expected error into one stderr line and an exit code."""
    global _in_main, _interrupted
    _in_main, _interrupted = True, False  # a caller running it again starts afresh
    previous = _install_sigint()
    try:
        _safe_streams()
        code = _run(argv)
        if sys.stdout is not None:
            sys.stdout.flush()  # a closed pipe shows here, while we still handle it
    except (BrokenPipeError, StdoutClosed):
        _silence_stdout()
        code = EXIT_BROKEN_PIPE
    except RecursionError as exc:
        say(f"hvo-calc: error: input nested too deeply to handle ({exc})")
        code = 2
    except Exception as exc:  # a bug: one line to report, not a traceback
        if _interrupted:  # no bug: what the interrupt became on its way up
            code = _interrupted_exit(previous)
        elif os.environ.get("HVO_CALC_DEBUG"):
            raise
        else:
            say(
                f"hvo-calc: internal error: {type(exc).__name__}: {exc}{_where(exc)} "
                "(a bug: please report it; HVO_CALC_DEBUG=1 shows the traceback)"
            )
            code = EXIT_BUG
    except BaseException as exc:
        # Ctrl-C; raised inside pydantic-core's compiled code (a model class built at
        # import) it surfaces as that library's panic instead.
        if not (_interrupted or isinstance(exc, (Interrupted, KeyboardInterrupt))):
            raise
        code = _interrupted_exit(previous)
    finally:
        if previous is not None and not _PROGRAM:
            signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]
            _in_main = False
    sys.exit(code)
