"""The TinyTorch kata engine as a pytest plugin (activated by the repository's conftest.py).

Flow of a run:

1. ``pytest_configure`` reads the manifest and the learner's progress, applies the gate and
   makes ``import tinytorch`` load the chosen implementation. The controller hands its choice
   to xdist workers, so every process collects the same katas.
2. Locked katas are never collected; the others get their kata's timeout.
3. Failures are turned into guidance where they happen (see :mod:`.outcomes`).
4. The controller tallies reports per kata, decides which katas passed, records that in the
   progress file and prints the kata section of the summary.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import advance, display, functions, implementation, measure, report, selection, timeouts, tracks, watch
from .integrity import ReleaseRecord
from .manifest import MANIFEST, Curriculum, Kata, ManifestError, load
from .metrics import metrics  # noqa: F401  (the fixture, registered with this plugin)
from .outcomes import find_todo, is_timeout, timeout_text, todo_of
from .progress import Progress, Status, fingerprint, statuses
from .results import KataRun

measure.pin_blas_threads()

WORKER_KEY = "tinytorch"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch", "TinyTorch katas")
    group.addoption("--next", action="store_true", dest="tinytorch_next",
                    help="run the kata you are working on (and re-check any that went stale)")
    group.addoption(watch.OPTION, action="store_true", dest="tinytorch_watch",
                    help="run again every time a file under tinytorch/ or katas/ changes")
    group.addoption("--kata", dest="tinytorch_kata", metavar="ID",
                    help="run one kata: 09, 9, 09_spatial or spatial")
    group.addoption("--no-gate", action="store_true", dest="tinytorch_no_gate",
                    help="run katas whose prerequisites have not passed yet")
    group.addoption("--progress", action="store_true", dest="tinytorch_progress",
                    help="show the curriculum and your progress, run nothing")
    group.addoption("--hint", action="store_true", dest="tinytorch_hint",
                    help="reveal the next hint of the current kata, run nothing")
    group.addoption("--impl", dest="tinytorch_impl", default="student",
                    choices=implementation.CHOICES,
                    help="test your tinytorch/ (student, the default) or reference/ (reference)")
    group.addoption("--tinytorch-report", dest="tinytorch_report", metavar="PATH",
                    help="write the results per kata as JSON to PATH")
    group.addoption("--track", dest="tinytorch_track", metavar="NAME",
                    help="follow a track (foundation, architecture, optimization; full for all "
                         "katas); remembered in your progress file")
    group.addoption("--prebuilt", dest="tinytorch_prebuilt", metavar="RANGE",
                    help="take the katas in RANGE (e.g. 01-13) as given, from the reference")
    parser.addini("tinytorch_track", "the track a student release starts on", default="")


def _curriculum(config: pytest.Config) -> Curriculum | None:
    if not (config.rootpath / MANIFEST).exists():
        return None
    try:
        return load(config.rootpath)
    except ManifestError as error:
        raise pytest.UsageError(str(error)) from None


def _scope(config: pytest.Config, curriculum: Curriculum, progress: Progress) -> tracks.Scope:
    """The katas of the learner's track; a newly chosen ``--track`` is saved."""
    try:
        scope = tracks.resolve(curriculum, progress, track_option=config.option.tinytorch_track,
                               prebuilt_option=config.option.tinytorch_prebuilt,
                               ini_track=config.getini("tinytorch_track") or None)
    except ManifestError as error:
        raise pytest.UsageError(str(error)) from None
    _offer_only_what_a_release_can(config, curriculum, scope)
    if config.option.tinytorch_track:
        progress.save()
    return scope


def _offer_only_what_a_release_can(config: pytest.Config, curriculum: Curriculum,
                                   scope: tracks.Scope) -> None:
    """Options that take code from ``reference/`` are refused where there is none.

    A student release has no reference solution: its own track's given katas ship solved in
    ``tinytorch/``, but ``--impl reference``, ``--prebuilt`` or another track's given katas
    would silently run the stubs instead.
    """
    if implementation.package_dir(curriculum.root, "reference").is_dir():
        return
    wanted = []
    if config.option.tinytorch_impl == "reference":
        wanted.append("--impl reference")
    if config.option.tinytorch_prebuilt:
        wanted.append(f"--prebuilt {config.option.tinytorch_prebuilt}")
    own_track = (config.getini("tinytorch_track") or "").lower()
    if scope.given and not config.option.tinytorch_prebuilt and (scope.track or "").lower() != own_track:
        wanted.append(f"the {scope.track} track (its given katas come from the reference)")
    if wanted:
        raise pytest.UsageError(
            f"{' and '.join(wanted)} need{'s' if len(wanted) == 1 else ''} the full TinyTorch "
            f"repository with reference/; this is a student release without the solutions. "
            f"Nothing was run or saved." + (" `pytest --track full` goes back to every kata."
                                            if scope.track else ""))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--progress`` and ``--hint`` answer at once, without running tests; ``--watch`` loops."""
    if not (config.option.tinytorch_progress or config.option.tinytorch_hint
            or config.option.tinytorch_watch):
        return None
    curriculum = _curriculum(config)
    if curriculum is None:
        raise pytest.UsageError(f"no {MANIFEST.as_posix()} under {config.rootpath}")
    if config.option.tinytorch_watch:
        return watch.watch(curriculum.root, config.invocation_params.args, config.invocation_params.dir)
    progress = Progress.load(curriculum.root)
    if progress.problem:
        print(f"tinytorch: {progress.problem}")
    scope = _scope(config, curriculum, progress)
    curriculum = scope.curriculum
    package = implementation.package_dir(curriculum.root, "student")
    state = statuses(curriculum, progress, package, scope.given)
    if scope.track:
        print(f"track: {scope.track}")
    if config.option.tinytorch_progress:
        print(display.progress_table(curriculum, state))
        milestones = sorted(path.stem for path in (curriculum.root / "milestones").glob("0*_*.py"))
        if milestones:
            print("\n" + display.milestones_table(milestones, progress.milestones))
    if config.option.tinytorch_hint:
        current = next((k for k in curriculum.katas if state[k.id] == Status.CURRENT), None)
        if current is None:
            print("Every kata has passed: no hints left to give.")
        else:
            before = progress.hints_shown(current)
            number, _ = progress.next_hint(current)
            print(f"Kata {current.label}: {number} of {len(current.hints)} hints"
                  f"{' (all of them)' if number == len(current.hints) else ''}")
            for shown, text in enumerate(current.hints[:number], start=1):
                print(f"\nHint {shown}{' (new)' if shown > before else ''}: {text}")
            progress.save()
    for warning in progress.warnings:
        print(f"tinytorch: {warning}")
    return 0


def pytest_configure(config: pytest.Config) -> None:
    curriculum = _curriculum(config)
    if curriculum is None:
        return
    if not hasattr(config, "workerinput"):
        _check_report_path(config)
        _collect_katas_from_any_folder(config, curriculum)
    engine = KataEngine(config, curriculum)
    config.pluginmanager.register(engine, "tinytorch-engine")
    config.pluginmanager.register(timeouts.KataTimeouts(config, engine.curriculum), "tinytorch-timeouts")


def _check_report_path(config: pytest.Config) -> None:
    """``--tinytorch-report`` must name a file that can be written: checked before any test runs."""
    option = config.option.tinytorch_report
    if not option:
        return
    path = config.invocation_params.dir / option
    problem = None
    if path.is_dir():
        problem = "is a folder; name a file, such as report.json"
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = f"its folder cannot be created ({error.strerror or error})"
        else:
            if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
                problem = "cannot be written"
    if problem:
        raise pytest.UsageError(f"--tinytorch-report {option}: {problem}")


def _collect_katas_from_any_folder(config: pytest.Config, curriculum: Curriculum) -> None:
    """``pytest`` with no paths, run from a sub-folder (``tinytorch/``, say), still means the katas.

    pytest applies ``testpaths`` only in the root folder; elsewhere it would collect the
    folder it was started in and find no kata.
    """
    here = config.invocation_params.dir.resolve()
    root = curriculum.root.resolve()
    if (config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR and here != root
            and here.is_relative_to(root) and not here.is_relative_to(curriculum.katas_dir.resolve())):
        config.args = [str(curriculum.katas_dir)]


class KataEngine:
    """One run's kata state: the gate, the tally, the verdicts, the summary."""

    def __init__(self, config: pytest.Config, curriculum: Curriculum) -> None:
        self.config = config
        self.curriculum = curriculum
        self.root = curriculum.root
        self.impl: str = config.option.tinytorch_impl
        self.is_worker = hasattr(config, "workerinput")
        self.modified: dict[str, list[str]] = {}
        self.given: tuple[str, ...] = ()
        self.progress: Progress | None = None
        self.started_stale: set[str] = set()
        self.runs: dict[str, KataRun] = {}
        self.verdicts: dict[str, bool] = {}
        self.release = ReleaseRecord.load(self.root)
        self.unlocked_now: Kata | None = None
        self.session: pytest.Session | None = None
        if self.is_worker:
            chosen = config.workerinput[WORKER_KEY]  # type: ignore[attr-defined]
            self.statuses = {k: Status(v) for k, v in chosen["statuses"].items()}
            self.selection = selection.Selection(tuple(chosen["katas"]), chosen["focus"],
                                                 tuple(chosen["whole"]))
            self.given_modules = tuple(chosen["given_modules"])
            self.package = implementation.activate(self.root, self.impl, self.given_modules)
            return
        self.progress = Progress.load(self.root)
        scope = _scope(config, curriculum, self.progress)
        self.curriculum = curriculum = scope.curriculum
        self.given = scope.given
        self.given_modules = scope.given_modules()
        self.package = implementation.activate(self.root, self.impl, self.given_modules)
        student = implementation.package_dir(self.root, "student")
        self.statuses = statuses(curriculum, self.progress, student, scope.given)
        self.started_stale = {k for k, s in self.statuses.items() if s == Status.STALE}
        try:
            self.selection = selection.choose(
                curriculum, self.statuses,
                kata=config.option.tinytorch_kata,
                next_kata=config.option.tinytorch_next,
                no_gate=config.option.tinytorch_no_gate,
                paths=self._argument_paths(),
                narrowed=self._narrowed(),
            )
        except (selection.GateError, ManifestError) as error:
            raise pytest.UsageError(str(error)) from None

    def _argument_paths(self) -> list[Path]:
        base = self.config.invocation_params.dir
        return [base / arg.split("::")[0] for arg in self.config.args]

    def _touches_katas(self) -> bool:
        """Whether the command line asks for katas (not, say, only the project's tests/)."""
        katas = self.curriculum.katas_dir.resolve()
        return any(katas.is_relative_to(path.resolve()) or path.resolve().is_relative_to(katas)
                   for path in self._argument_paths())

    def _narrowed(self) -> bool:
        option = self.config.option
        return bool(getattr(option, "keyword", "") or getattr(option, "markexpr", "")
                    or getattr(option, "deselect", None) or getattr(option, "lf", False)
                    or getattr(option, "stepwise", False)
                    or any("::" in arg for arg in self.config.args))

    # -- xdist: every worker collects exactly what the controller chose ------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput[WORKER_KEY] = {
            "katas": list(self.selection.katas),
            "focus": self.selection.focus,
            "whole": list(self.selection.whole),
            "statuses": {k: s.value for k, s in self.statuses.items()},
            "given_modules": list(self.given_modules),
        }

    # -- collection ----------------------------------------------------------------------

    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        kata = self.curriculum.kata_of_path(collection_path)
        if kata is not None and not self.selection.contains(kata):
            return True
        return None

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Each kata test gets its kata's limit; :mod:`.timeouts` enforces it on every platform."""
        for item in items:
            kata = self.curriculum.kata_of_path(item.path)
            if kata is not None and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(kata.timeout))

    # -- turning failures into guidance (in the process that ran the test) ---------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        kata = self.curriculum.kata_of_path(item.path)
        if kata is None or call.excinfo is None or not report.failed:
            return
        todo = find_todo(call.excinfo, self.package, self.root)
        if todo is not None:
            report.user_properties = [*report.user_properties, todo.as_property()]
            report.longrepr = f"not implemented yet: {todo.function} ({todo.where})"
        elif is_timeout(call.excinfo):
            report.longrepr = timeout_text(call.excinfo, kata.timeout, kata.timeout_advice, self.root)

    def pytest_report_teststatus(self, report: pytest.TestReport):
        if report.failed and todo_of(report) is not None:
            return "not implemented", "T", "NOT IMPLEMENTED"
        return None

    # -- the controller's tally ----------------------------------------------------------

    def _run_of(self, nodeid: str) -> KataRun | None:
        kata = self.curriculum.kata_of_path(self.root / nodeid.split("::")[0])
        if kata is None:
            return None
        if kata.id not in self.runs:
            expected = self.release.expected_tests(kata) if self.release else None
            self.runs[kata.id] = KataRun(kata, expected=expected)
        return self.runs[kata.id]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        run = self._run_of(report.nodeid)
        if run is not None:
            run.add(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and (run := self._run_of(report.nodeid)) is not None:
            run.collection_errors += 1

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Under xdist the controller decides every verdict, so it never imports learner code."""
        if not self.is_worker and self.config.pluginmanager.has_plugin("dsession"):
            implementation.forbid_import()

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.progress is not None and self.progress.problem:
            lines.append(f"tinytorch: {self.progress.problem}")
        if not self._touches_katas():
            return lines
        where = self.package.relative_to(self.root).as_posix()
        lines.append(f"tinytorch: testing the {self.impl} implementation in {where}/")
        if self.selection.focus is not None:
            lines += display.connection_map(self.curriculum, self.curriculum.get(self.selection.focus))
        return lines

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        self.session = session
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        for kata_id, run in self.runs.items():
            modified = self.release.modified(self.curriculum, run.kata) if self.release else []
            if modified:
                self.modified[kata_id] = modified
            self.verdicts[kata_id] = (run.ok and kata_id in self.selection.whole
                                      and not interrupted and not modified)
        if self._a_kata_did_not_pass() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.impl == "student" and not interrupted:
            self._record_progress()
        if self.config.option.tinytorch_report:
            path = self.config.invocation_params.dir / self.config.option.tinytorch_report
            report.write(path, report.build(self.curriculum, self.runs, self.verdicts, self.impl,
                                            self.statuses, self.modified))
        if not self.selection.katas and self.config.option.tinytorch_next:
            session.exitstatus = pytest.ExitCode.OK

    def _a_kata_did_not_pass(self) -> bool:
        """Whether a kata this run collected whole fell short, though pytest may call it a pass.

        Skipped tests, tests missing from a release's record and a kata that collected
        nothing all leave pytest's own exit status at 0; a kata's verdict decides instead.
        """
        if self.config.option.collectonly:
            return False
        return any(not self.verdicts.get(kata_id, False) for kata_id in self.selection.whole)

    def _record_progress(self) -> None:
        assert self.progress is not None
        before = self._current()
        student = implementation.package_dir(self.root, "student")
        changed = False
        for kata_id, run in self.runs.items():
            if kata_id in self.given:
                continue
            if self.verdicts[kata_id]:
                self.progress.record_pass(run.kata, fingerprint(self.curriculum, run.kata, student))
                changed = True
            elif run.failed or run.collection_errors or run.not_done or run.missing:
                changed |= self.progress.passed.pop(kata_id, None) is not None
        if changed or self.progress.problem:
            self.progress.save()
        self.statuses = statuses(self.curriculum, self.progress, student, self.given)
        after = self._current()
        if after is not None and after is not before:
            self.unlocked_now = after

    def _current(self) -> Kata | None:
        return next((k for k in self.curriculum.katas if self.statuses[k.id] == Status.CURRENT), None)

    def _current_on_disk(self) -> str | None:
        """The label of the kata the progress file now says is current."""
        student = implementation.package_dir(self.root, "student")
        state = statuses(self.curriculum, Progress.load(self.root), student, self.given)
        return next((k.label for k in self.curriculum.katas if state[k.id] == Status.CURRENT), None)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """After a ``--next`` run that unlocked a kata, go on with it (see :mod:`.advance`)."""
        if (self.session is None or self.unlocked_now is None or advance.is_child()
                or not config.option.tinytorch_next or self.impl != "student"
                or config.option.tinytorch_report
                or self.session.exitstatus != pytest.ExitCode.OK):
            return
        self.session.exitstatus = advance.go_on(config.invocation_params.args,
                                                config.invocation_params.dir, self._current_on_disk,
                                                self.unlocked_now.label)

    # -- what the learner reads at the end -----------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter):
        if self.config.option.tinytorch_next and not self.is_worker:
            _show_first_failure_only(terminalreporter)
        yield
        if self.is_worker:
            return
        self._summary(terminalreporter)
        for warning in self.progress.warnings if self.progress else ():
            terminalreporter.line(f"tinytorch: {warning}", yellow=True)

    def _summary(self, terminal) -> None:
        ran = [k for k in self.curriculum.katas if k.id in self.runs]
        locked = sum(1 for k in self.curriculum.katas
                     if self.statuses[k.id] == Status.LOCKED and not self.selection.contains(k))
        if not ran and not self.config.option.tinytorch_next:
            return
        terminal.section("tinytorch", sep="=")
        if not ran and self.config.option.tinytorch_next:
            if self.selection.katas:
                terminal.line("No kata test ran: run `pytest --next` in the repository's root folder.")
            else:
                terminal.line("Every kata has passed. Well done! `pytest --progress` shows them all.")
        for kata in ran:
            self._kata_summary(terminal, self.runs[kata.id])
        if self.impl == "student" and self.progress is not None:
            terminal.line("")
            terminal.line(display.progress_bar(self.curriculum, self.statuses))
        if locked:
            terminal.line(f"{locked} kata{'s' if locked > 1 else ''} locked: they unlock one at a "
                          f"time as you pass the current one (`pytest --progress`).")

    def _kata_summary(self, terminal, run: KataRun) -> None:
        kata = run.kata
        terminal.line("")
        if kata.id in self.modified:
            terminal.line(f"Kata {kata.label}: its tests differ from the release "
                          f"({', '.join(self.modified[kata.id])}), so it is not graded. Restore "
                          f"them (e.g. `git checkout -- katas/{kata.name}`).", red=True)
            return
        if kata.id in self.started_stale:
            terminal.line(f"Kata {kata.label} passed before; your code changed since, so it was "
                          f"checked again.")
        if self.verdicts.get(kata.id):
            terminal.line(f"Kata {kata.label} passed ({run.tests_passed} tests).", green=True)
            table = run.metrics()
            if table:
                terminal.line(display.metrics_table(kata, table))
            if self.impl == "student" and kata.id == self.selection.focus:
                self._after_pass(terminal, kata)
            return
        if run.ok:
            terminal.line(f"Kata {kata.label}: the tests that ran passed; run the whole kata "
                          f"(`pytest --kata {kata.id}`) to record it.")
            return
        if run.not_done:
            terminal.line(f"Kata {kata.label}: {len(run.not_done)} test(s) skipped or xfailed, which "
                          f"counts as not done: a kata passes when every one of its tests runs "
                          f"and passes.", red=True)
        if run.missing and not run.failed:
            terminal.line(f"Kata {kata.label}: {len(run.missing)} of the release's "
                          f"{len(run.expected or ())} tests did not run (for example "
                          f"{min(run.missing)}).", red=True)
        todos = run.sorted_todos()
        written = self._written(kata)
        done = f"{written[0]} of {written[1]} functions written; " if written else ""
        passed = f"{run.tests_passed} test{'s' if run.tests_passed != 1 else ''} passed"
        terminal.line(f"Kata {kata.label}: {done}{passed}, {run.tests_failing} failing, "
                      f"{len(run.todo_tests)} stopped at a stub.", yellow=True)
        if todos:
            terminal.line("Not implemented yet (the first ones the tests reach):")
            width = max(len(todo.where) for todo in todos)
            for todo in todos:
                terminal.line(f"  {todo.where.ljust(width)}  {todo.function}")
        if run.collection_errors:
            terminal.line(f"{run.collection_errors} test file(s) could not be imported: "
                          f"see the errors above.")
        self._hint(terminal, kata, todos[0].function if todos else None, written)

    def _written(self, kata: Kata) -> tuple[int, int] | None:
        """(functions written, functions in the kata) for the learner's code, from the stubs."""
        total = functions.total(kata, self.root, self.release) if self.impl == "student" else None
        if not total:
            return None
        return max(total - len(functions.still_to_write(kata, self.package)), 0), total

    def _hint(self, terminal, kata: Kata, first_unfinished: str | None,
              written: tuple[int, int] | None) -> None:
        """The hint for the first function still to write, else the latest one revealed."""
        shown = self.progress.hints_shown(kata) if self.progress else 1
        share = written[0] / written[1] if written else None
        number = (functions.hint_for(kata, first_unfinished, share) if first_unfinished else None) or shown
        about = f" (on {first_unfinished})" if first_unfinished and number != shown else ""
        terminal.line(f"Hint {number} of {len(kata.hints)}{about}: {kata.hints[number - 1]}")
        if shown < len(kata.hints):
            terminal.line("(`pytest --hint` shows the hints so far and reveals the next one.)")

    def _after_pass(self, terminal, kata: Kata) -> None:
        references = [f"reference/tinytorch/{module}" for module in kata.modules
                      if (self.root / "reference" / "tinytorch" / module).exists()]
        if references:
            terminal.line(f"Compare your code with the reference solution: {', '.join(references)}")
        if kata.reflect:
            terminal.line("Reflect:")
            for question in kata.reflect:
                terminal.line(f"  - {question}")
        if self.unlocked_now is not None:
            terminal.line(f"Unlocked: kata {self.unlocked_now.label}. Run `pytest --next`.", green=True)


def _show_first_failure_only(terminal) -> None:
    """In --next, show the first real failure in full and the others as one line each."""
    failed = terminal.stats.get("failed", [])
    failed.sort(key=lambda r: (r.location[0], r.location[1] or 0, r.nodeid))
    for later in failed[1:]:
        crash = getattr(later.longrepr, "reprcrash", None)
        if crash is not None:
            later.longrepr = f"{crash.path}:{crash.lineno}: {crash.message}"
