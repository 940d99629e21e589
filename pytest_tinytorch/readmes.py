"""Keep each kata's README saying what the manifest says.

A fact about a kata has one owner, ``katas/manifest.toml``; the plugin prints it from there.
Where a README shows the same fact, it shows a copy generated from the manifest, between two
marker lines that name the section::

    ## Reflect
    <!-- generated: reflect -->
    - A (1000, 1000) float32 tensor takes 4 MB. ...
    <!-- /generated: reflect -->

``python -m pytest_tinytorch readmes`` rewrites the lines between each pair of markers and
leaves every other byte of the README as it is (the heading above, the prose around, the
markers themselves). ``--check`` changes nothing and lists each kata and section whose README
differs. So to change a question, edit the manifest and regenerate: an edit between the
markers is overwritten, and fails the check until then.

Which manifest fields a README restates is :data:`SECTIONS`. Today that is ``reflect``, the
questions shown when a kata passes: the summary is shown by the plugin and the README's own
"Where this kata sits" says it at length, the hints are revealed one at a time and so never
printed whole, and the timeout advice appears only when a test runs out of time. A kata with
questions must have the reflect markers in its README, so that a new README cannot go back
to a hand-written copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .manifest import Curriculum, Kata

WIDTH = 92  # the width the READMEs' prose is wrapped at
OPEN = re.compile(r"<!-- generated: (?P<name>[\w-]+) -->")
CLOSE = re.compile(r"<!-- /generated: (?P<name>[\w-]+) -->")
# A continuation line starting with one of these would begin a new Markdown block (a list
# item, a heading, a quote, a fence) instead of continuing the list item.
BLOCK_START = re.compile(r"(?:[-+*=]+|\d{1,9}[.)]|#{1,6})$|>|```|~~~")


class ReadmeError(Exception):
    """A README's markers are malformed: unclosed, nested, or naming an unknown section."""


@dataclass(frozen=True)
class Difference:
    """A generated section of ``kata``'s README that is not what the manifest says."""

    kata: Kata
    section: str
    problem: str  # "differs", or "missing" when the README lacks the section's markers


def bullet_list(items: tuple[str, ...]) -> str:
    """``items`` as a Markdown list, each item wrapped at :data:`WIDTH` columns."""
    return "".join(_wrapped_item(item) + "\n" for item in items)


def _wrapped_item(text: str) -> str:
    lines: list[list[str]] = [[]]
    for word in text.split():
        line = lines[-1]
        if line and len(" ".join([*line, word])) + 2 > WIDTH:
            carried: list[str] = []
            while BLOCK_START.match((carried or [word])[0]) and len(line) > 1:
                carried.insert(0, line.pop())
            lines.append(carried)
        lines[-1].append(word)
    return "\n".join(("- " if number == 0 else "  ") + " ".join(words)
                     for number, words in enumerate(lines))


# The manifest fields a README restates, by section name; each is shown as a list.
SECTIONS: dict[str, Callable[[Kata], tuple[str, ...]]] = {
    "reflect": lambda kata: kata.reflect,
}


def required(kata: Kata) -> list[str]:
    """The sections ``kata``'s README must hold: those the manifest has something for."""
    return [name for name, field in SECTIONS.items() if field(kata)]


def regenerate(text: str, kata: Kata, where: str) -> tuple[str, dict[str, bool]]:
    """``text`` (the README ``where``) with every generated section rewritten from ``kata``.

    Returns the new text and, for each section found, whether its lines changed.
    """
    output: list[str] = []
    found: dict[str, bool] = {}
    section, opened_at, body = None, 0, ""
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        opening, closing = OPEN.fullmatch(line.strip()), CLOSE.fullmatch(line.strip())
        if section is None and closing:
            raise ReadmeError(f"{where}:{number}: {line.strip()} closes no open section")
        if section is None and opening:
            section, opened_at, body = opening["name"], number, ""
            if section not in SECTIONS:
                raise ReadmeError(f"{where}:{number}: unknown generated section {section!r}; "
                                  f"the sections are: {', '.join(SECTIONS)}")
            output.append(line)
        elif section is not None and (opening or closing):
            if not (closing and closing["name"] == section):
                raise ReadmeError(f"{where}:{number}: {line.strip()} inside the section "
                                  f"{section!r} opened at line {opened_at}")
            generated = bullet_list(SECTIONS[section](kata))
            found[section] = found.get(section, False) or body != generated
            output += [generated, line]
            section = None
        elif section is not None:
            body += line
        else:
            output.append(line)
    if section is not None:
        raise ReadmeError(f"{where}:{opened_at}: the section {section!r} is never closed")
    return "".join(output), found


def _readme(curriculum: Curriculum, kata: Kata) -> Path:
    return curriculum.folder(kata) / "README.md"


def _shown(curriculum: Curriculum, path: Path) -> str:
    return path.relative_to(curriculum.root).as_posix()


def _review(curriculum: Curriculum, kata: Kata) -> tuple[str, str, list[Difference]]:
    """(the README's text, its regenerated text, how they differ) for ``kata``."""
    path = _readme(curriculum, kata)
    text = path.read_bytes().decode("utf-8") if path.exists() else ""
    fresh, found = regenerate(text, kata, _shown(curriculum, path))
    differences = [Difference(kata, name, "missing") for name in required(kata) if name not in found]
    differences += [Difference(kata, name, "differs") for name, changed in found.items() if changed]
    return text, fresh, differences


def compare(curriculum: Curriculum) -> list[Difference]:
    """Every generated section, in every kata's README, that differs from the manifest."""
    return [difference for kata in curriculum.katas for difference in _review(curriculum, kata)[2]]


def write(curriculum: Curriculum) -> list[Difference]:
    """Rewrite the generated sections that differ; return every difference found.

    A ``missing`` section cannot be written (where it goes is the README author's choice):
    it is returned, and the README is otherwise brought up to date.
    """
    differences = []
    for kata in curriculum.katas:
        text, fresh, found = _review(curriculum, kata)
        if fresh != text:
            _readme(curriculum, kata).write_bytes(fresh.encode("utf-8"))
        differences += found
    return differences


def location(curriculum: Curriculum, difference: Difference) -> str:
    """Where a difference is, as a maintainer reads it: kata, README and section."""
    readme = _shown(curriculum, _readme(curriculum, difference.kata))
    return f"kata {difference.kata.label}: {readme}, section {difference.section!r}"
