"""``python -m pytest_tinytorch update REF``: take a new release of the course, keep your code.

An instructor publishes a new release as a new commit of the course's template repository
(``python -m pytest_tinytorch release`` into a clone of it, commit, push). Merging that commit
into a student's repository would conflict wherever the student wrote code, so a student
updates with this command instead, once the template is a git remote::

    git remote add course <the template's URL>     # once
    git fetch course
    python -m pytest_tinytorch update course/main
    git commit -am "Course update"

Every course file (everything outside ``tinytorch/``) becomes the new release's, and course
files the new release no longer has are removed. In the student's package:

- a module still exactly as the old release shipped it (``katas/stubs.json``) takes the new
  release's version, as does a module the new release adds;
- a module the student changed is never touched; where the new release changed its starting
  file too, the update names it and how to read the new one (``git show REF:tinytorch/...``).

The course's Markdown (the READMEs) is the course's too and is replaced; notes in files of
the student's own are never touched. Nothing is committed: ``git diff`` shows the update.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .coursefiles import RECORD, STUDENT_PACKAGE
from .reset import SHIPPED, ResetError, shipped_modules


class UpdateError(Exception):
    """The update cannot be made as asked (nothing was changed)."""


@dataclass
class Changes:
    course: list[str] = field(default_factory=list)  # course files written
    removed: list[str] = field(default_factory=list)  # course files the new release dropped
    modules: list[str] = field(default_factory=list)  # student modules taken from the release
    kept: list[str] = field(default_factory=list)  # the student's modules whose stub changed


def update(root: Path, ref: str) -> Changes:
    """Bring the course files of ``root`` to the release at git ``ref``; keep the student's code."""
    new_files = {path: _show(root, ref, path) for path in _tree(root, ref)}
    if SHIPPED.as_posix() not in new_files:
        raise UpdateError(f"{ref} has no {SHIPPED.as_posix()}: it is not a student release")
    try:
        shipped = shipped_modules(root)
    except ResetError as error:
        raise UpdateError(f"this repository is not a student release: {error}") from None
    changes = Changes()
    old_course = _recorded_course_files(root)
    for path, content in new_files.items():
        target = root / path
        current = target.read_bytes() if target.is_file() else None
        if current == content:
            continue
        module = path.removeprefix(f"{STUDENT_PACKAGE}/")
        if path.startswith(f"{STUDENT_PACKAGE}/") and current is not None and current != shipped.get(module):
            changes.kept.append(path)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        (changes.modules if path.startswith(f"{STUDENT_PACKAGE}/") else changes.course).append(path)
    for path in sorted(old_course - new_files.keys()):
        (root / path).unlink(missing_ok=True)
        changes.removed.append(path)
    return changes


def _recorded_course_files(root: Path) -> set[str]:
    """The course files the current release recorded (the record itself included)."""
    try:
        return set(json.loads((root / RECORD).read_text(encoding="utf-8"))["files"]) | {RECORD}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _tree(root: Path, ref: str) -> list[str]:
    """Every file of the release at ``ref``."""
    return [path for path in _git(root, "ls-tree", "-r", "--name-only", ref).decode("utf-8").splitlines()
            if path]


def _show(root: Path, ref: str, path: str) -> bytes:
    return _git(root, "show", f"{ref}:{path}")


def _git(root: Path, *arguments: str) -> bytes:
    completed = subprocess.run(["git", *arguments], cwd=root, capture_output=True, check=False)
    if completed.returncode != 0:
        raise UpdateError(f"git {' '.join(arguments)}: {completed.stderr.decode(errors='replace').strip()}")
    return completed.stdout
