"""Time limits behave the same on every platform (pytest_tinytorch/timeouts.py).

Windows has no SIGALRM. These tests take it away on Linux too: the miniature project gets a
plugin, loaded with ``-p`` before pytest-timeout in every process (xdist workers included),
that deletes ``signal.SIGALRM``; a kata test checks it is gone. Without the watchdog,
pytest-timeout would end the whole run at the first slow test ("+++ Timeout +++", no
summary, no progress).
"""

from __future__ import annotations

import json
import re

import pytest

from pytest_tinytorch import timeouts

LIMIT = 3  # seconds: kata 01's limit in these projects
STOPPED_IN_COUNT_UP = (f"*Stopped after the kata's time limit of {LIMIT} s while running "
                       f"tinytorch/alpha.py:*, in count_up (your code for kata 01 Alpha).")

NO_SIGALRM = '''"""Loaded with -p before pytest-timeout: this process has no SIGALRM, as on Windows."""
import signal

del signal.SIGALRM
'''

NO_SIGALRM_TEST = '''import signal


def test_this_process_has_no_sigalrm():
    assert not hasattr(signal, "SIGALRM")
'''

# added to the student's alpha.py, whose double() is right: two slow helpers
SLOW_HELPERS = '''

def count_up(n):
    total = 0
    for _ in range(n):
        total += 1
    return total


def nap():
    import time

    time.sleep(600)
'''

SLOW_THEN_FAST = '''
from tinytorch.alpha import count_up, double


def test_1_slow():
    assert count_up(10**12) == 10**12


def test_2_after_the_slow_one():
    assert double(2) == 4
'''

STUCK_THEN_FAST = '''
from tinytorch.alpha import double, nap


def test_1_stuck():
    nap()


def test_2_after_the_stuck_one():
    assert double(2) == 4
'''


def windows_like(project) -> tuple[str, ...]:
    """Options that make every process of the run lack SIGALRM."""
    project.write("no_sigalrm.py", NO_SIGALRM)
    project.write("katas/01_alpha/test_0_no_sigalrm.py", NO_SIGALRM_TEST)
    return ("-p", "no_sigalrm", "-rA")


def with_slow_helpers(project) -> None:
    project.solve("alpha.py")
    alpha = project.path / "tinytorch" / "alpha.py"
    alpha.write_text(alpha.read_text() + SLOW_HELPERS)


def passed_once(project, forced: tuple[str, ...]) -> None:
    """Kata 01 solved and recorded as passed, before the slow code arrives."""
    with_slow_helpers(project)
    assert project.run(*forced, "--kata", "01").ret == pytest.ExitCode.OK
    assert "01" in project.progress["passed"]


def run_kata_01_with(make_project, name: str, tests: str, parallel: tuple[str, ...]):
    """Kata 01 passed once; then a test file ``name`` joins it, and the kata runs again."""
    project = make_project(timeout=LIMIT)
    forced = windows_like(project)
    passed_once(project, forced)
    project.write(f"katas/01_alpha/{name}", tests)
    result = project.run(*forced, "--kata", "01", *parallel)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    return project, result


def check_the_run_ended_normally(result: pytest.RunResult, project) -> None:
    out = result.stdout.str()
    assert "Timeout +++" not in out, "pytest-timeout's thread method ended the process"
    result.stdout.fnmatch_lines(["PASSED katas/01_alpha/test_0_no_sigalrm.py::*"])
    assert "= tinytorch =" in out and "Kata 01 Alpha:" in out
    assert "01" not in project.progress["passed"], "the failure was recorded"


@pytest.mark.parametrize("parallel", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_slow_loop_fails_its_test_with_advice_and_the_run_goes_on(make_project, parallel):
    project, result = run_kata_01_with(make_project, "test_slow.py", SLOW_THEN_FAST, parallel)
    result.stdout.fnmatch_lines([
        STOPPED_IN_COUNT_UP,
        "Alpha advice: vectorize the loop.",
    ])
    result.stdout.fnmatch_lines(["PASSED katas/01_alpha/test_slow.py::test_2_after_the_slow_one"])
    check_the_run_ended_normally(result, project)
    assert "node down" not in result.stdout.str(), "no worker was lost"


@pytest.mark.parametrize("parallel", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_code_python_cannot_interrupt_costs_one_worker_or_ends_a_serial_run(make_project, parallel):
    project, result = run_kata_01_with(make_project, "test_stuck.py", STUCK_THEN_FAST, parallel)
    output = result.stdout.lines + result.stderr.lines
    stopped = [line for line in output if "Stopped after the kata's time limit" in line]
    assert stopped and re.search(r"while running tinytorch/alpha\.py:\d+, in nap \(your code for "
                                 r"kata 01 Alpha\)", stopped[0])
    assert any(line.startswith(f"It was still running {LIMIT} s later, in code that Python cannot "
                               f"interrupt") for line in output)
    if parallel:
        result.stdout.fnmatch_lines(["*its worker process was replaced and the other tests ran on.",
                                     "PASSED katas/01_alpha/test_stuck.py::test_2_after_the_stuck_one"])
        check_the_run_ended_normally(result, project)
    else:
        result.stderr.fnmatch_lines(["katas/01_alpha/test_stuck.py::test_1_stuck FAILED",
                                     "*the run ends here*With `-n 2` only this test would be lost."])


def test_a_slow_function_is_waited_out_once_per_kata(make_project):
    project = make_project(timeout=LIMIT)
    forced = windows_like(project)
    with_slow_helpers(project)
    stuck = "\n".join(f"def test_{i}_stuck():\n    count_up(10**12)\n\n" for i in range(1, 6))
    project.write("katas/01_alpha/test_stuck.py", f"from tinytorch.alpha import count_up\n\n\n{stuck}")
    result = project.run(*forced, "--kata", "01", "--durations=0", "--durations-min=0",
                         "--tinytorch-report", "report.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    durations = {match.group(2): float(match.group(1)) for match in
                 re.finditer(r"^([\d.]+)s call +katas/01_alpha/test_stuck\.py::(test_\d_stuck)$",
                             result.stdout.str(), re.MULTILINE)}
    assert sorted(durations) == [f"test_{i}_stuck" for i in range(1, 6)]
    assert durations.pop("test_1_stuck") >= LIMIT
    assert all(seconds < LIMIT / 10 for seconds in durations.values()), durations
    assert sum(durations.values()) + LIMIT < 1.5 * LIMIT
    result.stdout.fnmatch_lines([
        ("*skipped-as-failed: same slow function count_up (tinytorch/alpha.py:*), which ran out of "
         "the time limit in katas/01_alpha/test_stuck.py::test_1_stuck; not waited out again.*"),
    ])
    alpha = json.loads((project.path / "report.json").read_text())["katas"][0]
    assert (alpha["tests_passed"], alpha["tests_failed"]) == (4, 5), "skipped-as-failed is failed"


def test_the_advice_is_that_of_the_kata_whose_code_is_slow(make_project):
    # a kata-02 test stopped in kata 01's count_up gets kata 01's advice, not kata 02's
    project = make_project(timeout=LIMIT)
    forced = windows_like(project)
    with_slow_helpers(project)
    project.solve("beta.py")
    project.write("katas/02_beta/test_beta_slow.py",
                  "import pytest\n\nfrom tinytorch.alpha import count_up\n\n\n"
                  f"@pytest.mark.timeout({LIMIT})\ndef test_slow():\n    count_up(10**12)\n")
    result = project.run(*forced, "--kata", "02", "--no-gate")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        STOPPED_IN_COUNT_UP,
        "Alpha advice: vectorize the loop.",
    ])
    assert "Beta advice." not in result.stdout.str()


def test_a_dump_names_the_stuck_threads_function_as_python_does(tmp_path):
    # what a given-up worker leaves: the test, its thread, then faulthandler's stacks
    source = tmp_path / "layers.py"
    source.write_text("class Linear:\n    @property\n    def size(self):\n        return 1\n\n"
                      "    def forward(self, x):\n        for _ in x:\n            pass\n")
    dump = (f"katas/01_alpha/test_x.py::test_x\n0x1f\nTimeout (0:00:06)!\n"
            f"Thread 0x00000000000000aa (most recent call first):\n"
            f'  File "/usr/lib/python3/threading.py", line 320 in wait\n\n'
            f"Thread 0x000000000000001f (most recent call first):\n"
            f'  File "{source}", line 8 in forward\n'
            f'  File "{tmp_path / "test_x.py"}", line 3 in test_x\n')
    assert timeouts.read_dump(dump, "katas/01_alpha/test_x.py::test_other") is None
    frames = timeouts.read_dump(dump, "katas/01_alpha/test_x.py::test_x")
    assert [(f.name, f.line) for f in frames] == [("test_x", 3), ("forward", 8)]
    assert timeouts.function_at(source, 8, "forward") == ("Linear.forward", 6)
    assert timeouts.function_at(source, 4, "size") == ("Linear.size", 2), "from its decorator"


def test_a_new_worker_knows_the_function_its_predecessor_was_stuck_in(make_project):
    # one worker: it is given up in nap(); its replacement fails the next test entering nap()
    tests = STUCK_THEN_FAST + "\n\ndef test_3_stuck_again():\n    nap()\n"
    _, result = run_kata_01_with(make_project, "test_stuck.py", tests, ("-n", "1"))
    result.stdout.fnmatch_lines([
        "*its worker process was replaced and the other tests ran on.",
        ("*skipped-as-failed: same slow function nap (tinytorch/alpha.py:*), which ran out of the "
         "time limit in katas/01_alpha/test_stuck.py::test_1_stuck; not waited out again.*"),
    ])
    assert result.stdout.str().count("node down") == 1, "only the first worker was lost"
