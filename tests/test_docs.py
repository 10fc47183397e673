"""Every example in README.md and docs/*.md that shows output is run and compared with what it
shows, so the docs cannot drift (`tests/docs_examples.py`: the format, and `--update` to
rewrite the shown output from real runs)."""

import difflib
import re
import shutil

import pytest
from docs_examples import ROOT, _scratch_root, documents, examples, run

EXAMPLES = [example for path in documents() for example in examples(path)]


@pytest.fixture(scope="module")
def root_copy():
    with _scratch_root() as cwd:
        yield cwd


def test_the_docs_have_examples():
    shown = {example.path.name for example in EXAMPLES}
    assert "README.md" in shown and len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_example_output_is_what_the_command_prints(example, root_copy):
    for tool in sorted(set(re.findall(r"\|\s*(jq)\b", example.command))):  # a filter users have, not every machine
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    real = run(example.command, root_copy)
    if real != example.shown:
        diff = "".join(difflib.unified_diff(example.shown.splitlines(True), real.splitlines(True), "shown", "real"))
        pytest.fail(
            f"{example.where}: `{example.command}` prints something else; if the change is meant, "
            f"run `python tests/docs_examples.py --update` and review the diff\n{diff}",
            pytrace=False,
        )


def test_examples_run_from_the_repository_root():
    assert (ROOT / "README.md").exists() and (ROOT / "tests" / "fixtures" / "hosts").is_dir()


def test_the_readme_is_what_a_user_needs_first():
    """At most about 1,800 words by `wc -w` (outputs included): the rest lives in docs/; every
    docs/ page the README sends to exists."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.split()) <= 1800
    for link in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#[\w-]+)?\)", readme):
        assert (ROOT / link).is_file(), link
