"""A release's record of itself (``katas/release.json``), as the kata engine reads it.

The record lists the sha256 of every course file (see :mod:`.coursefiles`) and, per kata,
the tests that make it up. In a release, a kata passes only when every recorded test ran and
passed, and a kata whose files differ from the record is reported as ``modified`` and earns
nothing. Without a record (the project's own repository) the tests collected are the kata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .coursefiles import RECORD, RECORD_FORMAT, course_files
from .manifest import Curriculum, Kata


@dataclass(frozen=True)
class ReleaseRecord:
    """What a release recorded: course-file digests and each kata's tests."""

    files: dict[str, str] = field(default_factory=dict)
    tests: dict[str, frozenset[str]] = field(default_factory=dict)
    functions: dict[str, int] = field(default_factory=dict)  # solution regions per kata
    unreadable: bool = False  # a record that is not the release's: nothing can be trusted

    @classmethod
    def load(cls, root: Path) -> ReleaseRecord | None:
        """The record of the release rooted at ``root``; None outside a release."""
        path = root / RECORD
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != RECORD_FORMAT:
                raise ValueError(data.get("format"))
            files = {str(name): str(digest) for name, digest in data["files"].items()}
            tests = {str(kata): frozenset(map(str, entry["tests"])) for kata, entry in data["katas"].items()}
            functions = {str(kata): int(entry.get("functions", 0)) for kata, entry in data["katas"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return cls(unreadable=True)
        return cls(files, tests, functions)

    def modified(self, curriculum: Curriculum, kata: Kata) -> list[str]:
        """Course files in ``kata``'s folder that differ from the record (added ones too)."""
        if self.unreadable:
            return [RECORD]
        present = folder_hashes(curriculum, kata)
        prefix = curriculum.folder(kata).relative_to(curriculum.root).as_posix() + "/"
        recorded = {name: digest for name, digest in self.files.items() if name.startswith(prefix)}
        return sorted(name for name in present.keys() | recorded.keys()
                      if present.get(name) != recorded.get(name))

    def expected_tests(self, kata: Kata) -> frozenset[str] | None:
        """The tests the release recorded for ``kata``; None if it recorded none."""
        return None if self.unreadable else self.tests.get(kata.id)


def write(root: Path, tests: dict[str, list[str]], functions: dict[str, int]) -> Path:
    """Record the release rooted at ``root``: its course files, and per kata id its ``tests``
    and the number of ``functions`` the student writes."""
    path = root / RECORD
    record = {"format": RECORD_FORMAT, "files": course_files(root),
              "katas": {kata: {"tests": sorted(ids), "functions": functions.get(kata, 0)}
                        for kata, ids in sorted(tests.items())}}
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def folder_hashes(curriculum: Curriculum, kata: Kata) -> dict[str, str]:
    """sha256 of each course file in ``kata``'s folder, keyed by path from the root."""
    folder = curriculum.folder(kata)
    prefix = folder.relative_to(curriculum.root).as_posix()
    return {f"{prefix}/{name}": digest
            for name, digest in course_files(folder, skip_caches=True).items()}


def record_sha256(root: Path) -> str:
    return hashlib.sha256((root / RECORD).read_bytes()).hexdigest()
