"""The katas' READMEs restate the manifest only in generated sections, and those agree with it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pytest_tinytorch import readmes
from pytest_tinytorch.__main__ import main
from pytest_tinytorch.manifest import MANIFEST, load

ROOT = Path(__file__).resolve().parents[1]
OPEN, CLOSE = "<!-- generated: reflect -->\n", "<!-- /generated: reflect -->\n"


@pytest.fixture
def copy(tmp_path) -> Path:
    """A root holding a copy of the manifest and of every kata's README."""
    (tmp_path / MANIFEST).parent.mkdir(parents=True)
    shutil.copy(ROOT / MANIFEST, tmp_path / MANIFEST)
    for readme in (ROOT / "katas").glob("*/README.md"):
        (tmp_path / "katas" / readme.parent.name).mkdir()
        shutil.copy(readme, tmp_path / "katas" / readme.parent.name / "README.md")
    return tmp_path


def readme(root: Path, kata: str) -> Path:
    return next((root / "katas").glob(f"{kata}_*")) / "README.md"


def run(root: Path, *args: str) -> int:
    return main(["--root", str(root), "readmes", *args])


def outside_markers(text: str) -> str:
    return re.sub(f"{OPEN}.*?{CLOSE}", "", text, flags=re.DOTALL)


def test_the_committed_readmes_match_the_manifest(capsys):
    assert readmes.compare(load(ROOT)) == []
    assert run(ROOT, "--check") == 0, capsys.readouterr().out


def test_every_kata_with_questions_shows_them_in_a_generated_section():
    for kata in load(ROOT).katas:
        text = readme(ROOT, kata.id).read_text(encoding="utf-8")
        assert text.count(OPEN) == text.count(CLOSE) == (1 if kata.reflect else 0), kata.name


def test_an_edit_between_the_markers_fails_the_check_naming_kata_and_section(copy, capsys):
    path = readme(copy, "09")
    committed = path.read_bytes()
    path.write_bytes(_edit_inside(committed))

    assert run(copy, "--check") == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "differs  kata 09 Spatial: katas/09_spatial/README.md, section 'reflect'"]
    assert path.read_bytes() != committed, "--check changes nothing"

    assert run(copy) == 0
    assert "updated  kata 09 Spatial" in capsys.readouterr().out
    assert path.read_bytes() == committed
    assert run(copy, "--check") == 0


def _edit_inside(text: bytes) -> bytes:
    start = text.index(OPEN.encode()) + len(OPEN)
    return text[:start] + b"- A question written in the README only.\n" + text[start:]


def test_text_outside_the_markers_is_kept_byte_for_byte(copy):
    path = readme(copy, "01")
    text = path.read_bytes().decode("utf-8")
    # Prose as others write it: a section appended after Reflect, odd spacing, no final newline.
    edited = ("Intro  with  two spaces\t\n\n" + _edit_inside(text.encode()).decode("utf-8")
              + "\n## Classic mistakes\n\n- `np.matmul` on lists   \n  (trailing spaces kept)")
    path.write_bytes(edited.encode("utf-8"))

    assert run(copy) == 0
    regenerated = path.read_bytes().decode("utf-8")
    assert outside_markers(regenerated) == outside_markers(edited)
    assert regenerated == edited.replace("- A question written in the README only.\n", "")


def test_a_new_question_in_the_manifest_reaches_the_readme_and_nothing_else(copy):
    manifest = copy / MANIFEST
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(
        'reflect = [\n', 'reflect = [\n  "What does a brand-new question cost?",\n', 1), encoding="utf-8")
    before = {path: path.read_bytes() for path in (copy / "katas").glob("*/README.md")}

    assert run(copy, "--check") == 1
    assert run(copy) == 0

    changed = [path for path, text in before.items() if path.read_bytes() != text]
    assert changed == [readme(copy, "01")]
    text = changed[0].read_text(encoding="utf-8")
    assert f"{OPEN}- What does a brand-new question cost?\n- A (1000, 1000)" in text
    assert outside_markers(text) == outside_markers(before[changed[0]].decode("utf-8"))


def test_a_readme_without_the_markers_is_reported_missing(copy, capsys):
    path = readme(copy, "12")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(OPEN, "").replace(CLOSE, ""), encoding="utf-8")

    for args in (("--check",), ()):
        assert run(copy, *args) == 1
        captured = capsys.readouterr()
        assert "missing  kata 12 Attention: katas/12_attention/README.md, section 'reflect'" in captured.out
        assert "<!-- generated: NAME -->" in captured.err


@pytest.mark.parametrize("body, problem", [
    (f"{OPEN}- q\n", "README.md:1: the section 'reflect' is never closed"),
    (f"- q\n{CLOSE}", "README.md:2: <!-- /generated: reflect --> closes no open section"),
    (f"{OPEN}{OPEN}{CLOSE}",
     "README.md:2: <!-- generated: reflect --> inside the section 'reflect' opened at line 1"),
    ("<!-- generated: hints -->\n<!-- /generated: hints -->\n",
     "README.md:1: unknown generated section 'hints'; the sections are: reflect"),
])
def test_malformed_markers_are_errors_naming_file_and_line(copy, capsys, body, problem):
    readme(copy, "03").write_text(body, encoding="utf-8")
    assert run(copy, "--check") == 2
    assert f"katas/03_layers/{problem}" in capsys.readouterr().err


def test_questions_wrap_into_list_items_that_markdown_cannot_split():
    # "- ab xxx...x" fills the line, so "-" would start the next one: a new list item. The
    # word before it is carried down with it.
    long_word = "x" * 86
    assert readmes.bullet_list((f"ab {long_word} - y",)) == f"- ab\n  {long_word} - y\n"

    awkward = [f"{'x' * length} then - a - b # c 1. - - d > e" for length in range(70, 90)]
    questions = (*[q for kata in load(ROOT).katas for q in kata.reflect], *awkward)
    rendered = readmes.bullet_list(questions)
    items = re.split(r"\n(?=- )", rendered.rstrip("\n"))
    assert [" ".join(item[2:].split()) for item in items] == [" ".join(q.split()) for q in questions]
    continuations = [line[2:] for line in rendered.splitlines() if line.startswith("  ")]
    assert not [line for line in continuations if readmes.BLOCK_START.match(line.split()[0])]
    assert max(map(len, rendered.splitlines())) <= readmes.WIDTH
