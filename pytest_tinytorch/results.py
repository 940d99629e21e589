"""Tallying reports into per-kata results, in the controlling process.

Reports arrive in any order under xdist; everything shown is sorted by where the test is
written, so a run with ``-n 2`` prints the same as a serial one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .manifest import Kata
from .metrics import Metric, from_report
from .outcomes import Todo, todo_of


@dataclass
class KataRun:
    """What happened to one kata's tests in this run."""

    kata: Kata
    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    todos: dict[str, Todo] = field(default_factory=dict)
    todo_tests: set[str] = field(default_factory=set)  # failed only by reaching a stub
    not_done: set[str] = field(default_factory=set)  # skipped, xfailed or xpassed: not done
    collection_errors: int = 0
    expected: frozenset[str] | None = None  # the tests a release recorded for this kata
    _metrics: list[tuple[tuple, int, Metric]] = field(default_factory=list)

    def add(self, report: pytest.TestReport) -> None:
        if report.skipped or hasattr(report, "wasxfail"):
            self.not_done.add(report.nodeid)
        elif report.failed:
            self.failed.add(report.nodeid)
            todo = todo_of(report)
            if todo is not None:
                self.todos.setdefault(todo.where, todo)
                self.todo_tests.add(report.nodeid)
        elif report.when == "call" and report.passed:
            self.passed.add(report.nodeid)
            position = (report.location[0], report.location[1] or 0, report.nodeid)
            self._metrics += [(position, index, m) for index, m in enumerate(from_report(report))]

    @property
    def tests_passed(self) -> int:
        return len(self.passed - self.failed)

    @property
    def tests_failed(self) -> int:
        return len(self.failed)

    @property
    def tests_failing(self) -> int:
        """Failed tests that reached real code, not just an unimplemented stub."""
        return len(self.failed - self.todo_tests)

    @property
    def missing(self) -> frozenset[str]:
        """Tests the release recorded that did not pass (never ran, or ran and failed)."""
        return frozenset() if self.expected is None else self.expected - (self.passed - self.failed)

    @property
    def ok(self) -> bool:
        """Every test passed: none failed or was skipped, and none the release recorded is missing.

        Outside a release the caller also checks that the kata was collected whole.
        """
        return (not self.failed and not self.not_done and not self.collection_errors
                and bool(self.passed) and not self.missing)

    def metrics(self) -> list[Metric]:
        return [metric for _, _, metric in sorted(self._metrics, key=lambda m: (m[0], m[1]))]

    def sorted_todos(self) -> list[Todo]:
        return sorted(self.todos.values(), key=lambda t: (t.where.rsplit(":", 1)[0],
                                                          int(t.where.rsplit(":", 1)[1])))
