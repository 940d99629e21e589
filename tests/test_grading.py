"""Grading a real student release as its Classroom workflow does: points only for the work.

Each shortcut a student might try is applied to a fresh copy of the release, then kata 01 is
graded: the course-file check first, then kata 01's step. Every shortcut earns nothing; the
reference solution copied into ``tinytorch/`` earns kata 01's points.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tinytorch import coursefiles, integrity
from pytest_tinytorch.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "tinytorch"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grading") / "release"
    assert main(["--root", str(ROOT), "release", str(out)]) == 0
    return out


def solve_kata_01(folder: Path) -> None:
    shutil.copy(REFERENCE / "core" / "tensor.py", folder / "tinytorch" / "core" / "tensor.py")


def append(folder: Path, relative: str, text: str) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def stubs_raise(folder: Path, replacement: str) -> None:
    for path in (folder / "tinytorch").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("raise NotImplementedError(", replacement), encoding="utf-8")


def partial_work_plus_a_skip(folder: Path) -> None:
    """Kata 01 solved except one method, which skips the tests that reach it."""
    solve_kata_01(folder)
    path = folder / "tinytorch" / "core" / "tensor.py"
    head, tail = path.read_text(encoding="utf-8").split("    def log(self", 1)
    body_start = tail.index("# BEGIN SOLUTION")
    tail = tail[:body_start] + "import pytest; pytest.skip('later')\n        " + tail[body_start:]
    path.write_text(head + "    def log(self" + tail, encoding="utf-8")


def regenerate_the_record(folder: Path) -> None:
    test = folder / "katas" / "01_tensor" / "test_1_creation.py"
    test.write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    integrity.write(folder, {"01": ["katas/01_tensor/test_1_creation.py::test_nothing"]}, {"01": 1})


SHORTCUTS: dict[str, Callable[[Path], None]] = {
    "stubs skip": lambda f: stubs_raise(f, "__import__('pytest').skip("),
    "stubs xfail": lambda f: stubs_raise(f, "__import__('pytest').xfail("),
    "partial work plus a skip": partial_work_plus_a_skip,
    "record deleted": lambda f: (f / coursefiles.RECORD).unlink(),
    "record regenerated after editing the tests": regenerate_the_record,
    "kata conftest skips every item": lambda f: append(
        f, "katas/conftest.py", "\ndef pytest_collection_modifyitems(items):\n"
        "    for item in items:\n        item.add_marker(__import__('pytest').mark.skip)\n"),
    "kata conftest fakes every call": lambda f: append(
        f, "katas/conftest.py", "\ndef pytest_pyfunc_call(pyfuncitem):\n    return True\n"),
    "root conftest forces exit 0": lambda f: append(
        f, "conftest.py", "\ndef pytest_sessionfinish(session):\n    session.exitstatus = 0\n"),
    "collect-only in addopts": lambda f: (f / "pyproject.toml").write_text(
        (f / "pyproject.toml").read_text().replace("addopts = [", 'addopts = ["--collect-only", '),
        encoding="utf-8"),
    "atexit exit 0 in the package": lambda f: append(
        f, "tinytorch/__init__.py", "\nimport atexit, os\natexit.register(os._exit, 0)\n"),
    "exit 0 on import of the package": lambda f: append(
        f, "tinytorch/__init__.py", "\nimport os\nos._exit(0)\n"),
    "extra test file exits 0": lambda f: append(
        f, "katas/01_tensor/test_0_first.py", "import os\nos._exit(0)\n"),
    "plugin's integrity module edited": lambda f: append(
        f, "pytest_tinytorch/integrity.py", "\nReleaseRecord.load = classmethod(lambda cls, root: None)\n"),
    "pytest.ini added": lambda f: append(f, "pytest.ini", "[pytest]\naddopts = --collect-only\n"),
    "conftest.py in the package": lambda f: append(
        f, "tinytorch/conftest.py", "def pytest_pyfunc_call(pyfuncitem):\n    return True\n"),
    "module shadowing numpy": lambda f: append(f, "numpy.py", "raise SystemExit(0)\n"),
}


@pytest.mark.parametrize("name", SHORTCUTS)
def test_a_shortcut_earns_nothing(release, tmp_path, classroom, name):
    folder = tmp_path / "submission"
    shutil.copytree(release, folder)
    SHORTCUTS[name](folder)
    score, maximum, failures = classroom(folder).grade(katas=("01",))
    assert maximum > 0 and score == 0, f"{name} earned {score} of {maximum}"
    assert failures


def test_the_reference_solution_earns_the_points(release, tmp_path, classroom):
    folder = tmp_path / "submission"
    shutil.copytree(release, folder)
    solve_kata_01(folder)
    (folder / "NOTES.md").write_text("my notes\n", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0")
    score, maximum, failures = classroom(folder).grade(katas=("01",))
    assert not failures, "\n".join(failures)
    assert score == maximum > 0


def test_the_course_check_names_each_file_at_fault(release, tmp_path, classroom):
    folder = tmp_path / "submission"
    shutil.copytree(release, folder)
    append(folder, "katas/conftest.py", "\n")
    (folder / "milestones" / "common.py").unlink()
    append(folder, "katas/01_tensor/test_0_first.py", "\n")
    append(folder, "tinytorch/__pycache__/x.pyc", "")
    completed = classroom(folder).check_course_files()
    assert completed.returncode == 1
    assert completed.stdout.splitlines()[:3] == ["course files: changed: katas/conftest.py",
                                                 "course files: missing: milestones/common.py",
                                                 "course files: added: katas/01_tensor/test_0_first.py"]
    assert "Nothing was graded" in completed.stdout


def test_the_check_runs_with_the_standard_library_only(release, classroom):
    """It runs before anything is installed, isolated from the folder and its environment."""
    completed = classroom(release).check_course_files()
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "-I -S" in classroom(release).workflow


def test_the_controller_never_imports_the_students_code(release, tmp_path):
    """Under xdist, the process that decides the exit status never runs the student's code."""
    folder = tmp_path / "submission"
    shutil.copytree(release, folder)
    solve_kata_01(folder)
    append(folder, "tinytorch/__init__.py", "\nimport os\nwith open('pids.txt', 'a') as _file:\n"
                                            "    _file.write(f'{os.getpid()}\\n')\n")
    process = subprocess.Popen([sys.executable, "-m", "pytest", "--kata", "01", "--no-gate", "-n", "2",
                                "-p", "no:cacheprovider"], cwd=folder, stdout=subprocess.PIPE, text=True)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-2000:]
    importers = {int(pid) for pid in (folder / "pids.txt").read_text().split()}
    assert importers and process.pid not in importers


@pytest.mark.parametrize("solved", [False, True], ids=["unsolved", "solved"])
def test_the_report_gives_the_workflows_total(release, tmp_path, classroom, solved):
    """`pytest --no-gate --tinytorch-report` adds up to what the workflow grades, kata by kata."""
    folder = tmp_path / "submission"
    shutil.copytree(release, folder)
    katas = ("01", "02")
    if solved:
        solve_kata_01(folder)
        shutil.copy(REFERENCE / "core" / "activations.py", folder / "tinytorch" / "core" / "activations.py")
    score, _, _ = classroom(folder).grade(katas=katas)
    completed = subprocess.run([sys.executable, "-m", "pytest", "--no-gate", "-p", "no:cacheprovider",
                                "--tinytorch-report", "report.json", "-q", "katas/01_tensor",
                                "katas/02_activations"],
                               cwd=folder, capture_output=True, text=True, check=False, timeout=600)
    report = json.loads((folder / "report.json").read_text())
    assert sum(k["points"] for k in report["katas"] if k["id"] in katas) == score
    assert (score > 0) == solved, completed.stdout[-2000:]
