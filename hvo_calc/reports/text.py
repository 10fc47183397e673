"""Text from the report shown literally: pool names above all, which may hold any text.

Each format keeps a name literal in its own way. The human formats (table, markdown) show it
on one line: `one_line` writes every character that is not printable (a newline, a tab, an
escape that would drive the terminal, a bidirectional override) as its Python escape (`\\n`,
`\\x1b`, `\\u202e`) and leaves printable text as it is. Markdown then escapes the punctuation
that means something in a table cell or inline (`markdown_text`), or wraps the name in a code
span long enough for any backticks in it (`markdown_code`). The table's console reads no
markup, emoji codes or highlighting at all (see `table.py`); Prometheus label values and CSV
cells keep the name byte-exact with the escaping of their own format.
"""

import re

# Inline Markdown (CommonMark and GitHub) gives these meaning; a backslash makes any ASCII
# punctuation literal. Backslash first, so the escapes added here are not escaped again.
_MARKDOWN_SPECIAL = "\\`*_[]<>|~&$"
_MARKDOWN_ESCAPES = str.maketrans({char: "\\" + char for char in _MARKDOWN_SPECIAL})


def one_line(text: str) -> str:
    """`text` with each non-printable character as its escape, so it stays one line and inert."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def markdown_text(text: str) -> str:
    """`text` for a Markdown table cell or sentence: one line, pipes and inline markup escaped."""
    return one_line(text).translate(_MARKDOWN_ESCAPES)


def markdown_code(text: str) -> str:
    """`text` as a Markdown code span: one line, fenced by more backticks than any run inside."""
    body = one_line(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", body)), default=0) + 1)
    pad = " " if body[:1] == "`" or body[-1:] == "`" or (body[:1] == body[-1:] == " " and body.strip()) else ""
    return f"{fence}{pad}{body}{pad}{fence}"
