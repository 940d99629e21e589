"""The student's progress: a small JSON file at the repository root.

It records, per kata, when it passed and a fingerprint of the student's source files it
passed with, how many hints have been revealed, the chosen track, and the last full run of
each milestone on the student's code (its figure, its criterion, whether it was met). Only the controlling
pytest process writes it (never an xdist worker, never a run against the reference).

The file is the student's, so tinytorch never trusts it and never loses it:

- **Reading.** Only a regular file of at most :data:`MAX_BYTES` is opened (a FIFO or a
  directory in its place is never read, so a run cannot hang or crash on one). UTF-8 with or
  without a byte-order mark, UTF-16 and UTF-32 are all read (``json.loads`` on bytes detects
  them), so an editor's save keeps the student's progress.
- **An odd file is set aside, never overwritten.** A file that cannot be read at all (not
  JSON, nested too deeply, binary, another format, not a file) is moved to the first free
  name of ``.tinytorch-progress.json.bak``, ``.bak.1``, ``.bak.2``, ... and progress starts
  afresh. A file of the right format with some invalid entries (a record that is not a
  record, a hint count below 1, a track that is not a name) is set aside the same way and
  its valid entries are written back at once, hint counts above :data:`MAX_HINT_COUNT`
  clamped to it. Either way :attr:`Progress.problem` says so in one line.
- **Saving never fails a run.** :meth:`Progress.save` returns False and adds one line to
  :attr:`Progress.warnings` when the file cannot be written (a read-only repository, a
  directory in the way); the run's verdicts stand.
- **Concurrent runs lose nothing.** A :class:`Progress` remembers what the file held when it
  was read; :meth:`~Progress.save` takes a lock, reads the file again, applies only what this
  run changed (passes recorded or revoked, hints revealed, the track chosen), writes a
  temporary file under a name no other run uses and atomically replaces the file with it.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import secrets
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from .manifest import Curriculum, Kata

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

FILENAME = ".tinytorch-progress.json"
FORMAT = "tinytorch-progress/1"
MAX_BYTES = 1_000_000  # a real progress file is a few kB; anything larger is not one of ours
MAX_HINT_COUNT = 100  # far more hints than any kata has; larger counts were not written by us
LOCK_PATIENCE = 10.0  # seconds a save waits for another run's save (which takes milliseconds)


class Status(str, Enum):
    PASSED = "passed"
    STALE = "stale"  # passed once, but the student's source files changed since
    GIVEN = "given"  # given by the student's track: imported from the reference
    CURRENT = "current"
    LOCKED = "locked"


@dataclass
class _Contents:
    """What a progress file holds (or should hold)."""

    passed: dict[str, dict[str, str]] = field(default_factory=dict)
    hints: dict[str, int] = field(default_factory=dict)
    track: str | None = None
    milestones: dict[str, dict[str, str]] = field(default_factory=dict)


class _Unreadable(Exception):
    """The file holds nothing worth keeping; the message says why."""


@dataclass
class Progress:
    """What the student has achieved, as stored on disk."""

    path: Path
    passed: dict[str, dict] = field(default_factory=dict)
    hints: dict[str, int] = field(default_factory=dict)
    track: str | None = None
    milestones: dict[str, dict[str, str]] = field(default_factory=dict)
    problem: str | None = None  # what was wrong with the file when it was read, for the report
    warnings: list[str] = field(default_factory=list)  # one line per save that failed or set a file aside
    # What the file held when last read or written: save() applies only the differences.
    _on_disk: _Contents = field(default_factory=_Contents, repr=False)

    @classmethod
    def load(cls, root: Path) -> Progress:
        """Read the progress file; an odd one is set aside, keeping whatever of it is valid."""
        path = root / FILENAME
        try:
            contents, faults = _examine(path)
        except _Unreadable as error:
            contents, faults = _Contents(), [f"it was unreadable ({error})"]
        if not faults:
            return cls._of(path, contents, on_disk=contents)
        try:
            with _locked(path):  # set aside by one run only, and re-read: another may have done it
                contents, problem = _take(path)
        except OSError as error:
            # Nothing is known to be on disk, so a later save writes all of ``contents``.
            return cls._of(path, contents, on_disk=_Contents(),
                           problem=f"{path.name} could not be set aside ({error}): {faults[0]}")
        return cls._of(path, contents, on_disk=contents, problem=problem)

    @classmethod
    def _of(cls, path: Path, contents: _Contents, *, on_disk: _Contents,
            problem: str | None = None) -> Progress:
        mine = copy.deepcopy(contents)
        return cls(path, mine.passed, mine.hints, mine.track, mine.milestones, problem,
                   _on_disk=copy.deepcopy(on_disk))

    def save(self) -> bool:
        """Merge this run's changes into the file; False (and a warning) if it cannot be written.

        Under the lock the file is read again, so passes another run recorded meanwhile are
        kept: only the entries this run changed since it read the file are written over.
        """
        try:
            with _locked(self.path):
                contents, problem = _take(self.path)
                self._apply_changes_to(contents)
                _write(self.path, contents)
        except OSError as error:
            self.warnings.append(f"progress not saved ({error}); this run's results stand but are "
                                 f"not recorded")
            return False
        if problem:
            self.warnings.append(problem)
        self.passed, self.hints, self.track = contents.passed, contents.hints, contents.track
        self.milestones = contents.milestones
        self._on_disk = copy.deepcopy(contents)
        return True

    def _apply_changes_to(self, contents: _Contents) -> None:
        """Write this run's changes since the file was read over ``contents``, leave the rest."""
        before = self._on_disk
        for kata_id in before.passed.keys() | self.passed.keys():
            if self.passed.get(kata_id) == before.passed.get(kata_id):
                continue
            if kata_id in self.passed:
                contents.passed[kata_id] = copy.deepcopy(self.passed[kata_id])
            else:
                contents.passed.pop(kata_id, None)  # revoked: the kata failed in this run
        for kata_id, shown in self.hints.items():
            if shown != before.hints.get(kata_id):
                # Hints are only ever revealed, so two runs revealing one each keep the larger count.
                contents.hints[kata_id] = max(shown, contents.hints.get(kata_id, shown))
        if self.track != before.track:
            contents.track = self.track
        for name, record in self.milestones.items():
            if record != before.milestones.get(name):
                contents.milestones[name] = copy.deepcopy(record)

    def record_pass(self, kata: Kata, fingerprint: str) -> None:
        self.passed[kata.id] = {
            "title": kata.title,
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "fingerprint": fingerprint,
        }

    def record_milestone(self, name: str, *, result: str, achieved: bool) -> None:
        """A full milestone run on the student's code: ``result`` says each figure against its
        criterion, as the milestone printed it."""
        self.milestones[name] = {
            "result": result,
            "achieved": "yes" if achieved else "no",
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def hints_shown(self, kata: Kata) -> int:
        """How many of ``kata``'s hints the student has seen: the first always, at most all."""
        return max(1, min(self.hints.get(kata.id, 1), len(kata.hints)))

    def next_hint(self, kata: Kata) -> tuple[int, str]:
        """Reveal one more hint of ``kata``: (its 1-based number, its text)."""
        shown = min(self.hints_shown(kata) + 1, len(kata.hints))
        self.hints[kata.id] = shown
        return shown, kata.hints[shown - 1]


def _examine(path: Path) -> tuple[_Contents, list[str]]:
    """The file's valid contents and what was wrong with the rest; _Unreadable if nothing is usable."""
    raw = _read(path)
    if raw is None:
        return _Contents(), []
    try:
        data = json.loads(raw)
    except RecursionError:
        raise _Unreadable("nested too deeply to be a progress file") from None
    except ValueError as error:  # not JSON, or not text
        raise _Unreadable(str(error)) from None
    found = data.get("format") if isinstance(data, dict) else type(data).__name__
    if found != FORMAT:
        raise _Unreadable(f"unknown format {found!r}")
    return _salvage(data)


def _read(path: Path) -> bytes | None:
    """The bytes of the file at ``path``, None if there is none; only a small regular file is read."""
    try:
        kind = os.stat(path).st_mode
        if not stat.S_ISREG(kind):
            raise _Unreadable(f"it is {_kind(kind)}, not a file")
        # Non-blocking, so that a FIFO swapped in after the check cannot hang the run.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise _Unreadable("it is no longer a file")
            raw = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _Unreadable(str(error)) from None
    if len(raw) > MAX_BYTES:
        raise _Unreadable(f"it is larger than {MAX_BYTES:,} bytes")
    return raw


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket",
             stat.S_ISCHR: "a device", stat.S_ISBLK: "a device"}
    return next((name for test, name in kinds.items() if test(mode)), "something else")


def _salvage(data: dict) -> tuple[_Contents, list[str]]:
    """The valid entries of a file of the right format, and one description per invalid one."""
    contents, faults = _Contents(), []
    passed, hints, track = data.get("passed", {}), data.get("hints", {}), data.get("track")
    milestones = data.get("milestones", {})
    if not isinstance(milestones, dict):
        faults.append(f"'milestones' is {type(milestones).__name__}, not an object")
        milestones = {}
    for name, record in milestones.items():
        if isinstance(record, dict) and all(isinstance(value, str) for value in record.values()):
            contents.milestones[name] = record
        else:
            faults.append(f"milestones[{name!r}] is not a record")
    if not isinstance(passed, dict):
        faults.append(f"'passed' is {type(passed).__name__}, not an object")
        passed = {}
    for kata_id, record in passed.items():
        if (isinstance(record, dict) and isinstance(record.get("fingerprint"), str)
                and all(isinstance(value, str) for value in record.values())):
            contents.passed[kata_id] = record
        else:
            faults.append(f"passed[{kata_id!r}] is not a record with a fingerprint")
    if not isinstance(hints, dict):
        faults.append(f"'hints' is {type(hints).__name__}, not an object")
        hints = {}
    for kata_id, count in hints.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            faults.append(f"hints[{kata_id!r}] is {count!r}, not a count of at least 1")
        elif count > MAX_HINT_COUNT:
            faults.append(f"hints[{kata_id!r}] is {count}, more than {MAX_HINT_COUNT}")
            contents.hints[kata_id] = MAX_HINT_COUNT
        else:
            contents.hints[kata_id] = count
    if track is None or isinstance(track, str):
        contents.track = track
    else:
        faults.append(f"'track' is {track!r}, not a track name")
    return contents, faults


def _take(path: Path) -> tuple[_Contents, str | None]:
    """Under the lock: the file's contents, after setting an odd file aside (then one line says so).

    The valid entries of a set-aside file are written back at once, so they outlive this run
    even if it never saves.
    """
    try:
        contents, faults = _examine(path)
    except _Unreadable as error:
        backup = _set_aside(path)
        return _Contents(), (f"{path.name} was unreadable ({error}); it was moved to {backup.name} "
                             f"and progress starts afresh")
    if not faults:
        return contents, None
    backup = _set_aside(path)
    _write(path, contents)
    more = f"; {len(faults) - 1} more" if len(faults) > 1 else ""
    return contents, (f"{path.name} had invalid entries ({faults[0]}{more}); it was moved to "
                      f"{backup.name} and its valid entries kept")


def _set_aside(path: Path) -> Path:
    """Rename ``path`` to the first free backup name; an earlier backup is never overwritten."""
    names = itertools.chain([f"{path.name}.bak"], (f"{path.name}.bak.{n}" for n in itertools.count(1)))
    backup = next(path.with_name(name) for name in names if not os.path.lexists(path.with_name(name)))
    os.rename(path, backup)  # the caller holds the lock, so no other run takes the name meanwhile
    return backup


def _write(path: Path, contents: _Contents) -> None:
    """Replace the file atomically with ``contents``, through a temporary name of this run's own."""
    data = {"format": FORMAT, "passed": contents.passed, "hints": contents.hints, "track": contents.track,
            "milestones": contents.milestones}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(descriptor, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        # Windows refuses to replace a file another process is reading for a moment; retry then.
        _patiently(lambda: os.replace(temporary, path), PermissionError if sys.platform == "win32" else ())
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock on ``<progress file>.lock`` while the body runs.

    The lock file stays (removing it would let two runs lock two different files); the
    operating system releases the lock when its process ends, so a crashed run leaves no
    stale lock behind.
    """
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _patiently(lambda: _lock(descriptor, True), BlockingIOError if sys.platform != "win32" else OSError)
        try:
            yield
        finally:
            _lock(descriptor, False)
    finally:
        os.close(descriptor)


def _lock(descriptor: int, take: bool) -> None:
    """Take (without waiting) or release the exclusive lock on an open file."""
    if sys.platform == "win32":
        os.lseek(descriptor, 0, os.SEEK_SET)  # msvcrt locks bytes from the current position
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK if take else msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB if take else fcntl.LOCK_UN)


def _patiently(action: Callable[[], None], transient: type[OSError] | tuple[()]) -> None:
    """Do ``action``, retrying for up to LOCK_PATIENCE seconds while it fails with ``transient``."""
    deadline = time.monotonic() + LOCK_PATIENCE
    while True:
        try:
            action()
            return
        except transient as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"another tinytorch run kept {FILENAME} busy for "
                                   f"{LOCK_PATIENCE:.0f} s") from error
            time.sleep(0.01)


def fingerprint(curriculum: Curriculum, kata: Kata, package: Path) -> str:
    """sha256 over the student's modules of ``kata`` and of every kata it builds on."""
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
