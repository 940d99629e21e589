"""The kata engine's role in the process that decides: the run's plan, the tally, the verdicts.

One controller per run, in the main pytest process. It reads the student's progress, applies
the gate (which katas this run may collect) and hands that plan to whoever runs the tests (a
:class:`.tester.KataTester` in this process, or each xdist worker). Reports come back to it;
it decides which katas passed, sets the exit status from those verdicts, records progress,
writes ``--tinytorch-report`` and has :mod:`.summary` print what the student reads. Under
xdist it never imports the student's code, so nothing the graded code does can decide its
grade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import advance, display, implementation, report, selection, summary, tracks
from .integrity import ReleaseRecord
from .manifest import Kata, ManifestError
from .outcomes import todo_of
from .progress import Progress, Status, fingerprint, statuses
from .results import KataRun
from .tester import Plan

WORKER_KEY = "tinytorch"  # the plan, in xdist's workerinput


class KataController:
    """One run's decisions: the gate, the tally, the verdicts, progress and the report."""

    def __init__(self, config: pytest.Config, scope: tracks.Scope, progress: Progress) -> None:
        self.config = config
        self.curriculum = scope.curriculum
        self.root = scope.curriculum.root
        self.impl: str = config.option.tinytorch_impl
        self.progress = progress
        self.given = scope.given
        self.release = ReleaseRecord.load(self.root)
        self.package = implementation.package_dir(self.root, self.impl)
        student = implementation.package_dir(self.root, "student")
        self.statuses = statuses(self.curriculum, progress, student, scope.given)
        self.started_stale = {k for k, s in self.statuses.items() if s == Status.STALE}
        self.runs: dict[str, KataRun] = {}
        self.verdicts: dict[str, bool] = {}
        self.modified: dict[str, list[str]] = {}
        self.unlocked_now: Kata | None = None
        self.session: pytest.Session | None = None
        try:
            self.selection = selection.choose(
                self.curriculum, self.statuses,
                kata=config.option.tinytorch_kata,
                next_kata=config.option.tinytorch_next,
                no_gate=config.option.tinytorch_no_gate,
                paths=self._argument_paths(),
                narrowed=self._narrowed(),
            )
        except (selection.GateError, ManifestError) as error:
            raise pytest.UsageError(str(error)) from None
        self.plan = Plan(self.selection.katas, scope.given_modules())

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
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_KEY] = self.plan.as_workerinput()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Under xdist this process decides every verdict, so it never imports student code."""
        if self.config.pluginmanager.has_plugin("dsession"):
            implementation.forbid_import()

    # -- the tally -----------------------------------------------------------------------

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

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        if report.failed and todo_of(report) is not None:
            return "not implemented", "T", "NOT IMPLEMENTED"
        return None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.progress.problem:
            lines.append(f"tinytorch: {self.progress.problem}")
        if not self._touches_katas():
            return lines
        where = self.package.relative_to(self.root).as_posix()
        lines.append(f"tinytorch: testing the {self.impl} implementation in {where}/")
        if self.selection.focus is not None:
            lines += display.connection_map(self.curriculum, self.curriculum.get(self.selection.focus))
        return lines

    # -- the verdicts --------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
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
        before = self.current()
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
        after = self.current()
        if after is not None and after is not before:
            self.unlocked_now = after

    def current(self) -> Kata | None:
        return next((k for k in self.curriculum.katas if self.statuses[k.id] == Status.CURRENT), None)

    def _current_on_disk(self) -> str | None:
        """The label of the kata the progress file now says is current."""
        student = implementation.package_dir(self.root, "student")
        state = statuses(self.curriculum, Progress.load(self.root), student, self.given)
        return next((k.label for k in self.curriculum.katas if state[k.id] == Status.CURRENT), None)

    # -- what the student reads, and what comes next -------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter):
        if self.config.option.tinytorch_next:
            summary.show_first_failure_only(terminalreporter)
        result = yield
        summary.write(terminalreporter, self)
        for warning in self.progress.warnings:
            terminalreporter.line(f"tinytorch: {warning}", yellow=True)
        return result

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
