"""``python -m pytest_tinytorch reset NN``: start one kata over, keeping a copy of your code.

Each module the manifest lists for kata NN goes back to the file the student started from,
after the student's version of each module that differs has been copied into a new folder
``.tinytorch-backups/<date>_<time>/tinytorch/`` (:func:`.stubs.back_up`). Every recorded
pass of kata NN and of the katas after it is withdrawn, since they were checked against code
that is gone; revealed hints stay revealed.

Where the starting files come from:

- in the full repository, from ``reference/``: the stubs ``python -m pytest_tinytorch stubs``
  writes;
- in a student release, which has no ``reference/``, from ``katas/stubs.json``: the release
  writes it with every kata module as it shipped them (the stubs, and a track's given
  modules solved). It is a course file like any other, recorded in ``katas/release.json``,
  so grading notices if it is changed. A recorded copy was chosen over
  ``git show <first commit>:tinytorch/...`` because it needs neither git nor a particular
  history: it works in a downloaded zip and whatever way the template's first commit was made.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import stubs
from .manifest import Curriculum, Kata
from .progress import Progress

SHIPPED = Path("katas") / "stubs.json"
SHIPPED_FORMAT = "tinytorch-shipped-modules/1"


class ResetError(Exception):
    """The kata's starting files cannot be found."""


@dataclass(frozen=True)
class Outcome:
    """What :func:`reset` did."""

    restored: list[str]  # modules whose content was replaced, by path in tinytorch/
    backup: Path | None  # where the student's versions of them were copied
    withdrawn: list[str]  # ids of the katas whose recorded pass was withdrawn
    warnings: list[str]  # what went wrong with the progress file, one line each


def reset(curriculum: Curriculum, kata: Kata) -> Outcome:
    """Put ``kata``'s modules back to their starting files; withdraw progress from ``kata`` on."""
    package = curriculum.root / "tinytorch"
    starts = starting_files(curriculum, kata.modules)
    changed = [module for module in kata.modules
               if not (package / module).is_file() or (package / module).read_bytes() != starts[module]]
    yours = [module for module in changed if (package / module).is_file()]
    backup = stubs.back_up(curriculum.root, yours) if yours else None
    for module in changed:
        (package / module).parent.mkdir(parents=True, exist_ok=True)
        (package / module).write_bytes(starts[module])
    withdrawn, warnings = withdraw_progress(curriculum, kata)
    return Outcome(changed, backup, withdrawn, warnings)


def starting_files(curriculum: Curriculum, modules: Sequence[str]) -> dict[str, bytes]:
    """The content each of ``modules`` (paths in ``tinytorch/``) had when the student began."""
    reference = curriculum.root / "reference" / "tinytorch"
    if reference.is_dir():
        missing = [m for m in modules if not (reference / m).is_file()]
        if missing:
            raise ResetError(f"reference/tinytorch/{missing[0]} does not exist: the manifest lists a "
                             f"module the reference lacks")
        return {m: stubs.stub_file(curriculum, m, (reference / m).read_bytes()) for m in modules}
    shipped = _read_shipped(curriculum.root, modules)
    missing = [m for m in modules if m not in shipped]
    if missing:
        raise ResetError(f"{SHIPPED.as_posix()} has no tinytorch/{missing[0]}; {_from_git(missing)}")
    return {m: shipped[m] for m in modules}


def write_shipped(root: Path, katas: Iterable[Kata]) -> Path:
    """Record every module of ``katas`` as ``root/tinytorch/`` holds it now (a release's start)."""
    package = root / "tinytorch"
    modules = {m: (package / m).read_text(encoding="utf-8")
               for kata in katas for m in kata.modules if (package / m).is_file()}
    path = root / SHIPPED
    path.write_text(json.dumps({"format": SHIPPED_FORMAT, "modules": modules}, indent=1,
                               sort_keys=True) + "\n", encoding="utf-8")
    return path


def shipped_modules(root: Path) -> dict[str, bytes]:
    """Every module of a student release as it shipped, by path in ``tinytorch/``."""
    return _read_shipped(root, [])


def _read_shipped(root: Path, modules: Sequence[str]) -> dict[str, bytes]:
    path = root / SHIPPED
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != SHIPPED_FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        return {str(m): text.encode("utf-8") for m, text in data["modules"].items()}
    except FileNotFoundError:
        raise ResetError(f"there is neither reference/ nor {SHIPPED.as_posix()}, so the kata's "
                         f"starting files are unknown; {_from_git(modules)}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ResetError(f"{SHIPPED.as_posix()} cannot be read ({error}); {_from_git(modules)}") from None


def _from_git(modules: Sequence[str]) -> str:
    """How to restore ``modules`` by hand in a git clone of the release."""
    return (f"in a git clone of the release, `git log --reverse` shows its first commit and "
            f"`git checkout <that commit> -- {' '.join(f'tinytorch/{m}' for m in modules)}` "
            f"restores the files (copy your own code elsewhere first)")


def withdraw_progress(curriculum: Curriculum, kata: Kata) -> tuple[list[str], list[str]]:
    """Withdraw the recorded pass of ``kata`` and of every later kata: (their ids, warnings)."""
    progress = Progress.load(curriculum.root)
    later = [k.id for k in curriculum.katas[curriculum.katas.index(kata):]]
    withdrawn = [kata_id for kata_id in later if kata_id in progress.passed]
    for kata_id in withdrawn:
        del progress.passed[kata_id]
    if withdrawn:
        progress.save()
    return withdrawn, [line for line in (progress.problem, *progress.warnings) if line]
