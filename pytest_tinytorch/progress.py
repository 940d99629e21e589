"""The learner's progress: a small JSON file at the repository root.

It records, per kata, when it passed and a fingerprint of the learner's source files it
passed with, and how many hints have been revealed. Only the controlling pytest process
writes it (never an xdist worker, never a run against the reference).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from .manifest import Curriculum, Kata

FILENAME = ".tinytorch-progress.json"
FORMAT = "tinytorch-progress/1"


class Status(str, Enum):
    PASSED = "passed"
    STALE = "stale"  # passed once, but the learner's source files changed since
    GIVEN = "given"  # prebuilt by the learner's track: imported from the reference
    CURRENT = "current"
    LOCKED = "locked"


@dataclass
class Progress:
    """What the learner has achieved, as stored on disk."""

    path: Path
    passed: dict[str, dict] = field(default_factory=dict)
    hints: dict[str, int] = field(default_factory=dict)
    track: str | None = None
    problem: str | None = None  # why an unreadable file was replaced, for the report

    @classmethod
    def load(cls, root: Path) -> Progress:
        """Read the progress file; an unreadable one is set aside and started afresh."""
        path = root / FILENAME
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            if found != FORMAT:
                raise ValueError(f"unknown format {found!r}")
            passed = data.get("passed", {})
            hints = data.get("hints", {})
            if not isinstance(passed, dict) or not all(isinstance(v, dict) for v in passed.values()):
                raise ValueError("'passed' must map kata ids to records")
            if not isinstance(hints, dict) or not all(isinstance(v, int) for v in hints.values()):
                raise ValueError("'hints' must map kata ids to counts")
            track = data.get("track")
            if track is not None and not isinstance(track, str):
                raise ValueError("'track' must be a track name")
        except (ValueError, UnicodeDecodeError) as error:
            backup = path.with_name(path.name + ".bak")
            os.replace(path, backup)
            return cls(path, problem=f"{path.name} was unreadable ({error}); it was moved to "
                                     f"{backup.name} and progress starts afresh")
        return cls(path, passed=passed, hints=hints, track=track)

    def save(self) -> None:
        data = {"format": FORMAT, "passed": self.passed, "hints": self.hints, "track": self.track}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)

    def record_pass(self, kata: Kata, fingerprint: str) -> None:
        self.passed[kata.id] = {
            "title": kata.title,
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "fingerprint": fingerprint,
        }

    def revoke(self, kata: Kata) -> None:
        self.passed.pop(kata.id, None)

    def next_hint(self, kata: Kata) -> tuple[int, str]:
        """Reveal one more hint of ``kata``: (its 1-based number, its text)."""
        shown = min(self.hints.get(kata.id, 1) + 1, len(kata.hints))
        self.hints[kata.id] = shown
        return shown, kata.hints[shown - 1]


def fingerprint(curriculum: Curriculum, kata: Kata, package: Path) -> str:
    """sha256 over the learner's modules of ``kata`` and of every kata it builds on."""
    digest = hashlib.sha256()
    for needed in curriculum.with_prerequisites(kata):
        for module in needed.modules:
            source = package / module
            digest.update(module.encode())
            digest.update(source.read_bytes() if source.exists() else b"<missing>")
    return digest.hexdigest()


def statuses(curriculum: Curriculum, progress: Progress, package: Path,
             given: tuple[str, ...] = ()) -> dict[str, Status]:
    """Each kata's status: given, passed, stale, the one current kata, or locked."""
    result: dict[str, Status] = {}
    current_found = False
    for kata in curriculum.katas:
        record = progress.passed.get(kata.id)
        if kata.id in given:
            result[kata.id] = Status.GIVEN
        elif record is not None:
            same = record.get("fingerprint") == fingerprint(curriculum, kata, package)
            result[kata.id] = Status.PASSED if same else Status.STALE
        elif not current_found:
            result[kata.id] = Status.CURRENT
            current_found = True
        else:
            result[kata.id] = Status.LOCKED
    return result
