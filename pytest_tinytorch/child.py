"""Running the student's code in a fresh Python, for the kata tests that need a new interpreter.

A stub reached in the child is work to do, exactly as in the test's own process: when the
child fails on a stub's ``NotImplementedError``, :func:`run_python` raises
:class:`StubInChild` here, carrying the function and the line the child's traceback names,
and the engine reports "not implemented yet" instead of a failed test and a traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .stubs import STUB_MESSAGE

LAST_LINE = re.compile(rf"^NotImplementedError: (?P<function>[\w.]+): {re.escape(STUB_MESSAGE)}", re.MULTILINE)
FRAME = re.compile(r'^  File "(?P<path>[^"]+)", line (?P<line>\d+)', re.MULTILINE)


class StubInChild(NotImplementedError):
    """A stub's NotImplementedError, raised in a child process at ``path``:``line``."""

    def __init__(self, function: str, path: Path, line: int) -> None:
        super().__init__(f"{function}: {STUB_MESSAGE} (reached in a child process)")
        self.function, self.path, self.line = function, path, line


def run_python(script: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with this Python in ``cwd``; a stub reached there raises :class:`StubInChild`."""
    completed = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                               text=True, timeout=timeout, check=False)
    stub = stub_reached(completed.stderr)
    if completed.returncode != 0 and stub is not None:
        raise stub
    return completed


def stub_reached(stderr: str) -> StubInChild | None:
    """The stub a child's traceback ends in, if it ends in one."""
    endings = list(LAST_LINE.finditer(stderr))
    frames = FRAME.findall(stderr[: endings[-1].start()]) if endings else []
    if not frames:
        return None
    last, (path, line) = endings[-1], frames[-1]
    return StubInChild(last["function"], Path(path), int(line))
