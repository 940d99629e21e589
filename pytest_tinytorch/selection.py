"""Which katas a run may collect: the gate between the student and katas not yet unlocked.

A kata outside the selection is never imported, so a locked kata whose imports do not
exist yet cannot break collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .manifest import Curriculum, Kata
from .progress import Status

DONE = (Status.PASSED, Status.STALE, Status.GIVEN)  # what satisfies a prerequisite
UNLOCKED = (*DONE, Status.CURRENT)


class GateError(Exception):
    """The student asked for a kata they have not unlocked yet."""


@dataclass(frozen=True)
class Selection:
    katas: tuple[str, ...]  # ids of the katas this run collects
    focus: str | None  # the kata a --next or --kata run is about
    whole: tuple[str, ...]  # katas collected in full, so their verdict may be recorded

    def contains(self, kata: Kata) -> bool:
        return kata.id in self.katas


def choose(curriculum: Curriculum, statuses: dict[str, Status], *, kata: str | None,
           next_kata: bool, no_gate: bool, paths: list[Path], narrowed: bool) -> Selection:
    """Apply the gate to what was asked for: ``--kata``, ``--next``, paths, or everything.

    ``paths`` are the command-line arguments as paths (test ids cut at ``::``); ``narrowed``
    says whether -k, -m, --deselect or --lf may leave some of a kata's tests out.
    """
    focus: str | None
    if kata is not None:
        target = _one_kata(curriculum, statuses, kata, no_gate).id
        chosen, focus = {target}, target
    elif next_kata:
        chosen, focus = _next(curriculum, statuses)
    else:
        chosen, focus = _every_open_kata(curriculum, statuses, no_gate), None
    chosen |= _named_by_paths(curriculum, statuses, paths, no_gate)
    ordered = tuple(k.id for k in curriculum.katas if k.id in chosen)
    whole = () if narrowed else tuple(k for k in ordered if _collected_whole(curriculum, k, paths))
    return Selection(katas=ordered, focus=focus, whole=whole)


def _one_kata(curriculum: Curriculum, statuses: dict[str, Status], kata: str, no_gate: bool) -> Kata:
    """``--kata ID``: the kata, once its prerequisites have passed (or the gate is off)."""
    target = curriculum.find(kata)
    missing = [p.label for p in curriculum.with_prerequisites(target)
               if p is not target and statuses[p.id] not in DONE]
    if missing and not no_gate:
        raise GateError(f"kata {target.label} builds on {', '.join(missing)}, which "
                        f"{'has' if len(missing) == 1 else 'have'} not passed yet. Work "
                        f"through them with `pytest --next`, or add --no-gate to run it anyway.")
    return target


def _next(curriculum: Curriculum, statuses: dict[str, Status]) -> tuple[set[str], str | None]:
    """``--next``: the current kata (the focus) and every stale one."""
    chosen = {k.id for k in curriculum.katas if statuses[k.id] in (Status.STALE, Status.CURRENT)}
    focus = next((k.id for k in curriculum.katas if statuses[k.id] == Status.CURRENT), None)
    return chosen, focus


def _every_open_kata(curriculum: Curriculum, statuses: dict[str, Status], no_gate: bool) -> set[str]:
    """Plain ``pytest``: every unlocked kata (every kata with --no-gate), never a given one."""
    allowed = set(Status) if no_gate else set(UNLOCKED)
    return {k.id for k in curriculum.katas if statuses[k.id] in allowed - {Status.GIVEN}}


def _named_by_paths(curriculum: Curriculum, statuses: dict[str, Status], paths: list[Path],
                    no_gate: bool) -> set[str]:
    """The katas whose folders or files the command line names; a locked one is refused."""
    named = set()
    for path in paths:
        kata = curriculum.kata_of_path(path)
        if kata is None:
            continue
        if not no_gate and statuses[kata.id] not in UNLOCKED:
            raise GateError(f"{path.name} belongs to kata {kata.label}, which is still "
                            f"locked. Finish the current kata first (`pytest --next`), or add "
                            f"--no-gate to run it anyway.")
        named.add(kata.id)
    return named


def _collected_whole(curriculum: Curriculum, kata_id: str, paths: list[Path]) -> bool:
    """Whether collecting ``paths`` collects all of the kata's folder."""
    folder = curriculum.folder(curriculum.get(kata_id)).resolve()
    return any(folder.is_relative_to(path.resolve()) for path in paths)
