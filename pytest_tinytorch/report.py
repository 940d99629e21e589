"""``--tinytorch-report PATH``: the run as JSON, for graders and dashboards."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .manifest import Curriculum, Kata
from .results import KataRun

FORMAT = "tinytorch-report/1"


def test_file_hashes(curriculum: Curriculum, kata: Kata) -> dict[str, str]:
    """sha256 of each of the kata's test files, keyed by path relative to the root."""
    return {
        path.relative_to(curriculum.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in curriculum.test_files(kata)
    }


def build(curriculum: Curriculum, runs: dict[str, KataRun], verdicts: dict[str, bool],
          impl: str) -> dict:
    katas = []
    for kata in curriculum.katas:
        run = runs.get(kata.id)
        if run is None:
            status = "not run"
        else:
            status = "passed" if verdicts.get(kata.id) else "failed"
        katas.append({
            "id": kata.id,
            "slug": kata.slug,
            "title": kata.title,
            "status": status,
            "tests_passed": run.tests_passed if run else 0,
            "tests_failed": run.tests_failed if run else 0,
            "not_implemented": [todo.function for todo in run.sorted_todos()] if run else [],
            "points": kata.points if status == "passed" else 0,
            "max_points": kata.points,
            "metrics": [{"name": m.name, "value": m.value, "unit": m.unit}
                        for m in (run.metrics() if run else [])],
            "test_files_sha256": test_file_hashes(curriculum, kata),
        })
    return {
        "format": FORMAT,
        "implementation": impl,
        "points": sum(k["points"] for k in katas),
        "max_points": sum(k["max_points"] for k in katas),
        "katas": katas,
    }


def write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
