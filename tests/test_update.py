"""Updating a course in progress: a student with three katas solved takes a new release
(a changed kata test, a changed stub) and keeps every line of their code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tinytorch import stubs
from pytest_tinytorch.__main__ import main
from pytest_tinytorch.manifest import load

GIT = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.org"}
GAMMA = '''
def nothing():
    """Always True."""
    # BEGIN SOLUTION
    return True
    # END SOLUTION
'''


def git(folder: Path, *arguments: str) -> str:
    completed = subprocess.run(["git", *arguments], cwd=folder, capture_output=True, text=True,
                               check=True, env={**os.environ, **GIT})
    return completed.stdout.strip()


def publish(project: Path, template: Path, message: str) -> str:
    """A release of ``project`` committed as the template's new state; returns the commit."""
    out = template.parent / f"release-{message.replace(' ', '-')}"
    assert main(["--root", str(project), "release", str(out)]) == 0
    for path in template.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(out, template, dirs_exist_ok=True)
    git(template, "add", "-A")
    git(template, "commit", "-q", "-m", message)
    return git(template, "rev-parse", "HEAD")


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder,
                          capture_output=True, text=True, check=False, timeout=600)


def test_an_update_keeps_the_students_code_and_takes_the_new_course(make_project, tmp_path, classroom):
    project = make_project()
    project.write("reference/tinytorch/gamma.py", GAMMA)
    stubs.write(load(project.path), force=True)
    template = tmp_path / "template"
    template.mkdir()
    git(template, "init", "-q")
    publish(project.path, template, "first release")

    student = tmp_path / "student"
    git(tmp_path, "clone", "-q", str(template), str(student))
    for module in ("alpha.py", "beta.py", "gamma.py"):
        shutil.copy(project.path / "reference" / "tinytorch" / module, student / "tinytorch" / module)
    solved = {m: (student / "tinytorch" / m).read_bytes() for m in ("alpha.py", "beta.py", "gamma.py")}
    assert pytest_in(student, "--no-gate", "-q").returncode == 0
    git(student, "commit", "-q", "-am", "three katas")

    project.write("katas/01_alpha/test_alpha_more.py",
                  "from tinytorch.alpha import double\n\ndef test_double_of_zero():\n    assert double(0) == 0\n")
    reference = project.path / "reference" / "tinytorch" / "alpha.py"
    reference.write_text(reference.read_text().replace('"""Twice x."""', '"""Twice x: 2 * x."""'))
    project.write("reference/tinytorch/delta.py", "HELPER = 1\n")
    stubs.write(load(project.path), force=True)
    second = publish(project.path, template, "second release")

    git(student, "fetch", "-q", "origin")
    completed = subprocess.run([sys.executable, "-m", "pytest_tinytorch", "update", second], cwd=student,
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "kept     tinytorch/alpha.py: your code; the release changed its starting file" in completed.stdout
    assert "updated  katas/01_alpha/test_alpha_more.py" in completed.stdout
    assert "updated  tinytorch/delta.py" in completed.stdout
    assert {m: (student / "tinytorch" / m).read_bytes() for m in solved} == solved
    assert classroom(student).check_course_files().returncode == 0
    result = pytest_in(student, "--kata", "01", "--no-gate")
    assert result.returncode == 0 and "4 passed" in result.stdout, result.stdout[-1500:]


def test_update_refuses_a_ref_that_is_not_a_release(make_project, tmp_path):
    project = make_project()
    git(project.path, "init", "-q")
    git(project.path, "add", "-A")
    git(project.path, "commit", "-q", "-m", "not a release")
    completed = subprocess.run([sys.executable, "-m", "pytest_tinytorch", "update", "HEAD"],
                               cwd=project.path, capture_output=True, text=True, check=False)
    assert completed.returncode == 2 and "not a student release" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.fixture(autouse=True)
def _no_git_config(monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
