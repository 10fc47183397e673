"""The errors the tool raises on purpose, each with the exit code it ends in.

One place decides exit codes (the CLI catches `HvoError` at the top):
0 success, 1 a budget failed (`check`), 2 bad input, 3 the simulation failed its own
verification (a bug in the model, never the user's fault), 141 stdout closed early.
"""


class HvoError(Exception):
    """Base of the errors that end the command with a one-line message."""

    exit_code = 1


class InputError(HvoError):
    """Bad input: an option, a profile file or a plan that cannot exist."""

    exit_code = 2


class WalkError(HvoError):
    """A rule of the vmemmap walk was broken (the kernel would BUG_ON)."""

    exit_code = 3


class VerificationError(HvoError):
    """The page-table model does not hold what HVO promises after a remap."""

    exit_code = 3


class BudgetError(HvoError):
    """`hvo-calc check`: at least one budget failed (the failed ones are printed first)."""

    exit_code = 1


class StdoutClosed(BaseException):
    """The reader of our stdout went away (`hvo-calc plan | head -1`). A BaseException, so
    click does not turn it into its own exit code 1: `main` ends quietly with 141."""
