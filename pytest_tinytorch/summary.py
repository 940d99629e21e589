"""What the student reads at the end of a run: the kata section of pytest's summary.

Per kata that ran: passed (its systems metrics, the reference to compare with, questions to
reflect on, what it unlocked), or how far it is (functions written, tests passed, the
functions still to write that the tests reach, the hint that fits), then one progress bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from . import display, functions
from .manifest import Kata
from .progress import Status
from .results import KataRun

if TYPE_CHECKING:
    from .controller import KataController


def write(terminal: pytest.TerminalReporter, run: KataController) -> None:
    ran = [k for k in run.curriculum.katas if k.id in run.runs]
    locked = sum(1 for k in run.curriculum.katas
                 if run.statuses[k.id] == Status.LOCKED and not run.selection.contains(k))
    next_run = run.config.option.tinytorch_next
    if not ran and not next_run:
        return
    terminal.section("tinytorch", sep="=")
    if not ran and next_run:
        if run.selection.katas:
            terminal.line("No kata test ran: run `pytest --next` in the repository's root folder.")
        else:
            terminal.line("Every kata has passed. Well done! `pytest --progress` shows them all.")
    for kata in ran:
        _kata(terminal, run, run.runs[kata.id])
    if run.impl == "student":
        terminal.line("")
        terminal.line(display.progress_bar(run.curriculum, run.statuses))
    if locked:
        terminal.line(f"{locked} kata{'s' if locked > 1 else ''} locked: they unlock one at a "
                      f"time as you pass the current one (`pytest --progress`).")


def _kata(terminal: pytest.TerminalReporter, run: KataController, kata_run: KataRun) -> None:
    kata = kata_run.kata
    terminal.line("")
    if kata.id in run.modified:
        terminal.line(f"Kata {kata.label}: its tests differ from the release "
                      f"({', '.join(run.modified[kata.id])}), so it is not graded. Restore "
                      f"them (e.g. `git checkout -- katas/{kata.name}`).", red=True)
        return
    if kata.id in run.started_stale:
        terminal.line(f"Kata {kata.label} passed before; your code changed since, so it was "
                      f"checked again.")
    if run.verdicts.get(kata.id):
        _passed(terminal, run, kata_run)
        return
    if kata_run.ok:
        terminal.line(f"Kata {kata.label}: the tests that ran passed; run the whole kata "
                      f"(`pytest --kata {kata.id}`) to record it.")
        return
    if kata_run.not_done:
        terminal.line(f"Kata {kata.label}: {len(kata_run.not_done)} test(s) skipped or xfailed, which "
                      f"counts as not done: a kata passes when every one of its tests runs "
                      f"and passes.", red=True)
    if kata_run.missing and not kata_run.failed:
        terminal.line(f"Kata {kata.label}: {len(kata_run.missing)} of the release's "
                      f"{len(kata_run.expected or ())} tests did not run (for example "
                      f"{min(kata_run.missing)}).", red=True)
    _how_far(terminal, run, kata_run)


def _passed(terminal: pytest.TerminalReporter, run: KataController, kata_run: KataRun) -> None:
    kata = kata_run.kata
    terminal.line(f"Kata {kata.label} passed ({kata_run.tests_passed} tests).", green=True)
    table = kata_run.metrics()
    if table:
        terminal.line(display.metrics_table(kata, table))
    if run.impl != "student" or kata.id != run.selection.focus:
        return
    references = [f"reference/tinytorch/{module}" for module in kata.modules
                  if (run.root / "reference" / "tinytorch" / module).exists()]
    if references:
        terminal.line(f"Compare your code with the reference solution: {', '.join(references)}")
    if kata.reflect:
        terminal.line("Reflect:")
        for question in kata.reflect:
            terminal.line(f"  - {question}")
    if run.unlocked_now is not None:
        terminal.line(f"Unlocked: kata {run.unlocked_now.label}. Run `pytest --next`.", green=True)


def _how_far(terminal: pytest.TerminalReporter, run: KataController, kata_run: KataRun) -> None:
    kata = kata_run.kata
    todos = kata_run.sorted_todos()
    written = _written(run, kata)
    done = f"{written[0]} of {written[1]} functions written; " if written else ""
    passed = f"{kata_run.tests_passed} test{'s' if kata_run.tests_passed != 1 else ''} passed"
    terminal.line(f"Kata {kata.label}: {done}{passed}, {kata_run.tests_failing} failing, "
                  f"{len(kata_run.todo_tests)} stopped at a stub.", yellow=True)
    if todos:
        terminal.line("Not implemented yet (the first ones the tests reach):")
        width = max(len(todo.where) for todo in todos)
        for todo in todos:
            terminal.line(f"  {todo.where.ljust(width)}  {todo.function}")
    if kata_run.collection_errors:
        terminal.line(f"{kata_run.collection_errors} test file(s) could not be imported: "
                      f"see the errors above.")
    _hint(terminal, run, kata, todos[0].function if todos else None, written)


def _written(run: KataController, kata: Kata) -> tuple[int, int] | None:
    """(functions written, functions in the kata) for the student's code, from the stubs."""
    total = functions.total(kata, run.root, run.release) if run.impl == "student" else None
    if not total:
        return None
    return max(total - len(functions.still_to_write(kata, run.package)), 0), total


def _hint(terminal: pytest.TerminalReporter, run: KataController, kata: Kata,
          first_unfinished: str | None, written: tuple[int, int] | None) -> None:
    """The hint for the first function still to write, else the latest one revealed."""
    shown = run.progress.hints_shown(kata)
    share = written[0] / written[1] if written else None
    number = (functions.hint_for(kata, first_unfinished, share) if first_unfinished else None) or shown
    about = f" (on {first_unfinished})" if first_unfinished and number != shown else ""
    terminal.line(f"Hint {number} of {len(kata.hints)}{about}: {kata.hints[number - 1]}")
    if shown < len(kata.hints):
        terminal.line("(`pytest --hint` shows the hints so far and reveals the next one.)")


def show_first_failure_only(terminal: pytest.TerminalReporter) -> None:
    """In --next, show the first real failure in full and the others as one line each."""
    failed = terminal.stats.get("failed", [])
    failed.sort(key=lambda r: (r.location[0], r.location[1] or 0, r.nodeid))
    for later in failed[1:]:
        crash = getattr(later.longrepr, "reprcrash", None)
        if crash is not None:
            later.longrepr = f"{crash.path}:{crash.lineno}: {crash.message}"
