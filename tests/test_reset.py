"""`python -m pytest_tinytorch reset NN`: a kata back to its start, the student's code kept,
progress withdrawn from NN on; in the repository and in a student release."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tinytorch import reset, stubs
from pytest_tinytorch.__main__ import main
from pytest_tinytorch.manifest import load
from pytest_tinytorch.progress import Progress


def reset_kata(root: Path, kata: str) -> int:
    return main(["--root", str(root), "reset", kata])


def kept_copies(root: Path) -> list[Path]:
    return sorted((root / stubs.BACKUPS).glob("*/tinytorch/**/*.py"))


def pass_katas_01_and_02(project) -> None:
    project.solve("alpha.py", "beta.py")
    assert project.run("--kata", "01").ret == pytest.ExitCode.OK
    assert project.run("--kata", "02").ret == pytest.ExitCode.OK
    assert set(project.progress["passed"]) == {"01", "02"}


def test_reset_puts_the_stub_back_keeps_the_code_and_withdraws_progress_from_the_kata_on(project, capsys):
    pass_katas_01_and_02(project)
    solution = (project.path / "tinytorch" / "beta.py").read_text()
    assert reset_kata(project.path, "02") == 0
    out = capsys.readouterr().out
    beta = project.path / "tinytorch" / "beta.py"
    assert beta.read_bytes() == stubs.generate(load(project.path))["beta.py"]
    [copy] = kept_copies(project.path)
    assert copy.relative_to(project.path).parts[-2:] == ("tinytorch", "beta.py")
    assert copy.read_text() == solution
    assert f"your code is kept in {copy.parent.relative_to(project.path).as_posix()}/" in out
    assert set(project.progress["passed"]) == {"01"}
    assert "withdrawn from your progress: the pass of kata 02\n" in out
    alpha = project.path / "reference" / "tinytorch" / "alpha.py"
    assert (project.path / "tinytorch" / "alpha.py").read_text() == alpha.read_text(), "01 is untouched"


def test_reset_withdraws_every_later_pass_and_keeps_hints(project, capsys):
    progress = Progress.load(project.path)
    for kata in load(project.path).katas:
        progress.record_pass(kata, "fingerprint")
    progress.hints["02"] = 2
    progress.save()
    assert reset_kata(project.path, "beta") == 0
    assert "the passes of katas 02, 03" in capsys.readouterr().out
    assert set(project.progress["passed"]) == {"01"}
    assert project.progress["hints"] == {"02": 2}


def test_reset_of_an_untouched_kata_copies_nothing(project, capsys):
    assert reset_kata(project.path, "1") == 0
    out = capsys.readouterr().out
    assert "was already as at the start" in out and "no pass was recorded" in out
    assert not (project.path / stubs.BACKUPS).exists()
    assert not (project.path / ".tinytorch-progress.json").exists()


def test_reset_names_a_kata_that_does_not_exist(project, capsys):
    assert reset_kata(project.path, "99") == 2
    assert "unknown kata '99'" in capsys.readouterr().err


@pytest.fixture
def release(project, tmp_path) -> Path:
    """A release of the miniature, with kata 03's module written as well (so every kata collects)."""
    project.write("reference/tinytorch/gamma.py",
                  "def nothing():\n    # BEGIN SOLUTION\n    return True\n    # END SOLUTION\n")
    project.write("tinytorch/gamma.py", stubs.generate(load(project.path))["gamma.py"].decode())
    out = tmp_path / "release"
    assert main(["--root", str(project.path), "release", str(out)]) == 0
    assert not (out / "reference").exists()
    return out


def test_reset_works_in_a_release_from_the_files_it_shipped(release, capsys):
    shipped = {module: (release / "tinytorch" / module).read_bytes() for module in ("alpha.py", "beta.py")}
    recorded = json.loads((release / "katas" / "release.json").read_text())["files"]
    assert reset.SHIPPED.as_posix() in recorded, "grading notices a changed katas/stubs.json"
    for module, answer in (("alpha.py", "2 * x"), ("beta.py", "3 * x")):
        path = release / "tinytorch" / module
        path.write_text(path.read_text().replace('raise NotImplementedError(', f"return {answer}  # ("))
    for kata in ("01", "02"):
        completed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--kata", kata],
                                   cwd=release, capture_output=True, text=True, check=False, timeout=300)
        assert completed.returncode == 0, completed.stdout[-2000:]
    assert reset_kata(release, "02") == 0
    assert "back to the start" in capsys.readouterr().out
    assert (release / "tinytorch" / "beta.py").read_bytes() == shipped["beta.py"]
    assert (release / "tinytorch" / "alpha.py").read_bytes() != shipped["alpha.py"]
    [copy] = kept_copies(release)
    assert "return 3 * x" in copy.read_text()
    assert set(Progress.load(release).passed) == {"01"}


def test_reset_in_a_release_without_its_record_says_how_to_restore(release, capsys):
    (release / reset.SHIPPED).unlink()
    assert reset_kata(release, "02") == 2
    error = capsys.readouterr().err
    assert "neither reference/ nor katas/stubs.json" in error
    assert "git checkout <that commit> -- tinytorch/beta.py" in error
