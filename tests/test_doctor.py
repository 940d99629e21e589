"""`python -m pytest_tinytorch doctor`: one line per check, "ok" or what to do, and an exit
status that is 0 exactly when every required check is ok."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_tinytorch import doctor, measure

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"(ok|TO DO|optional) +(?P<name>[^:]+): (?P<detail>.+)")
CHECKED = ("Python", "numpy", "pytest", "pytest-xdist", "pytest-timeout", "plugin",
           "BLAS", "repository root", "TinyDigits", "TinyTalks", "MNIST", "CIFAR-10", "pytest-watcher")


def run_doctor(root: Path, data: Path, **variables: str) -> tuple[int, dict[str, str], str]:
    """Run the doctor in ``root`` with downloads looked for in ``data``: (exit status, {name: line}, last line)."""
    env = {name: value for name, value in os.environ.items() if name not in measure.BLAS_THREAD_VARIABLES}
    completed = subprocess.run([sys.executable, "-m", "pytest_tinytorch", "doctor"], cwd=root,
                               env={**env, "TINYTORCH_DATA": str(data), **variables},
                               capture_output=True, text=True, check=False, timeout=300)
    *checks, verdict = completed.stdout.splitlines()
    lines = {}
    for line in checks:
        match = LINE.fullmatch(line)
        assert match, f"not a check line: {line!r}"
        lines[match["name"]] = line
    return completed.returncode, lines, verdict


def test_every_check_is_one_line_and_this_repository_is_ready(tmp_path):
    status, lines, verdict = run_doctor(ROOT, tmp_path)
    assert set(CHECKED) <= set(lines)
    required_failing = [line for line in lines.values() if line.startswith("TO DO")]
    assert status == (1 if required_failing else 0)
    assert status == 0, required_failing
    assert verdict == "everything required is ok"
    assert lines["TinyDigits"].startswith("ok") and "5,000 + 1,000 digits" in lines["TinyDigits"]
    assert lines["TinyTalks"].startswith("ok") and "sha256 verified" in lines["TinyTalks"]
    assert lines["MNIST"].startswith("optional") and "python -m tinytorch.data.mnist download" in lines["MNIST"]
    assert "--data mnist" in lines["MNIST"]
    assert lines["CIFAR-10"].startswith("optional") and "--data cifar10" in lines["CIFAR-10"]
    assert "1 thread (no *_NUM_THREADS is set)" in lines["BLAS"]
    assert f"{ROOT} is writable" in lines["repository root"]
    assert not list(ROOT.glob(".tinytorch-doctor-*")), "the doctor leaves nothing behind"


def test_a_damaged_optional_data_set_is_named_but_does_not_fail_the_doctor(tmp_path):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / "mnist").mkdir(exist_ok=True)
        (tmp_path / "mnist" / name).write_bytes(b"\x00\x00\x08\x01" + bytes(4))
    status, lines, _ = run_doctor(ROOT, tmp_path)
    assert lines["MNIST"].startswith("optional MNIST: ChecksumError: ")
    assert "download MNIST again" in lines["MNIST"] and status == 0


def test_the_blas_line_shows_the_students_own_thread_setting(tmp_path):
    _, lines, _ = run_doctor(ROOT, tmp_path, OPENBLAS_NUM_THREADS="3")
    assert "katas and milestones use your setting (OPENBLAS_NUM_THREADS=3)" in lines["BLAS"]


def test_what_is_wrong_is_named_with_what_to_do_and_exits_1(tmp_path):
    """A copy whose TinyDigits file is damaged and whose pyproject asks for a NumPy that does not exist."""
    root = tmp_path / "repository"
    for folder in ("tinytorch", "pytest_tinytorch"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(pyproject.replace('"numpy>=1.24"', '"numpy>=999"'), encoding="utf-8")
    digits = root / "tinytorch" / "data" / "tinydigits.npz"
    digits.write_bytes(digits.read_bytes()[:-1] + b"!")
    status, lines, verdict = run_doctor(root, tmp_path / "downloads")
    assert status == 1
    assert verdict == "2 required checks to fix (TO DO above)"
    assert lines["numpy"].startswith("TO DO")
    assert "tinytorch needs >=999: run `python -m pip install -e .`" in lines["numpy"]
    assert lines["TinyDigits"].startswith("TO DO") and "damaged or was changed" in lines["TinyDigits"]
    assert "Restore it" in lines["TinyDigits"]
    assert lines["TinyTalks"].startswith("ok") and lines["plugin"].startswith("ok")


def test_a_root_that_cannot_be_written_is_a_required_check(tmp_path):
    check = doctor._writable(tmp_path / "not-a-folder")
    assert not check.ok and check.required and "is not writable" in check.detail
    assert check.line().startswith("TO DO    repository root: ")
