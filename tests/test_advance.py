"""One `pytest --next` goes as far as the code goes (pytest_tinytorch/advance.py)."""

from __future__ import annotations

import pytest


def test_next_on_a_new_machine_reaches_the_first_kata_not_passed(project):
    project.solve("alpha.py", "beta.py")
    result = project.run("--next")
    out = result.stdout.str()
    assert result.ret != pytest.ExitCode.OK, "kata 03 cannot pass: its module does not exist"
    assert "Kata 01 Alpha passed" in out and "Kata 02 Beta passed" in out
    assert "going on with kata 02 Beta" in out and "going on with kata 03 Gamma" in out
    assert set(project.progress["passed"]) == {"01", "02"}


def test_after_a_regression_is_fixed_one_run_restores_every_kata(project):
    project.write("tinytorch/gamma.py", "def nothing():\n    raise NotImplementedError('nothing')\n")
    project.solve("alpha.py", "beta.py")
    project.run("--next")
    project.solve("alpha.py", wrong=True)
    assert project.run("--next").ret == pytest.ExitCode.TESTS_FAILED
    assert "01" not in project.progress["passed"], "the regression relocks kata 01"
    project.solve("alpha.py")
    project.run("--next")
    assert set(project.progress["passed"]) == {"01", "02"}


def test_a_run_that_unlocks_nothing_does_not_go_on(project):
    result = project.run("--next")
    assert "going on" not in result.stdout.str()
