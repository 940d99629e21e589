"""The course files of a student release, and the check that a submission still has them.

Everything in a student release except the student's code belongs to the instructor: the
katas and their conftests, the plugin, the root ``conftest.py``, ``pyproject.toml``, the
milestones and the data the katas read. The release records the sha256 of each of those
files in ``katas/release.json``; its grading workflow holds the sha256 of that record and,
before it installs anything, runs :func:`main` of this file with ``python -I -S``. The
workflow carries this file's source inside it, so the check imports nothing but the standard
library and executes no file a student can change.

A submission passes the check when the record is the release's, every recorded file is
unchanged, and no file was added that could change what runs: nothing in the course's own
folders, and no Python or configuration file (a ``pytest.ini``, a ``conftest.py``, a
``sitecustomize.py``, a ``numpy.py``...) outside the student's package. Notes in Markdown may
be added or edited anywhere; other files (a ``.DS_Store``, an editor's settings) may be added.

This module must stay runnable on its own: it imports nothing from its package.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

RECORD = "katas/release.json"
RECORD_FORMAT = "tinytorch-release/1"
STUDENT_PACKAGE = "tinytorch"
NOT_CHECKED = frozenset({".git", ".github"})  # top-level folders: git's own, and the workflow's
CACHES = frozenset({"__pycache__", ".pytest_cache"})
SYMLINK = "symlink to "  # a linked folder is recorded as its target, never followed
COURSE_FOLDERS = frozenset({"katas", "pytest_tinytorch", "milestones"})
# Files Python or pytest may load: none may be added outside the student's package.
RUNNABLE_SUFFIXES = (".py", ".pyc", ".pyd", ".so", ".pth", ".ini", ".cfg", ".toml")
# Names that would reconfigure pytest or Python even inside the student's package.
CONFIGURATION_NAMES = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg",
                                 "setup.py", "pyproject.toml", "sitecustomize.py", "usercustomize.py"})


def is_student_file(relative: str) -> bool:
    """The student's own files: Python code in their package, notes, progress, backups."""
    top, _, rest = relative.partition("/")
    name = relative.rsplit("/", 1)[-1]
    if relative.endswith(".md") or name.startswith((".tinytorch-progress.json", ".tinytorch-stubs.json")):
        return True
    if top == ".tinytorch-backups":  # copies of the student's code kept by `stubs` and `reset`
        return True
    if top == "milestones" and rest.startswith("results/"):
        return True
    return top == STUDENT_PACKAGE and relative.endswith(".py") and name not in CONFIGURATION_NAMES


def could_change_a_run(relative: str) -> bool:
    """Whether an added file at ``relative`` could change what a grading run executes."""
    top, _, _ = relative.partition("/")
    name = relative.rsplit("/", 1)[-1]
    if name in CONFIGURATION_NAMES:
        return True
    if top == STUDENT_PACKAGE:
        return False
    return top in COURSE_FOLDERS or name.endswith(RUNNABLE_SUFFIXES)


def course_files(root: Path, *, skip_caches: bool = False) -> dict[str, str]:
    """sha256 of every file under ``root`` that belongs to the instructor, by posix path.

    Grading does not skip caches: a ``.pyc`` committed into ``__pycache__`` could be imported
    in place of its source. A local run may skip the caches Python and pytest write.
    """
    table = {}
    for folder, subfolders, files in os.walk(root):
        here = Path(folder)
        subfolders[:] = sorted(name for name in subfolders
                               if not (here == root and name in NOT_CHECKED)
                               and not (skip_caches and name in CACHES))
        for name in [name for name in subfolders if (here / name).is_symlink()]:
            subfolders.remove(name)
            table[(here / name).relative_to(root).as_posix()] = SYMLINK + os.readlink(here / name)
        for name in files:
            path = here / name
            relative = path.relative_to(root).as_posix()
            if relative != RECORD and not is_student_file(relative) and path.is_file():
                table[relative] = sha256_of(path)
    return dict(sorted(table.items()))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def problems(root: Path, record_sha256: str) -> list[str]:
    """Why ``root`` is not the release whose record has ``record_sha256``; empty if it is."""
    record_path = root / RECORD
    if not record_path.is_file():
        return [f"{RECORD} is missing"]
    if sha256_of(record_path) != record_sha256:
        return [f"{RECORD} differs from the release's"]
    recorded = json.loads(record_path.read_text(encoding="utf-8"))["files"]
    present = course_files(root)
    found = [f"changed: {name}" for name in sorted(recorded)
             if name in present and present[name] != recorded[name]]
    found += [f"missing: {name}" for name in sorted(recorded.keys() - present.keys())]
    found += [f"added: {name}" for name in sorted(present.keys() - recorded.keys())
              if could_change_a_run(name) or present[name].startswith(SYMLINK)]
    return found


def main(argv: list[str]) -> int:
    """``python -I -S coursefiles.py RECORD_SHA256 [ROOT]``: exit 0 only for the release's files."""
    if len(argv) not in (1, 2):
        print("usage: coursefiles.py RECORD_SHA256 [ROOT]", file=sys.stderr)
        return 2
    root = Path(argv[1] if len(argv) == 2 else ".").resolve()
    found = problems(root, argv[0])
    for line in found:
        print(f"course files: {line}")
    if found:
        print("These files belong to the course, not to your code: restore them from the "
              "template repository (only tinytorch/ is yours). Nothing was graded.")
        return 1
    print(f"course files: all {len(course_files(root))} are the release's")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
