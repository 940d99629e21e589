"""Which katas a run may collect: the gate between the learner and katas not yet unlocked.

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
    """The learner asked for a kata they have not unlocked yet."""


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
    ordered = curriculum.katas
    focus = None
    if kata is not None:
        target = curriculum.find(kata)
        missing = [p.label for p in curriculum.with_prerequisites(target)
                   if p is not target and statuses[p.id] not in DONE]
        if missing and not no_gate:
            raise GateError(f"kata {target.label} builds on {', '.join(missing)}, which "
                            f"{'has' if len(missing) == 1 else 'have'} not passed yet. Work "
                            f"through them with `pytest --next`, or add --no-gate to run it anyway.")
        chosen = {target.id}
        focus = target.id
    elif next_kata:
        chosen = {k.id for k in ordered if statuses[k.id] in (Status.STALE, Status.CURRENT)}
        focus = next((k.id for k in ordered if statuses[k.id] == Status.CURRENT), None)
    elif no_gate:
        chosen = {k.id for k in ordered if statuses[k.id] != Status.GIVEN}
    else:
        chosen = {k.id for k in ordered if statuses[k.id] in UNLOCKED and statuses[k.id] != Status.GIVEN}

    named = [(path, curriculum.kata_of_path(path)) for path in paths]
    for path, named_kata in named:
        if named_kata is None or named_kata.id in chosen:
            continue
        if not no_gate and statuses[named_kata.id] not in UNLOCKED:
            raise GateError(f"{path.name} belongs to kata {named_kata.label}, which is still "
                            f"locked. Finish the current kata first (`pytest --next`), or add "
                            f"--no-gate to run it anyway.")
        chosen.add(named_kata.id)

    whole = () if narrowed else tuple(
        k.id for k in ordered if k.id in chosen and any(
            _covers(path, curriculum.folder(k)) for path, _ in named))
    return Selection(katas=tuple(k.id for k in ordered if k.id in chosen), focus=focus, whole=whole)


def _covers(path: Path, folder: Path) -> bool:
    """Whether collecting ``path`` collects all of ``folder``."""
    try:
        folder.resolve().relative_to(path.resolve())
    except ValueError:
        return False
    return True
