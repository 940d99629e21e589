"""The kata engine, driven end to end on the miniature project from conftest.py."""

from __future__ import annotations

import json
import signal

import pytest


def test_next_on_a_fresh_clone_runs_the_first_kata_only(project):
    result = project.run("--next")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "Kata 01 Alpha (Foundation)",
        "*you have built : nothing yet*",
        "*you build now  : a function that doubles",
        "*it unlocks     : 02 Beta",
        "  read first     : katas/01_alpha/README.md",
        "Kata 01 Alpha: 0 of 1 functions written; 0 tests passed, 0 failing, 3 stopped at a stub.",
        "Not implemented yet (the first ones the tests reach):",
        "  tinytorch/alpha.py:4  double",
        "Hint 1 of 2: First alpha hint.",
        "*",
        "[....................] 0/60 points, 0 of 3 katas passed",
        "2 katas locked*",
    ])
    assert "test_beta" not in out and "test_gamma" not in out
    assert out.count("tinytorch/alpha.py:4") == 1, "one line per function, however many tests"
    assert "Traceback" not in out and "NotImplementedError" not in out
    assert "3 not implemented" in out


def test_a_stub_caught_by_pytest_raises_is_still_work_to_do(project):
    # NotImplementedError is a RuntimeError: pytest.raises(RuntimeError, match=...) catches the
    # stub's error and fails on the message, which must not read as a bug in the student's code.
    project.write("katas/01_alpha/test_alpha_errors.py", """
import pytest

from tinytorch.alpha import double


def test_double_refuses_strings():
    with pytest.raises(RuntimeError, match="strings"):
        double("two")
""")
    result = project.run("--kata", "01")
    out = result.stdout.str()
    assert "4 not implemented" in out and "failed" not in out
    assert "Regex pattern did not match" not in out


def test_a_real_failure_is_shown_in_full_and_the_rest_in_one_line(project):
    project.solve("alpha.py", wrong=True)
    result = project.run("--next")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "def test_double_of_two():" in out, "the first failure's source is shown"
    assert "def test_double_of_minus_one" not in out, "later failures are one line each"
    result.stdout.fnmatch_lines(["*test_alpha.py:*: assert -1 == -2*", "Hint 1 of 2: First alpha hint."])


def test_passing_kata_prints_metrics_records_and_unlocks(project):
    project.solve("alpha.py")
    result = project.run("--next")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, "the run goes on with kata 02, a stub"
    result.stdout.fnmatch_lines([
        "Kata 01 Alpha passed (3 tests).",
        "kata 01 systems metrics*",
        "bytes of nothing*4,096 bytes (4.10 kB)",
        "Compare your code with the reference solution: reference/tinytorch/alpha.py",
        "Reflect:",
        "  - Why double?",
        "Unlocked: kata 02 Beta. Run `pytest --next`.",
        "",
        "[###.................] 10/60 points, 1 of 3 katas passed",
        "*",
        "tinytorch: going on with kata 02 Beta (the same command, run again)",
        "*",
        "Kata 02 Beta (Foundation)",
    ])
    assert set(project.progress["passed"]) == {"01"}
    second = project.run("--next")
    second.stdout.fnmatch_lines(["Kata 02 Beta (Foundation)", "*tinytorch/beta.py:3  triple"])
    assert "test_alpha" not in second.stdout.str()


def test_plain_pytest_runs_unlocked_katas_and_counts_the_locked(project):
    project.solve("alpha.py")
    project.run("--next")
    result = project.run()
    out = result.stdout.str()
    assert "test_alpha.py" in out and "test_beta.py" in out
    assert "test_gamma" not in out
    result.stdout.fnmatch_lines(["1 kata locked*"])


def test_plain_pytest_never_runs_the_projects_own_tests(project):
    project.write("tests/test_own.py", "def test_own():\n    assert False\n")
    result = project.run()
    assert "test_own" not in result.stdout.str()


def test_a_locked_kata_path_is_refused_without_importing_it(project):
    result = project.run("katas/03_gamma")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*belongs to kata 03 Gamma, which is still locked*--no-gate*"])
    assert "ModuleNotFoundError" not in result.stdout.str() + result.stderr.str()


def test_a_locked_test_id_is_refused_too(project):
    result = project.run("katas/03_gamma/test_gamma.py::test_gamma")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize("alias", ["2", "02", "02_beta", "beta", "BETA"])
def test_kata_by_any_alias_refuses_until_prerequisites_pass(project, alias: str):
    result = project.run("--kata", alias)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*kata 02 Beta builds on 01 Alpha, which has not passed yet*"])


def test_kata_with_no_gate_runs_just_that_kata(project):
    result = project.run("--kata", "beta", "--no-gate")
    out = result.stdout.str()
    assert "test_beta.py" in out and "test_alpha" not in out
    result.stdout.fnmatch_lines(["Kata 02 Beta (Foundation)"])


def test_unknown_kata_lists_the_valid_ones(project):
    result = project.run("--kata", "99")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown kata '99'; valid katas are: 01_alpha, 02_beta, 03_gamma*"])


def test_progress_shows_the_curriculum_without_running_tests(project):
    project.solve("alpha.py")
    project.run("--next")
    result = project.run("--progress")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "status*id*kata*tier*points",
        "passed*01*Alpha*Foundation*10/10",
        "current*02*Beta*Foundation*0/20",
        "locked*03*Gamma*Architecture*0/30",
        "points: 10/60",
    ])
    assert "passed in" not in result.stdout.str()


def test_hints_are_revealed_one_at_a_time(project):
    first = project.run("--hint")
    first.stdout.fnmatch_lines(["Kata 01 Alpha: 2 of 2 hints (all of them)", "",
                                "Hint 1: First alpha hint.", "", "Hint 2 (new): Second alpha hint."])
    assert project.progress["hints"] == {"01": 2}
    again = project.run("--hint")
    again.stdout.fnmatch_lines(["Hint 1: First alpha hint.", "", "Hint 2: Second alpha hint."])
    failing = project.run("--next")
    # no hint names double(), and nothing is written yet: the hint as far along is the first
    failing.stdout.fnmatch_lines(["Hint 1 of 2 (on double): First alpha hint."])
    project.write("katas/manifest.toml", (project.path / "katas/manifest.toml").read_text().replace(
        '"Second alpha hint."', '"Second alpha hint: double returns 2 * x."'))
    named = project.run("--next")
    named.stdout.fnmatch_lines(["Hint 2 of 2: Second alpha hint: double returns 2 * x."])


def test_a_corrupt_progress_file_is_reported_kept_and_rebuilt(project):
    (project.path / ".tinytorch-progress.json").write_text("{not json")
    result = project.run("--progress")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*progress.json was unreadable*moved to .tinytorch-progress.json.bak*"])
    assert (project.path / ".tinytorch-progress.json.bak").read_text() == "{not json"


def test_an_unknown_progress_format_is_rebuilt_on_the_next_run(project):
    (project.path / ".tinytorch-progress.json").write_text('{"format": "someone-else/9"}')
    project.solve("alpha.py")
    result = project.run("--kata", "01")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*unknown format 'someone-else/9'*"])
    assert set(project.progress["passed"]) == {"01"}


def test_a_kata_whose_code_changed_is_stale_and_reverified(project):
    project.solve("alpha.py")
    project.run("--next")
    project.solve("alpha.py", wrong=True)  # the student breaks kata 01 while working on 02
    progress = project.run("--progress")
    progress.stdout.fnmatch_lines(["stale*01*Alpha*"])
    result = project.run("--next")
    out = result.stdout.str()
    assert "test_alpha.py" in out and "test_beta.py" in out
    result.stdout.fnmatch_lines(["Kata 01 Alpha passed before; your code changed since*checked again.",
                                 ("Kata 01 Alpha: 1 of 1 functions written; 1 test passed, 2 failing, "
                                 "0 stopped at a stub.")])
    assert "01" not in project.progress["passed"]


def test_impl_reference_imports_the_reference_and_leaves_progress_alone(project):
    project.write("katas/01_alpha/test_which.py",
                  "import tinytorch\n\ndef test_which():\n    assert tinytorch.WHICH == 'reference'\n")
    result = project.run("--impl", "reference", "--kata", "01")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["tinytorch: testing the reference implementation in reference/tinytorch/"])
    assert not (project.path / ".tinytorch-progress.json").exists()
    student = project.run("--kata", "01")
    student.stdout.fnmatch_lines(["*test_which.py F*", "*assert 'student' == 'reference'*"])


def test_a_partial_run_is_not_recorded_as_a_pass(project):
    project.solve("alpha.py")
    result = project.run("--next", "-k", "two")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*run the whole kata (`pytest --kata 01`) to record it*"])
    assert not (project.path / ".tinytorch-progress.json").exists()


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="without SIGALRM pytest-timeout ends the process")
def test_a_timeout_reports_the_katas_advice(make_project):
    project = make_project(timeout=1)
    project.solve("alpha.py")
    project.write("katas/01_alpha/test_slow.py",
                  "def test_slow():\n    while True:\n        pass\n")
    result = project.run("--next")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "Stopped after the kata's time limit of 1 s while running katas/01_alpha/test_slow.py:*",
        "Alpha advice: vectorize the loop.",
    ])


def test_the_json_report(project):
    project.solve("alpha.py")
    result = project.run("--next", "--tinytorch-report", "out/report.json")
    assert result.ret == pytest.ExitCode.OK
    report = json.loads((project.path / "out" / "report.json").read_text())
    alpha, beta, gamma = report["katas"]
    assert (alpha["status"], alpha["tests_passed"], alpha["tests_failed"]) == ("passed", 3, 0)
    assert (alpha["points"], beta["points"], report["points"], report["max_points"]) == (10, 0, 10, 60)
    assert alpha["metrics"] == [{"name": "bytes of nothing", "value": 4096.0, "unit": "bytes"}]
    assert list(alpha["files_sha256"]) == ["katas/01_alpha/test_alpha.py"]
    assert len(alpha["files_sha256"]["katas/01_alpha/test_alpha.py"]) == 64
    assert beta["status"] == gamma["status"] == "not run"


def test_xdist_gives_the_same_report_and_progress_as_a_serial_run(make_project):
    outcomes = []
    for extra in ([], ["-n", "2"]):
        project = make_project()
        project.solve("alpha.py")
        project.solve("beta.py", wrong=True)
        (project.path / ".tinytorch-progress.json").unlink(missing_ok=True)
        runs = [project.run("--next", "--tinytorch-report", f"r{i}.json", *extra) for i in (1, 2)]
        reports = [json.loads((project.path / f"r{i}.json").read_text()) for i in (1, 2)]
        summary = runs[0].stdout.str().split("= tinytorch =")[1].split("\n=")[0]
        outcomes.append((reports, sorted(project.progress["passed"]), summary.count("kata 01 systems")))
    (serial, serial_passed, serial_tables), (parallel, parallel_passed, parallel_tables) = outcomes
    assert serial == parallel
    assert serial_passed == parallel_passed == ["01"]
    assert serial_tables == parallel_tables == 1


def test_a_skipped_test_leaves_the_kata_not_done(project):
    project.solve("alpha.py")
    project.write("katas/01_alpha/test_alpha_later.py", "import pytest\n\n"
                  "def test_later():\n    pytest.skip('later')\n")
    result = project.run("--kata", "01")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 test(s) skipped or xfailed, which counts as not done*"])
    assert not (project.path / ".tinytorch-progress.json").exists()


@pytest.mark.parametrize("target", [".", "README.md/report.json"], ids=["a folder", "under a file"])
def test_a_report_path_that_cannot_be_written_is_a_usage_error(project, target):
    result = project.run("--kata", "01", "--tinytorch-report", target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--tinytorch-report {target}: *"])
    assert "collected" not in result.stdout.str()


@pytest.mark.parametrize("folder", ["tinytorch", "reference/tinytorch"])
def test_next_from_a_sub_folder_runs_the_current_kata(project, monkeypatch, folder):
    monkeypatch.chdir(project.path / folder)
    result = project.run("--next")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "Not implemented yet (" in out and "Every kata has passed" not in out
    project.solve("alpha.py")
    assert project.run("--kata", "01").ret == pytest.ExitCode.OK
    assert "01" in project.progress["passed"]


def test_a_stub_reached_in_a_child_process_is_work_to_do(project):
    project.write("katas/01_alpha/test_alpha_fresh.py", """
from pathlib import Path

from pytest_tinytorch.child import run_python


def test_double_in_a_fresh_interpreter():
    completed = run_python("from tinytorch.alpha import double; print(double(2))", cwd=Path.cwd())
    assert completed.stdout.strip() == "4"
""")
    result = project.run("--kata", "01")
    out = result.stdout.str()
    assert "4 not implemented" in out and "failed" not in out, out
    assert "  tinytorch/alpha.py:4  double" in out
    project.solve("alpha.py")
    assert project.run("--kata", "01").ret == pytest.ExitCode.OK
