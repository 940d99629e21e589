"""The sha256 of each kata's test files, and a release's record of them.

A student release writes ``katas/checksums.json``; grading then reports a kata whose tests
differ from the release instead of trusting its result.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .manifest import Curriculum, Kata

CHECKSUMS = Path("katas") / "checksums.json"


def test_file_hashes(curriculum: Curriculum, kata: Kata) -> dict[str, str]:
    """sha256 of each of the kata's test files (and conftest.py), keyed by path from the root."""
    folder = curriculum.folder(kata)
    files = [*curriculum.test_files(kata), *sorted(folder.glob("conftest.py"))]
    return {path.relative_to(curriculum.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(files)}


def write_checksums(curriculum: Curriculum) -> Path:
    path = curriculum.root / CHECKSUMS
    table = {kata.id: test_file_hashes(curriculum, kata) for kata in curriculum.katas}
    path.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def modified_tests(curriculum: Curriculum, kata: Kata) -> list[str] | None:
    """Test files of ``kata`` that differ from the release's record; None without a record."""
    path = curriculum.root / CHECKSUMS
    if not path.exists():
        return None
    try:
        expected = json.loads(path.read_text(encoding="utf-8")).get(kata.id, {})
    except (ValueError, AttributeError):
        return [CHECKSUMS.as_posix()]
    actual = test_file_hashes(curriculum, kata)
    return sorted(name for name in expected.keys() | actual.keys()
                  if expected.get(name) != actual.get(name))
