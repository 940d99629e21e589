"""Generate the student's ``tinytorch/`` from ``reference/tinytorch/``.

In the reference, each part a student writes is a solution region: the lines between a
line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION`` inside a function, after its
signature and docstring (which stay: they are the specification). The stub keeps
everything outside the regions and replaces each region with a ``raise
NotImplementedError`` that names the function and the kata. Files without regions
(helpers, loaders, data) are copied as they are.

Writing the stubs never destroys a student's work. A file of ``tinytorch/`` that ``stubs``
would overwrite or remove is replaced only when it is a stub itself, that is when its bytes
are either

- the stub of the reference as committed at git ``HEAD`` (the stubs a clone starts with), or
- the bytes ``stubs`` last wrote there on this machine (their sha256 is kept in
  ``.tinytorch-stubs.json``, git-ignored, so a maintainer can regenerate again and again
  while editing the reference).

Any other content is the student's: :func:`write` then changes nothing and raises
:class:`StudentCodeError` naming the files, unless forced, in which case it first copies
them into a new folder ``.tinytorch-backups/<date>_<time>/tinytorch/``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .manifest import Curriculum

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB_MESSAGE = "not implemented yet"
RECORD = ".tinytorch-stubs.json"  # sha256 of each file `stubs` last wrote, by path in tinytorch/
RECORD_FORMAT = "tinytorch-stubs/1"
BACKUPS = ".tinytorch-backups"


class StubError(Exception):
    """The stubs cannot be generated or written: malformed markers, no reference."""


class StudentCodeError(StubError):
    """Writing the stubs would overwrite or remove files holding the student's code."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        listed = "".join(f"\n  tinytorch/{path}" for path in paths)
        super().__init__(f"these files hold your code (they are not generated stubs), so nothing "
                         f"was changed:{listed}")


@dataclass(frozen=True)
class Difference:
    path: str
    problem: str  # "differs", "missing" or "extra"


@dataclass(frozen=True)
class Written:
    """What :func:`write` did: the changes, and where the student's replaced files were copied."""

    changes: list[Difference]
    backup: Path | None


def stub_source(source: str, qualname_prefix: str, where: str) -> str:
    """Replace every solution region in ``source`` (the text of the file ``where``)."""
    lines = source.splitlines(keepends=True)
    owners = _enclosing_functions(source)
    output: list[str] = []
    begin_line = 0
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN:
            if begin_line:
                raise StubError(f"{where}:{number}: {BEGIN} inside the region opened at line {begin_line}")
            begin_line = number
            owner = owners.get(number)
            if owner is None:
                raise StubError(f"{where}:{number}: a solution region must sit inside a function")
            indent = line[: len(line) - len(line.lstrip())]
            message = f"{owner}: {STUB_MESSAGE} ({qualname_prefix})"
            output.append(f'{indent}raise NotImplementedError("{message}")\n')
        elif marker == END:
            if not begin_line:
                raise StubError(f"{where}:{number}: {END} without a matching {BEGIN}")
            begin_line = 0
        elif not begin_line:
            output.append(line)
    if begin_line:
        raise StubError(f"{where}:{begin_line}: {BEGIN} is never closed by {END}")
    return "".join(output)


def solved_source(source: str) -> str:
    """The reference's code with its marker lines removed: a given module, solved."""
    return "".join(line for line in source.splitlines(keepends=True)
                   if line.strip() not in (BEGIN, END))


def marker_lines(text: str) -> list[int]:
    """Line numbers of solution markers in ``text`` (a release must have none)."""
    return [number for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() in (BEGIN, END)]


def _enclosing_functions(source: str) -> dict[int, str]:
    """Map each line number to the qualified name of the innermost function around it."""
    owners: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                        owners[line] = name
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return owners


def generate(curriculum: Curriculum) -> dict[str, bytes]:
    """The stub tree as {path relative to tinytorch/: content}."""
    reference = curriculum.root / "reference" / "tinytorch"
    if not reference.is_dir():
        raise StubError(f"there is no {reference}: stubs are generated where the reference "
                        f"solution is (the maintainers' repository, not a student release)")
    tree: dict[str, bytes] = {}
    for path in sorted(reference.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(reference).as_posix()
            tree[relative] = stub_file(curriculum, relative, path.read_bytes())
    return tree


def stub_file(curriculum: Curriculum, relative: str, content: bytes) -> bytes:
    """The stub of the reference file ``reference/tinytorch/<relative>`` holding ``content``."""
    if not relative.endswith(".py"):
        return content
    source = content.decode("utf-8")
    kata = curriculum.kata_of_module(relative)
    if kata is None:
        if BEGIN in source:
            raise StubError(f"reference/tinytorch/{relative} has solution regions but no kata "
                            f"in katas/manifest.toml lists it under 'modules'")
        return content
    return stub_source(source, f"kata {kata.label}", f"reference/tinytorch/{relative}").encode("utf-8")


def compare(curriculum: Curriculum, expected: dict[str, bytes] | None = None) -> list[Difference]:
    """How the committed ``tinytorch/`` differs from freshly generated stubs."""
    target = curriculum.root / "tinytorch"
    expected = generate(curriculum) if expected is None else expected
    actual = {
        path.relative_to(target).as_posix(): path.read_bytes()
        for path in sorted(target.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    differences = [Difference(p, "missing") for p in expected if p not in actual]
    differences += [Difference(p, "extra") for p in actual if p not in expected]
    differences += [Difference(p, "differs") for p in expected
                    if p in actual and actual[p] != expected[p]]
    return sorted(differences, key=lambda d: d.path)


def write(curriculum: Curriculum, *, force: bool = False) -> Written:
    """Rewrite ``tinytorch/`` from the reference; return what changed.

    Raises :class:`StudentCodeError`, having changed nothing, when a file to be overwritten or
    removed holds the student's code (see the module docstring); with ``force`` those files
    are copied into a new backup folder first.
    """
    target = curriculum.root / "tinytorch"
    expected = generate(curriculum)
    changes = compare(curriculum, expected)
    theirs = students_files(curriculum, [c.path for c in changes if c.problem != "missing"])
    if theirs and not force:
        raise StudentCodeError(theirs)
    backup = back_up(curriculum.root, theirs) if theirs else None
    for change in changes:
        path = target / change.path
        if change.problem == "extra":
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(expected[change.path])
    for folder in sorted(target.rglob("*"), reverse=True):
        if folder.is_dir() and folder.name != "__pycache__" and not any(folder.iterdir()):
            folder.rmdir()
    _remember(curriculum.root, expected)
    return Written(changes, backup)


def students_files(curriculum: Curriculum, paths: list[str]) -> list[str]:
    """Those of ``paths`` (in ``tinytorch/``) whose content is no stub ``stubs`` made or shipped."""
    if not paths:
        return []
    target = curriculum.root / "tinytorch"
    recorded = _recorded(curriculum.root)
    committed = committed_stubs(curriculum)
    theirs = []
    for path in paths:
        content = (target / path).read_bytes()
        if committed.get(path) != content and recorded.get(path) != _sha256(content):
            theirs.append(path)
    return theirs


def committed_stubs(curriculum: Curriculum) -> dict[str, bytes]:
    """The stubs of the reference as committed at git HEAD; empty without git or a commit."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", "HEAD:./reference/tinytorch"],
                                 cwd=curriculum.root, capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    tree = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            file = tar.extractfile(member) if member.isfile() else None
            if file is None or "__pycache__" in member.name.split("/"):
                continue
            try:
                tree[member.name] = stub_file(curriculum, member.name, file.read())
            except (StubError, UnicodeDecodeError, SyntaxError):
                continue  # a committed file today's manifest cannot stub: no stub to match
    return tree


def back_up(root: Path, paths: Iterable[str]) -> Path:
    """Copy ``tinytorch/<path>`` of each of ``paths`` into a new folder under ``.tinytorch-backups``.

    The folder is named after the local date and time (``2025-03-01_14-05-09``, with ``-2``,
    ``-3``... added when that name is taken); the copies keep their paths from the root.
    """
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    for attempt in range(1, 1000):
        folder = root / BACKUPS / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
            break
        except FileExistsError:
            continue
    else:
        raise StubError(f"{root / BACKUPS} has no free folder name for {stamp}")
    for path in paths:
        copy = folder / "tinytorch" / path
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / "tinytorch" / path, copy)
    return folder


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _recorded(root: Path) -> dict[str, str]:
    """The sha256 of what ``stubs`` last wrote, by path; empty when unknown or unreadable."""
    try:
        data = json.loads((root / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("format") == RECORD_FORMAT else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _remember(root: Path, tree: dict[str, bytes]) -> None:
    record = {"format": RECORD_FORMAT, "files": {path: _sha256(content) for path, content in tree.items()}}
    (root / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
