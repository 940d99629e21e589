"""``--tinytorch-report PATH``: the run as JSON, for graders and dashboards."""

from __future__ import annotations

import json
from pathlib import Path

from .integrity import folder_hashes
from .manifest import Curriculum
from .progress import Status
from .results import KataRun

FORMAT = "tinytorch-report/1"


def build(curriculum: Curriculum, runs: dict[str, KataRun], verdicts: dict[str, bool],
          impl: str, statuses: dict[str, Status], modified: dict[str, list[str]]) -> dict:
    """The report: one entry per kata of the curriculum (a track's, if one is chosen).

    A kata is "passed", "failed", "modified" (its tests differ from the release's record:
    not graded), "given" (by the track: no points either way) or "not run".
    """
    katas = []
    for kata in curriculum.katas:
        run = runs.get(kata.id)
        if modified.get(kata.id):
            status = "modified"
        elif statuses.get(kata.id) == Status.GIVEN:
            status = "given"
        elif run is None:
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
            "tests_not_done": sorted(run.not_done | run.missing) if run else [],
            "not_implemented": [todo.function for todo in run.sorted_todos()] if run else [],
            "points": kata.points if status == "passed" else 0,
            "max_points": 0 if status == "given" else kata.points,
            "modified_tests": modified.get(kata.id, []),
            "metrics": [{"name": m.name, "value": m.value, "unit": m.unit}
                        for m in (run.metrics() if run else [])],
            "files_sha256": folder_hashes(curriculum, kata),
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
