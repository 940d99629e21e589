"""The kata engine's role in a process that runs tests: a serial run, or an xdist worker.

It imports the implementation the plan chose, collects only the katas the plan chose, gives
each kata test its kata's time limit, and turns a failure into guidance where it happens (a
stub reached: "not implemented yet"; a time limit: the kata's advice). The guidance travels
to the controller inside the test report.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import implementation
from .manifest import Curriculum
from .outcomes import find_todo, is_timeout, timeout_text


@dataclass(frozen=True)
class Plan:
    """What one run collects, decided once by the controller and sent to every worker."""

    katas: tuple[str, ...]  # the katas collected
    given_modules: tuple[str, ...]  # modules imported from the reference (a track's given katas)

    def as_workerinput(self) -> dict[str, list[str]]:
        return {"katas": list(self.katas), "given_modules": list(self.given_modules)}

    @classmethod
    def from_workerinput(cls, data: dict[str, list[str]]) -> Plan:
        return cls(tuple(data["katas"]), tuple(data["given_modules"]))


class KataTester:
    """Registered in each process that runs kata tests."""

    def __init__(self, config: pytest.Config, curriculum: Curriculum, plan: Plan) -> None:
        self.curriculum = curriculum
        self.root = curriculum.root
        self.plan = plan
        self.package = implementation.activate(self.root, config.option.tinytorch_impl, plan.given_modules)

    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        """A kata outside the plan is never imported (a locked kata cannot break collection)."""
        kata = self.curriculum.kata_of_path(collection_path)
        if kata is not None and kata.id not in self.plan.katas:
            return True
        return None

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Each kata test gets its kata's limit; :mod:`.timeouts` enforces it on every platform."""
        for item in items:
            kata = self.curriculum.kata_of_path(item.path)
            if kata is not None and item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(kata.timeout))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        kata = self.curriculum.kata_of_path(item.path)
        if kata is None or call.excinfo is None or not report.failed:
            return report
        todo = find_todo(call.excinfo, self.package, self.root)
        if todo is not None:
            report.user_properties = [*report.user_properties, todo.as_property()]
            report.longrepr = f"not implemented yet: {todo.function} ({todo.where})"
        elif is_timeout(call.excinfo):
            report.longrepr = timeout_text(call.excinfo, kata.timeout, kata.timeout_advice, self.root)
        return report
