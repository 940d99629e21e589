"""The progress file never crashes the engine: odd files, unwritable repositories, concurrent runs.

Most tests drive the miniature project from conftest.py end to end; the merge rules and the
stress test use :class:`~pytest_tinytorch.progress.Progress` directly.
"""

from __future__ import annotations

import codecs
import json
import multiprocessing
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_tinytorch.manifest import Kata
from pytest_tinytorch.progress import FILENAME, FORMAT, Progress

BACKUP = FILENAME + ".bak"


def _kata(kata_id: str, hints: int = 2) -> Kata:
    return Kata(id=kata_id, slug="k", title=f"Kata {kata_id}", tier="Foundation", summary="",
                prerequisites=(), timeout=30, points=1, modules=(), timeout_advice="",
                hints=tuple(f"hint {n}" for n in range(1, hints + 1)))


def _text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content, encoding="utf-8")


ODD_FILES = {
    "nested": _text("[" * 200_000 + "]" * 200_000),
    "not JSON": _text("{not json"),
    "a list": _text("[1, 2, 3]"),
    "binary": lambda path: path.write_bytes(bytes(range(256)) * 4),
    "a directory": lambda path: path.mkdir(),
    "wrong types": _text(json.dumps({"format": FORMAT, "passed": ["01"], "hints": "many", "track": 3})),
    "a negative count": _text(json.dumps({"format": FORMAT, "hints": {"01": -100}})),
    "a huge count": _text(json.dumps({"format": FORMAT, "hints": {"01": 10**30}})),
}


def _snapshot(path: Path) -> bytes | str:
    return path.read_bytes() if path.is_file() else "a directory"


@pytest.mark.parametrize("make", ODD_FILES.values(), ids=ODD_FILES.keys())
def test_an_odd_progress_file_is_set_aside_under_a_new_name_each_time(project, make):
    progress = project.path / FILENAME
    make(progress)
    first = _snapshot(progress)
    result = project.run("--progress")
    assert result.ret == pytest.ExitCode.OK
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    said = [line for line in out.splitlines() if BACKUP in line]
    assert len(said) == 1 and said[0].startswith(f"tinytorch: {FILENAME} ") and f"moved to {BACKUP} " in said[0]
    assert _snapshot(project.path / BACKUP) == first
    result.stdout.fnmatch_lines(["current*01*Alpha*"])

    if progress.is_dir():
        progress.rmdir()
    progress.unlink(missing_ok=True)
    make(progress)
    again = project.run("--progress")
    assert f"moved to {BACKUP}.1 " in again.stdout.str()
    assert _snapshot(project.path / BACKUP) == first, "the first backup is never overwritten"
    assert _snapshot(project.path / f"{BACKUP}.1") == first


def test_invalid_entries_are_set_aside_and_the_valid_ones_kept(project):
    project.solve("alpha.py")
    assert project.run("--kata", "01").ret == pytest.ExitCode.OK
    data = project.progress
    data["passed"]["02"] = "not a record"
    data["hints"] = {"01": 10**30, "02": -1}
    data["track"] = ["first"]
    (project.path / FILENAME).write_text(json.dumps(data))
    result = project.run("--progress")
    result.stdout.fnmatch_lines([
        (f"tinytorch: {FILENAME} had invalid entries (passed?'02'? is not a record*; 3 more); "
        f"it was moved to {BACKUP} and its valid entries kept"),
        "passed*01*Alpha*",
    ])
    assert set(project.progress["passed"]) == {"01"}
    assert project.progress["hints"] == {"01": 100}, "a huge count is clamped, a negative one dropped"
    assert json.loads((project.path / BACKUP).read_text())["hints"]["02"] == -1


@pytest.mark.parametrize("count", [-100, 0, 10**30])
def test_hints_cope_with_any_count(project, count):
    (project.path / FILENAME).write_text(json.dumps({"format": FORMAT, "hints": {"01": count}}))
    failing = project.run("--next")
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    # the hint for the first function still to write, whatever the count
    failing.stdout.fnmatch_lines(["Hint 1 of 2*: First alpha hint."])
    (project.path / FILENAME).write_text(json.dumps({"format": FORMAT, "hints": {"01": count}}))
    hint = project.run("--hint")
    assert hint.ret == pytest.ExitCode.OK
    hint.stdout.fnmatch_lines(["Kata 01 Alpha: 2 of 2 hints (all of them)", "*", "Hint 1: First alpha hint.",
                               "*", "Hint 2*: Second alpha hint."])


@pytest.mark.parametrize("count", [-100, 0, 1, 2, 3, 10**30])
def test_next_hint_stays_within_the_katas_hints(count, tmp_path):
    progress = Progress(tmp_path / FILENAME, hints={"01": count})
    kata = _kata("01", hints=3)
    shown = progress.hints_shown(kata)
    assert 1 <= shown <= 3
    number, text = progress.next_hint(kata)
    assert number == min(shown + 1, 3) and text == f"hint {number}"


def test_a_notepad_save_keeps_progress(project):
    project.solve("alpha.py")
    project.run("--kata", "01")
    text = (project.path / FILENAME).read_text(encoding="utf-8")
    for encoded in (codecs.BOM_UTF8 + text.encode("utf-8"), text.encode("utf-16")):
        (project.path / FILENAME).write_bytes(encoded)
        result = project.run("--progress")
        result.stdout.fnmatch_lines(["passed*01*Alpha*"])
        assert "unreadable" not in result.stdout.str()
        assert not (project.path / BACKUP).exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_set_aside_without_hanging(project):
    os.mkfifo(project.path / FILENAME)
    result = project.pytester.runpytest_subprocess("-p", "no:cacheprovider", "--progress", timeout=60)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([(f"tinytorch: {FILENAME} was unreadable (it is a FIFO, not a file); "
                                 f"it was moved to {BACKUP} and progress starts afresh")])
    assert stat.S_ISFIFO(os.stat(project.path / BACKUP).st_mode)


def test_progress_that_cannot_be_saved_leaves_the_verdict_alone(project):
    project.solve("alpha.py")
    (project.path / (FILENAME + ".lock")).mkdir()  # a directory in the way of the save
    result = project.run("--kata", "01")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["Kata 01 Alpha passed (3 tests).",
                                 ("tinytorch: progress not saved (*); this run's results stand but are not "
                                 "recorded")])
    assert not (project.path / FILENAME).exists()


def test_an_odd_file_that_cannot_be_set_aside_is_left_as_it_is(project):
    project.solve("alpha.py")
    (project.path / FILENAME).write_text("{not json")
    (project.path / (FILENAME + ".lock")).mkdir()
    result = project.run("--kata", "01")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"tinytorch: {FILENAME} could not be set aside (*): it was unreadable (*)",
                                 "tinytorch: progress not saved (*)*"])
    assert (project.path / FILENAME).read_text() == "{not json"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0,
                    reason="needs POSIX permissions, which root ignores")
def test_a_read_only_repository_keeps_a_passing_kata_passing(project):
    project.solve("alpha.py")
    project.run("--progress")  # pytester's output files exist before the folder turns read-only
    project.path.chmod(0o555)
    try:
        # pytester.run, unlike runpytest_subprocess, makes no folder of its own in the project.
        result = project.pytester.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--kata", "01")
    finally:
        project.path.chmod(0o755)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["tinytorch: progress not saved (*Permission denied*)*"])


def test_concurrent_runs_keep_every_pass(project):
    project.solve("alpha.py", "beta.py")
    project.write("tinytorch/gamma.py", "def nothing():\n    return True\n")
    outputs = {kata: project.path / f"run-{kata}.txt" for kata in ("01", "02", "03")}
    runs = {}
    for kata, output in outputs.items():
        with output.open("w") as stream:
            runs[kata] = project.pytester.popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--kata", kata, "--no-gate"],
                stdout=stream, stderr=subprocess.STDOUT)
    codes = {kata: run.wait(timeout=300) for kata, run in runs.items()}
    assert codes == {"01": 0, "02": 0, "03": 0}, {k: o.read_text() for k, o in outputs.items()}
    assert set(project.progress["passed"]) == {"01", "02", "03"}
    assert not list(project.path.glob("*.tmp"))


def test_a_save_applies_only_this_runs_changes(tmp_path):
    seed = Progress.load(tmp_path)
    seed.record_pass(_kata("01"), "one")
    seed.record_pass(_kata("02"), "two")
    assert seed.save()
    first, second = Progress.load(tmp_path), Progress.load(tmp_path)
    first.record_pass(_kata("03"), "three")
    first.passed.pop("01")  # kata 01 failed in the first run
    first.next_hint(_kata("03", hints=3))
    second.record_pass(_kata("04"), "four")
    second.track = "first"
    assert first.save() and second.save()
    final = Progress.load(tmp_path)
    assert set(final.passed) == {"02", "03", "04"}
    assert final.hints == {"03": 2} and final.track == "first"
    assert set(second.passed) == {"02", "03", "04"}, "a save brings in what other runs saved"


SAVERS, SAVES = 4, 50


def _save_many(root: str, worker: int) -> list[str]:
    """One process of the stress test: SAVES saves, each recording another kata."""
    progress = Progress.load(Path(root))
    progress.record_pass(_kata(f"{worker}-scratch"), "revoked at the end")
    for n in range(SAVES):
        progress.record_pass(_kata(f"{worker}-{n}"), "fingerprint")
        if n == SAVES - 1:
            progress.passed.pop(f"{worker}-scratch")
        progress.save()
    return progress.warnings


def test_many_processes_saving_at_once_lose_nothing(tmp_path):
    with multiprocessing.get_context("spawn").Pool(SAVERS) as pool:
        warnings = pool.starmap(_save_many, [(str(tmp_path), worker) for worker in range(SAVERS)])
    assert warnings == [[]] * SAVERS
    passed = json.loads((tmp_path / FILENAME).read_text())["passed"]
    assert set(passed) == {f"{worker}-{n}" for worker in range(SAVERS) for n in range(SAVES)}
    assert sorted(path.name for path in tmp_path.iterdir()) == [FILENAME, FILENAME + ".lock"]
