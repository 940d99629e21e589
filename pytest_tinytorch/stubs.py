"""Generate the learner's ``tinytorch/`` from ``reference/tinytorch/``.

In the reference, each part a learner writes is a solution region: the lines between a
line ``# BEGIN SOLUTION`` and a line ``# END SOLUTION`` inside a function, after its
signature and docstring (which stay: they are the specification). The stub keeps
everything outside the regions and replaces each region with a ``raise
NotImplementedError`` that names the function and the kata. Files without regions
(helpers, loaders, data) are copied as they are.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .manifest import Curriculum

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
STUB_MESSAGE = "not implemented yet"


class StubError(Exception):
    """The reference's solution markers are malformed."""


@dataclass(frozen=True)
class Difference:
    path: str
    problem: str  # "differs", "missing" or "extra"


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
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(reference).as_posix()
        if path.suffix != ".py":
            tree[relative] = path.read_bytes()
            continue
        source = path.read_text(encoding="utf-8")
        kata = curriculum.kata_of_module(relative)
        if kata is None:
            if BEGIN in source:
                raise StubError(f"reference/tinytorch/{relative} has solution regions but no kata "
                                f"in katas/manifest.toml lists it under 'modules'")
            tree[relative] = path.read_bytes()
            continue
        stub = stub_source(source, f"kata {kata.label}", f"reference/tinytorch/{relative}")
        tree[relative] = stub.encode("utf-8")
    return tree


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


def write(curriculum: Curriculum) -> list[Difference]:
    """Rewrite ``tinytorch/`` from the reference; return what changed."""
    target = curriculum.root / "tinytorch"
    expected = generate(curriculum)
    changes = compare(curriculum, expected)
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
    return changes
