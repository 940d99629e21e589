"""Every kata is honest: each of its tests fails on the generated stubs and passes on the
reference, run serially and under pytest-xdist. Covers every kata in the manifest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tinytorch import stubs
from pytest_tinytorch.manifest import load

ROOT = Path(__file__).resolve().parents[1]
CURRICULUM = load(ROOT)


def failures(completed: subprocess.CompletedProcess) -> str:
    """The FAILED and ERROR lines of a run's summary, else the end of its output."""
    lines = [line for line in completed.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return "\n".join(lines) or completed.stdout[-3000:]


def run_katas(project: Path, report: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """All katas, gate off, in a fresh pytest process; returns the run and its JSON report.

    The timeout only ends a hung run (each kata test has its own limit): a busy machine may
    take several times as long as an idle one, and that must not fail the test.
    """
    command = [sys.executable, "-m", "pytest", "--no-gate", "-p", "no:cacheprovider", "-q",
               "--tinytorch-report", str(report), *args]
    completed = subprocess.run(command, check=False, cwd=project, capture_output=True, text=True,
                               timeout=3600)
    return completed, {kata["id"]: kata for kata in json.loads(report.read_text())["katas"]}


@pytest.mark.parametrize("parallel", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_every_kata_test_passes_on_the_reference(tmp_path, parallel):
    completed, katas = run_katas(ROOT, tmp_path / "report.json", "--impl", "reference", *parallel)
    assert completed.returncode == 0, failures(completed)
    for kata in CURRICULUM.katas:
        result = katas[kata.id]
        assert result["status"] == "passed" and result["tests_failed"] == 0, kata.name


def stub_project(tmp_path: Path) -> Path:
    """A copy of the katas and the reference, with freshly generated stubs."""
    project = tmp_path / "project"
    for name in ("katas", "reference"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    stubs.write(load(project))
    return project


def test_no_kata_test_passes_on_the_stubs(tmp_path):
    project = stub_project(tmp_path)
    completed, katas = run_katas(project, tmp_path / "report.json", "-n", "2")
    assert completed.returncode == pytest.ExitCode.TESTS_FAILED, completed.stdout[-3000:]
    for kata in CURRICULUM.katas:
        result = katas[kata.id]
        assert result["tests_passed"] == 0, f"{kata.name}: a test passes on the stubs"
        assert result["tests_failed"] > 0, kata.name


@pytest.mark.parametrize("track", [track for track in CURRICULUM.tracks.values() if track.given],
                         ids=lambda track: track.name)
def test_no_test_passes_when_only_the_tracks_own_katas_are_stubs(tmp_path, track):
    """With the earlier katas given (solved), every test must still need this track's code."""
    project = stub_project(tmp_path)
    graded = [kata for kata in track.katas if kata not in track.given]
    completed, katas = run_katas(project, tmp_path / "report.json", "-n", "2",
                                 "--track", track.name)
    assert completed.returncode == pytest.ExitCode.TESTS_FAILED, completed.stdout[-3000:]
    for kata_id in graded:
        result = katas[kata_id]
        assert result["tests_passed"] == 0, f"kata {kata_id}: a test passes with {track.given} given"
