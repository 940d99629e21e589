"""Turning raw failures into guidance: unimplemented stubs and timeouts.

A stub that still raises ``NotImplementedError`` is not a bug; it is work to do. Such a
failure is reported once per function as "not implemented yet" instead of a traceback. A
test stopped by pytest-timeout gets the kata's advice on what usually makes it slow.
Both happen where the failure is made (in the xdist worker), and travel to the controller in
the report's ``user_properties``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

TODO_PROPERTY = "tinytorch_todo"
TIMEOUT_PREFIX = "Timeout (>"


@dataclass(frozen=True)
class Todo:
    """A function that still raises NotImplementedError, and where."""

    function: str
    where: str  # "tinytorch/core/tensor.py:42"

    def as_property(self) -> tuple[str, dict]:
        return TODO_PROPERTY, {"function": self.function, "where": self.where}


def todo_of(report: pytest.TestReport | pytest.CollectReport) -> Todo | None:
    for key, value in getattr(report, "user_properties", ()):
        if key == TODO_PROPERTY:
            return Todo(**value)
    return None


def unimplemented_cause(error: BaseException) -> NotImplementedError | None:
    """``error`` itself if it is a NotImplementedError, else the first one in its chain.

    The chain matters because NotImplementedError is a RuntimeError: a test that expects
    ``pytest.raises(RuntimeError, match=...)`` catches a stub's error and fails with a
    message mismatch, whose context is the stub's NotImplementedError.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, NotImplementedError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def find_todo(excinfo: pytest.ExceptionInfo[BaseException], package: Path, root: Path) -> Todo | None:
    """A Todo when ``excinfo`` is, or arose from, a NotImplementedError raised inside ``package``."""
    cause = unimplemented_cause(excinfo.value)
    if cause is None:
        return None
    if cause is not excinfo.value:
        excinfo = pytest.ExceptionInfo.from_exception(cause)
    raised_at = excinfo.traceback[-1]
    path = Path(str(raised_at.path)).resolve()
    try:
        path.relative_to(package.resolve())
    except ValueError:
        return None
    message = str(excinfo.value)
    function = message.split(":", 1)[0] if ":" in message else raised_at.name
    location = f"{path.relative_to(root.resolve()).as_posix()}:{raised_at.lineno + 1}"
    return Todo(function=function, where=location)


def is_timeout(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return excinfo.typename == "Failed" and str(excinfo.value).startswith(TIMEOUT_PREFIX)


def timeout_text(excinfo: pytest.ExceptionInfo[BaseException], limit: float, advice: str,
                 root: Path) -> str:
    """The report of a test the kata's time limit stopped: where it was, and what to try."""
    visible = excinfo.traceback.filter(excinfo)
    where = ""
    if len(visible):
        entry = visible[-1]
        path = Path(str(entry.path))
        shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        where = f" while running {shown}:{entry.lineno + 1}"
    return (f"Stopped after the kata's time limit of {limit:g} s{where}.\n"
            f"{advice}")
