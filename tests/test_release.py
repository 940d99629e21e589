"""The student release: no solutions, student guidance from the first run, honest grading."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tinytorch import release, stubs
from pytest_tinytorch.__main__ import main
from pytest_tinytorch.manifest import load

ROOT = Path(__file__).resolve().parents[1]


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], check=False,
                          cwd=folder, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def student_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "tinytorch-student"
    assert main(["--root", str(ROOT), "release", str(out)]) == 0
    return out


def test_the_release_has_no_solutions(student_release):
    assert not (student_release / "reference").exists()
    assert not (student_release / "tests").exists()
    for path in student_release.rglob("*.py"):
        assert not stubs.marker_lines(path.read_text(encoding="utf-8")), path
    for module in ("core/tensor.py", "core/autograd.py"):
        reference = (ROOT / "reference" / "tinytorch" / module).read_text()
        assert (student_release / "tinytorch" / module).read_text() != reference


def test_the_release_starts_the_student_at_kata_01_with_guidance(student_release):
    completed = pytest_in(student_release, "--next")
    assert completed.returncode == pytest.ExitCode.TESTS_FAILED
    assert "Kata 01 Tensor (Foundation)" in completed.stdout
    assert "Not implemented yet (" in completed.stdout
    assert "tinytorch/core/tensor.py:" in completed.stdout
    assert "Hint 1 of" in completed.stdout


def test_the_student_readme_is_the_student_guide_without_maintainer_notes(student_release):
    readme = (student_release / "README.md").read_text()
    assert "pytest --next" in readme and "## Grading" in readme
    assert "For maintainers" not in readme and "For instructors" not in readme


def test_classroom_grades_unsolved_at_zero_and_solved_at_full_points(student_release, tmp_path, classroom):
    score, maximum, _ = classroom(student_release).grade()
    assert score == 0
    solved = tmp_path / "solved"
    shutil.copytree(student_release, solved)
    shutil.copytree(ROOT / "reference" / "tinytorch", solved / "tinytorch", dirs_exist_ok=True)
    score, maximum, failures = classroom(solved).grade()
    assert not failures, "\n\n".join(failures)
    assert score == maximum == sum(kata.points for kata in load(ROOT).katas)
    completed = pytest_in(solved, "--no-gate", "-n", "2", "--tinytorch-report", "report.json")
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert json.loads((solved / "report.json").read_text())["points"] == score


def test_grading_reports_a_kata_whose_tests_were_modified(make_project, tmp_path):
    project = make_project()
    out = tmp_path / "release"
    assert main(["--root", str(project.path), "release", str(out)]) == 0
    shutil.copy(project.path / "reference" / "tinytorch" / "alpha.py", out / "tinytorch" / "alpha.py")
    test = out / "katas" / "01_alpha" / "test_alpha.py"
    test.write_text(test.read_text().replace("== -2", "== -2 or True"))
    completed = pytest_in(out, "--kata", "01", "--tinytorch-report", "report.json")
    assert completed.returncode == pytest.ExitCode.TESTS_FAILED
    assert "its tests differ from the release (katas/01_alpha/test_alpha.py)" in completed.stdout
    alpha = json.loads((out / "report.json").read_text())["katas"][0]
    assert (alpha["status"], alpha["points"]) == ("modified", 0)
    assert alpha["modified_tests"] == ["katas/01_alpha/test_alpha.py"]


def test_a_track_release_ships_given_katas_solved_and_grades_only_the_rest(make_project, tmp_path):
    project = make_project()
    out = tmp_path / "release"
    assert main(["--root", str(project.path), "release", str(out), "--track", "later"]) == 0
    reference = (project.path / "reference" / "tinytorch" / "alpha.py").read_text()
    assert (out / "tinytorch" / "alpha.py").read_text() == stubs.solved_source(reference)
    workflow = (out / release.WORKFLOW).read_text()
    assert "--kata 01" not in workflow and "--kata 02" in workflow and "--kata 03" in workflow
    assert 'tinytorch_track = "later"' in (out / "pyproject.toml").read_text()
    progress = pytest_in(out, "--progress")
    assert "given" in progress.stdout and "points: 0/50" in progress.stdout


def test_release_refuses_a_folder_that_is_not_empty(make_project, tmp_path):
    project = make_project()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("")
    assert main(["--root", str(project.path), "release", str(tmp_path / "busy")]) == 2


def test_stubs_refuse_to_run_without_a_reference(make_project, tmp_path):
    project = make_project()
    out = tmp_path / "release"
    main(["--root", str(project.path), "release", str(out)])
    assert main(["--root", str(out), "stubs"]) == 2
    assert (out / "tinytorch" / "alpha.py").exists()


@pytest.mark.parametrize("options", [["--given", "01", "--next"], ["--track", "later", "--next"],
                                     ["--impl", "reference", "--next"], ["--track", "later", "--progress"]],
                         ids=["given", "another track", "reference", "another track's progress"])
def test_a_release_refuses_what_needs_the_reference(make_project, tmp_path, options):
    project = make_project()
    out = tmp_path / "release"
    assert main(["--root", str(project.path), "release", str(out)]) == 0
    completed = pytest_in(out, *options)
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR
    assert "need the full TinyTorch repository" in completed.stderr or \
        "needs the full TinyTorch repository" in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    assert not (out / ".tinytorch-progress.json").exists(), "nothing is saved"


def test_a_track_release_starts_on_the_tracks_first_kata(make_project, tmp_path):
    project = make_project()
    out = tmp_path / "release"
    assert main(["--root", str(project.path), "release", str(out), "--track", "later"]) == 0
    completed = pytest_in(out, "--next")
    assert "Kata 02 Beta (Foundation)" in completed.stdout and "test_alpha" not in completed.stdout
