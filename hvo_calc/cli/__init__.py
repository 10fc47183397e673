"""The command line: parse options, call the planner, print a renderer's output.

Exit codes come from one place, `main`: 0 success, 1 a budget failed, 2 bad input
(one line on stderr naming the problem and what is accepted), 3 the simulation failed
its own verification (or another bug: one line, never a traceback), 130 interrupted
(Ctrl-C: one line), 141 stdout closed early (`hvo-calc plan | head -1`: quietly).
"""

import os
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

import click  # noqa: E402

from hvo_calc import __version__  # noqa: E402
from hvo_calc.errors import HvoError  # noqa: E402
from hvo_calc.output import StdoutClosed  # noqa: E402

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a process that SIGPIPE ended
EXIT_BUG = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hvo-calc")
def cli() -> None:
    """Plan hugepage pools with HugeTLB Vmemmap Optimization (HVO).

    Simulates, on a model of the kernel's vmemmap page tables, how much struct-page
    memory HVO frees for each pool: reserved (kept mapped), freed, page-table pages
    spent on splits, and the net saving. Sizes are binary: 64K = 64 KiB, 2M = 2 MiB.

    Example: hvo-calc plan --arch arm64 --page 64K --huge 512M --count 64
    """


def _register() -> None:
    """Import every module of this package: each command module registers itself on `cli`,
    so a new command is a new file here and nothing else."""
    from importlib import import_module
    from pkgutil import iter_modules

    for module in iter_modules(__path__):
        import_module(f"{__name__}.{module.name}")


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
    _register()
    try:
        cli.main(args=argv, prog_name="hvo-calc", standalone_mode=False)
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
    global _in_main
    _in_main = True
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
