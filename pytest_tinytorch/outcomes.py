"""Turning raw failures into guidance: unimplemented stubs and timeouts.

A stub that still raises ``NotImplementedError`` is not a bug; it is work to do. Such a
failure is reported once per function as "not implemented yet" instead of a traceback. A
test stopped by its time limit (see :mod:`.timeouts`) gets advice on what usually makes it
slow: the function of the framework it was running, and the advice of the kata that asks
for that function (a triple-loop matmul found by kata 05's tests is kata 01's code, so it
gets kata 01's advice, not kata 05's about backward). Both happen where the failure is made
(in the xdist worker), and travel to the controller in the report's ``user_properties``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .child import StubInChild

TODO_PROPERTY = "tinytorch_todo"
TIMEOUT_PREFIX = "Timeout (>"
STOPPED_IN = "tinytorch_stopped_in"  # a timeout exception's attribute: the SlowFunction it stopped


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
    if isinstance(cause, StubInChild):  # reached in a child process: its traceback says where
        path, line, function = cause.path.resolve(), cause.line, cause.function
    else:
        raised_at = pytest.ExceptionInfo.from_exception(cause).traceback[-1]
        path, line = Path(str(raised_at.path)).resolve(), raised_at.lineno + 1
        message = str(cause)
        function = message.split(":", 1)[0] if ":" in message else raised_at.name
    if not path.is_relative_to(package.resolve()):
        return None
    return Todo(function=function, where=f"{path.relative_to(root.resolve()).as_posix()}:{line}")


@dataclass(frozen=True)
class SlowFunction:
    """A function of the framework (``tinytorch/``) that a test ran out of time in."""

    name: str  # "Tensor.matmul"
    path: str  # "tinytorch/core/tensor.py", from the project's root
    line: int  # the line it was running when it was stopped
    first_line: int  # the line of its ``def`` (or first decorator)
    kata: str | None  # "01 Tensor": the kata whose module it is, if any
    advice: str | None  # that kata's timeout advice

    @property
    def defined(self) -> str:
        return f"{self.path}:{self.first_line}"


def is_timeout(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    return (isinstance(excinfo.value, pytest.fail.Exception)
            and str(excinfo.value).startswith(TIMEOUT_PREFIX))


def timeout_text(excinfo: pytest.ExceptionInfo[BaseException], limit: float, advice: str,
                 root: Path) -> str:
    """The report of a test the kata's time limit stopped: where it was, and what to try.

    ``limit`` is the kata's; a test with a limit of its own was stopped by that one, which
    the exception of :mod:`.timeouts` carries.
    """
    limit = getattr(excinfo.value, "limit", limit)
    slow: SlowFunction | None = getattr(excinfo.value, STOPPED_IN, None)
    where = None
    visible = excinfo.traceback.filter(excinfo)
    if slow is None and len(visible):
        where = place(Path(str(visible[-1].path)), visible[-1].lineno + 1, root)
    return stopped_text(limit, advice, where, slow)


def place(path: Path, line: int, root: Path) -> str:
    """``path:line`` as the student reads it: from the project's root when it is inside."""
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    return f"{shown}:{line}"


def stopped_text(limit: float, advice: str, where: str | None, slow: SlowFunction | None,
                 note: str = "", whose_limit: str = "the kata's") -> str:
    """The one wording of a timeout: the limit, where the code was, whose code, the advice.

    ``where`` is used when the code was not the framework's (``slow`` is None); ``note``
    says what else happened or what else to try; ``whose_limit`` is a milestone's name when
    it is a milestone that ran out of time.
    """
    if slow is not None:
        whose = f" (your code for kata {slow.kata})" if slow.kata else ""
        where = f"{slow.path}:{slow.line}, in {slow.name}{whose}"
        advice = slow.advice or advice
    running = f" while running {where}" if where else ""
    lines = [f"Stopped after {whose_limit} time limit of {limit:g} s{running}.", advice, note]
    return "\n".join(line for line in lines if line)


def slow_again_text(slow: SlowFunction, test: str) -> str:
    """The report of a later test that entered a function which already ran out of time."""
    return (f"skipped-as-failed: same slow function {slow.name} ({slow.defined}), which ran out "
            f"of the time limit in {test}; not waited out again. Make it fast first.")
