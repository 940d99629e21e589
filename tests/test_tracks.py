"""Tracks: build what you're learning, import what you need."""

from __future__ import annotations

import pytest

USES_ALPHA = "from tinytorch.alpha import double\n\ndef test_double_is_given():\n    assert double(5) == 10\n"


def test_a_track_is_remembered_and_limits_the_curriculum(project):
    result = project.run("--track", "first", "--progress")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["track: first", "current*01*Alpha*", "locked*02*Beta*", "points: 0/30"])
    assert "Gamma" not in result.stdout.str()
    assert project.progress["track"] == "first"
    again = project.run("--progress")
    assert "Gamma" not in again.stdout.str()
    full = project.run("--track", "full", "--progress")
    assert "Gamma" in full.stdout.str() and project.progress["track"] is None


def test_given_katas_come_from_the_reference_and_are_not_run(project):
    project.write("katas/02_beta/test_uses_alpha.py", USES_ALPHA)
    project.solve("beta.py")
    result = project.run("--track", "later", "--next")
    out = result.stdout.str()
    assert "going on with kata 03 Gamma" in out, out
    assert "test_alpha.py" not in out and "test_uses_alpha.py ." in out
    result.stdout.fnmatch_lines(["Kata 02 Beta passed (2 tests).", "Unlocked: kata 03 Gamma*"])
    progress = project.run("--progress")
    progress.stdout.fnmatch_lines(["given*01*Alpha*-", "passed*02*Beta*20/20", "current*03*Gamma*",
                                   "points: 20/50"])


def test_given_katas_under_xdist(project):
    project.write("katas/02_beta/test_uses_alpha.py", USES_ALPHA)
    project.solve("beta.py")
    result = project.run("--given", "01", "--kata", "02", "-n", "2")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()


@pytest.mark.parametrize("option", ["--given", "--prebuilt"])  # --prebuilt: the older name
def test_given_is_for_one_run_only(project, option):
    project.solve("beta.py")
    result = project.run(option, "01", "--next")
    result.stdout.fnmatch_lines(["Kata 02 Beta passed (1 tests)."])
    assert "track" not in project.progress or project.progress["track"] is None


def test_an_unknown_track_lists_the_tracks(project):
    result = project.run("--track", "expert")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown track 'expert'; tracks are: first, later*"])
