"""The reference-to-stub pipeline, and the committed stubs being in sync with the reference."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_tinytorch import stubs
from pytest_tinytorch.__main__ import main
from pytest_tinytorch.manifest import load

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''"""A module."""

HELPER = 3


class Layer:
    def forward(self, x):
        """Docstrings stay."""
        y = x
        # BEGIN SOLUTION
        return y * HELPER
        # END SOLUTION


def loose(x):
    def inner():
        # BEGIN SOLUTION
        return x
        # END SOLUTION
    return inner
'''


def test_regions_become_a_raise_naming_the_function_and_kata():
    stub = stubs.stub_source(SOURCE, "kata 03 Layers", "layer.py")
    assert 'raise NotImplementedError("Layer.forward: not implemented yet (kata 03 Layers)")' in stub
    assert 'raise NotImplementedError("loose.inner: not implemented yet (kata 03 Layers)")' in stub
    assert "return y * HELPER" not in stub and "BEGIN SOLUTION" not in stub
    assert '"""Docstrings stay."""' in stub and "HELPER = 3" in stub and "y = x" in stub
    compile(stub, "layer.py", "exec")


def test_the_raise_keeps_the_regions_indentation():
    stub = stubs.stub_source(SOURCE, "kata 03 Layers", "layer.py")
    assert '\n        raise NotImplementedError("Layer.forward' in stub


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "without a matching"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n",
     "inside the region"),
    ("# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n", "inside a function"),
])
def test_malformed_markers_are_errors_with_a_location(source, problem):
    with pytest.raises(stubs.StubError, match=f"m.py:\\d+: .*{problem}"):
        stubs.stub_source(source, "kata 01 Tensor", "m.py")


def test_check_reports_drift_and_write_repairs_it(project):
    curriculum = load(project.path)
    assert stubs.compare(curriculum) == [stubs.Difference("__init__.py", "differs")]
    project.write("tinytorch/extra.py", "")
    project.write("tinytorch/beta.py", "def triple(x):\n    return 3 * x\n")
    assert {(d.path, d.problem) for d in stubs.compare(curriculum)} == {
        ("__init__.py", "differs"), ("extra.py", "extra"), ("beta.py", "differs")}
    assert main(["--root", str(project.path), "stubs", "--check"]) == 1
    assert main(["--root", str(project.path), "stubs", "--force"]) == 0
    assert stubs.compare(curriculum) == []
    assert not (project.path / "tinytorch" / "extra.py").exists()


def reference(project, module: str) -> str:
    return (project.path / "reference" / "tinytorch" / module).read_text()


def backups(project) -> list[Path]:
    return sorted((project.path / stubs.BACKUPS).glob("*"))


def test_stubs_refuse_to_overwrite_or_remove_the_students_code(project, capsys):
    """The miniature's stubs were written by `stubs`; then the student solved 01 and added a file."""
    project.write("tinytorch/__init__.py", 'WHICH = "reference"\n')  # back to the generated stub
    project.solve("alpha.py")
    project.write("tinytorch/helpers.py", "def mine():\n    return 1\n")
    project.write("reference/tinytorch/beta.py", reference(project, "beta.py").replace("3 * x", "x * 3"))
    stub_of_beta = (project.path / "tinytorch" / "beta.py").read_bytes()
    assert main(["--root", str(project.path), "stubs"]) == 1
    error = capsys.readouterr().err
    assert "tinytorch/alpha.py" in error and "tinytorch/helpers.py" in error and "--force" in error
    assert "tinytorch/beta.py" not in error
    assert (project.path / "tinytorch" / "alpha.py").read_text() == reference(project, "alpha.py")
    assert (project.path / "tinytorch" / "helpers.py").exists()
    assert (project.path / "tinytorch" / "beta.py").read_bytes() == stub_of_beta, "nothing changes"
    assert backups(project) == []


def test_force_replaces_the_students_code_and_keeps_a_copy(project, capsys):
    project.solve("alpha.py")
    project.write("tinytorch/helpers.py", "def mine():\n    return 1\n")
    assert main(["--root", str(project.path), "stubs", "--force"]) == 0
    [backup] = backups(project)
    assert f"kept in {stubs.BACKUPS}/{backup.name}/" in capsys.readouterr().out
    assert (backup / "tinytorch" / "alpha.py").read_text() == reference(project, "alpha.py")
    assert (backup / "tinytorch" / "helpers.py").read_text() == "def mine():\n    return 1\n"
    assert (backup / "tinytorch" / "__init__.py").read_text() == 'WHICH = "student"\n'
    assert stubs.compare(load(project.path)) == []
    project.solve("alpha.py")
    assert main(["--root", str(project.path), "stubs", "--force"]) == 0
    assert len(backups(project)) == 2, "a second copy never overwrites the first"


def test_stubs_regenerate_files_they_wrote_last_time(project):
    """A maintainer edits the reference twice and regenerates after each edit, without --force."""
    project.write("tinytorch/__init__.py", 'WHICH = "reference"\n')
    for edit in ("x * 3", "x + x + x"):
        project.write("reference/tinytorch/beta.py", reference(project, "beta.py").replace("3 * x", edit)
                      .replace("def triple(x):", f"def triple(x):\n    \"\"\"{edit}\"\"\""))
        assert main(["--root", str(project.path), "stubs"]) == 0
        assert edit in (project.path / "tinytorch" / "beta.py").read_text()
    assert backups(project) == []


def git(project, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=project.path, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_fresh_clone_regenerates_the_committed_stubs_but_not_committed_student_code(project, capsys):
    """Without a record (a fresh clone), the stubs of the reference at git HEAD are stubs; a
    student's solution is theirs even once committed (the rule reads HEAD's reference, not
    HEAD's tinytorch/)."""
    project.write("tinytorch/__init__.py", 'WHICH = "reference"\n')
    (project.path / stubs.RECORD).unlink()
    git(project, "init", "-q")
    project.solve("alpha.py")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "the student's kata 01")
    project.write("reference/tinytorch/beta.py", reference(project, "beta.py").replace("3 * x", "x * 3"))
    assert stubs.students_files(load(project.path), ["alpha.py", "beta.py"]) == ["alpha.py"]
    assert main(["--root", str(project.path), "stubs"]) == 1
    assert "tinytorch/alpha.py" in capsys.readouterr().err


def test_a_module_with_regions_must_belong_to_a_kata(project):
    orphan = "def f():\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n"
    project.write("reference/tinytorch/orphan.py", orphan)
    with pytest.raises(stubs.StubError, match="orphan.py has solution regions but no kata"):
        stubs.generate(load(project.path))


def test_the_committed_stubs_match_the_reference():
    differences = stubs.compare(load(ROOT))
    assert differences == [], "run `python -m pytest_tinytorch stubs` and commit tinytorch/"
