"""Tracks: which katas a student builds, and which are given ("import what you need").

A track comes from ``--track NAME`` (remembered in the progress file), else the progress
file, else the ``tinytorch_track`` ini setting a student release may carry. ``--given
RANGE`` (``--prebuilt`` is its older name) gives a range of katas for one run without a
track. Given katas are never run by default, count as passed for the gate, and their
modules are imported from the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from .manifest import Curriculum, ManifestError
from .progress import Progress

FULL = "full"  # `--track full` goes back to the whole curriculum


@dataclass(frozen=True)
class Scope:
    curriculum: Curriculum  # restricted to the track's katas (given ones included)
    given: tuple[str, ...]
    track: str | None

    def given_modules(self) -> tuple[str, ...]:
        return tuple(m for k in self.curriculum.katas if k.id in self.given for m in k.modules)


def resolve(curriculum: Curriculum, progress: Progress | None, *, track_option: str | None,
            given_option: str | None, ini_track: str | None) -> Scope:
    """The scope of this run. ``--track`` is remembered in ``progress`` (the caller saves)."""
    name = track_option or (progress.track if progress else None) or ini_track or None
    if track_option and progress is not None:
        progress.track = None if track_option.lower() == FULL else track_option.lower()
    given: tuple[str, ...] = ()
    if name is None or name.lower() == FULL:
        scope = curriculum
    else:
        track = curriculum.track(name)
        scope = curriculum.only(track.given + track.katas)
        given, name = track.given, track.name
    if given_option:
        given = curriculum.kata_range(given_option)
        if not given:
            raise ManifestError(f"--given {given_option}: no kata in that range")
    return Scope(scope, tuple(given), None if name is None or name.lower() == FULL else name)
