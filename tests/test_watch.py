"""``pytest --next --watch`` re-runs when a real file changes, under the real watcher."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time

import pytest


def read_until(lines: queue.Queue, text: str, timeout: float = 120) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never appeared in:\n{''.join(seen)}")


def test_saving_a_file_runs_the_kata_again(project):
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--next", "--watch"],
                               cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        first = read_until(lines, "for changes")
        assert "Not implemented yet (" in first
        project.solve("alpha.py")
        second = read_until(lines, "for changes")
        assert "tinytorch/alpha.py changed; running again" in second
        assert "Kata 01 Alpha passed" in second
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_repeated_command_is_this_one_without_watch():
    from pytest_tinytorch.watch import pytest_arguments

    assert pytest_arguments(["--next", "--watch", "-n", "2"]) == ["--next", "-n", "2"]


def test_a_change_is_found_by_polling(tmp_path):
    from pytest_tinytorch.watch import snapshot, wait_for_change

    (tmp_path / "tinytorch").mkdir()
    (tmp_path / "tinytorch" / "a.py").write_text("x = 1\n")
    before = snapshot(tmp_path)
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 3:
            (tmp_path / "tinytorch" / "b.py").write_text("y = 2\n")

    names, after = wait_for_change(tmp_path, before, 0.01, sleep=sleep)
    assert names == ["tinytorch/b.py"] and "tinytorch/b.py" in after
    assert pytest.approx(calls) == [0.01] * 4
