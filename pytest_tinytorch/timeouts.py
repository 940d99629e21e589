"""Time limits that stop slow code the same way on every platform.

Why this module exists: pytest-timeout has two ways to stop a test. Its ``signal`` method
needs SIGALRM, which Windows lacks; its ``thread`` method, the only one there, dumps every
stack and kills the whole process. A student's seven-loop convolution (the very code the
time limits exist for) would then cost the whole run: no advice, no summary, no progress,
and under ``-n 2`` a dead worker. A slow loop must cost the one test it is in, nothing more.

So for kata tests the plugin takes over pytest-timeout's timer hooks (pytest-timeout still
reads each test's limit from its marker, and still tells when a debugger is running, which
lifts the limit), and stops a test in three steps:

1. **Stop it where it is.** A :class:`Watchdog` thread waits for the test's deadline while
   its setup, call or teardown runs (only then, so the exception lands inside pytest's
   ``CallInfo`` and never in pytest's own bookkeeping) and raises :class:`KataTimeout` in
   the thread running the test: through SIGALRM where POSIX has it (which also breaks a
   ``time.sleep`` or a blocking read), elsewhere through CPython's
   ``PyThreadState_SetAsyncExc``, which the interpreter checks between bytecodes. The slow
   code of the katas is Python loops: they stop within milliseconds, with the traceback of
   where they were, and the test fails with the kata's advice like any other failure.
2. **Give up a process only when nothing else works.** One C call that never returns to
   the interpreter cannot be interrupted. If the test has not stopped :func:`grace` seconds
   later, an xdist worker writes where it is stuck and exits; the controller turns the crash
   into the same timeout report for that test, xdist starts a new worker and the kata runs
   on. A serial run prints the report and ends: it has no other process to continue in.
   ``faulthandler`` backs the watchdog up for C code that holds the GIL, which no Python
   thread can preempt.
3. **Do not wait out the same slow function twice.** When a test ran out of time in a
   function of the framework (``tinytorch/``), later tests of the same kata that enter that
   function fail at once, with a short "skipped-as-failed" report: a profile hook watches for
   the function while they run. They count as failed; the kata cannot pass until it is fast.

Why not run every kata test in a worker process the engine can replace? Interrupting in
place keeps a serial run serial (no second interpreter, no second NumPy import, the same
output), costs nothing when no test is slow, and covers the slow code katas actually meet;
the worker process is still there, as the fallback for code stuck in C under ``-n``.

The milestones (``milestones/common.py``) use the same :class:`Watchdog` for their time limit.
"""

from __future__ import annotations

import ast
import ctypes
import faulthandler
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, ClassVar

import pytest

from .implementation import package_dir
from .manifest import Curriculum, Kata
from .outcomes import STOPPED_IN, TIMEOUT_PREFIX, SlowFunction, place, slow_again_text, stopped_text

MAX_GRACE_SECONDS = 30.0
BACKSTOP_SECONDS = 5.0  # faulthandler's turn, after the watchdog's own
WORKER_KEY = "tinytorch_timeouts"  # in xdist's workerinput: the dump folder, the known slow functions
STUCK = ("It was still running {grace:g} s later, in code that Python cannot interrupt (one long "
         "NumPy call, a sleep, a blocking read), so {ending}")
STUCK_IN_WORKER = "its worker process was replaced and the other tests ran on."
STUCK_IN_RUN = ("the run ends here: the tests after it did not run and no progress was recorded. "
                "With `-n 2` only this test would be lost.")


def grace(limit: float) -> float:
    """How long a stopped test may take to stop before its process is given up."""
    return min(limit, MAX_GRACE_SECONDS)


class KataTimeout(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Raised in a test that ran out of its time limit.

    A ``pytest.fail`` exception, so a BaseException: an ``except Exception`` in the code
    under test does not swallow it, and pytest reports a failure. An asynchronous exception
    is raised by type, so each limit has a subclass that writes its message (:meth:`after`).
    """

    limit: ClassVar[float] = 0.0

    def __init__(self) -> None:
        super().__init__(f"{TIMEOUT_PREFIX}{self.limit:g}s) from the tinytorch watchdog")

    @classmethod
    def after(cls, limit: float) -> type[KataTimeout]:
        return _timeout_types.setdefault(limit, type(cls.__name__, (cls,), {"limit": limit}))


_timeout_types: dict[float, type[KataTimeout]] = {}


# -- stopping a thread at a deadline ------------------------------------------------------

OnStuck = Callable[[FrameType | None], None]


@dataclass
class _Shot:
    thread: int
    deadline: float  # time.monotonic()
    exception: type[BaseException]
    grace: float
    on_stuck: OnStuck
    by_signal: bool
    fired: bool = False


def _by_signal() -> bool:
    return hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()


def _raise_in(thread: int, exception: type[BaseException]) -> None:
    """Make ``thread`` raise ``exception`` at its next check of the interpreter's eval breaker."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exception))


def _land() -> None:
    """Does nothing, but calling it lets a pending asynchronous exception land: the
    interpreter checks for one as a Python function starts."""
    __tracebackhide__ = True


def _debugger_attached() -> bool:
    """pytest-timeout's own test: a trace function from a known debugger (pdb, pydevd, ...)."""
    import pytest_timeout

    return bool(pytest_timeout.is_debugging())


def can_stop_threads() -> bool:
    """Whether this interpreter lets one thread raise an exception in another (CPython does)."""
    return hasattr(ctypes, "pythonapi") and hasattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc")


class Watchdog:
    """Raises an exception in a thread at its deadline, and gives the process up if it is stuck.

    :meth:`arm` and :meth:`disarm` are called by the thread to watch; a daemon thread does
    the waiting. At the deadline the watched thread gets the exception; ``grace`` seconds
    later, if it is still armed, ``on_stuck`` is called (in the watchdog's thread) with the
    watched thread's current frame, and is expected to end the process.

    The exception can land at any bytecode of the watched thread, including inside
    :meth:`disarm`. So the watched thread holds no lock but a C one, in ``with`` blocks the
    interpreter does not break into, and talks to the watchdog through a C queue. A shot
    that was fired is never taken back: :meth:`disarm` lets it land there, inside the block
    being watched, never later in code that does not expect it. (Taking it back with
    ``PyThreadState_SetAsyncExc(thread, NULL)`` also leaves CPython 3.11's eval breaker set
    with nothing to raise, which spins forever at the next function start under a profiler.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._shot: _Shot | None = None
        self._previous_handler: Any = None
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float, exception: type[BaseException], grace: float,
            on_stuck: OnStuck) -> None:
        __tracebackhide__ = True  # a deadline already past stops the thread right here
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="tinytorch watchdog",
                                            daemon=True)
            self._thread.start()
        shot = _Shot(threading.get_ident(), deadline, exception, grace, on_stuck, _by_signal())
        if shot.by_signal:
            self._previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
        with self._lock:
            self._shot = shot
        self._wakeups.put(None)
        if shot.by_signal:  # after the shot is in place: the handler looks for it
            signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 1e-6))

    def disarm(self) -> None:
        """Stop watching; a shot already fired lands here. Safe to repeat."""
        __tracebackhide__ = True
        with self._lock:
            shot, self._shot = self._shot, None
        if shot is None:
            return
        self._wakeups.put(None)
        if shot.by_signal:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous_handler)
        elif shot.fired:
            _land()

    @contextmanager
    def watching(self, deadline: float, exception: type[BaseException], grace: float,
                 on_stuck: OnStuck) -> Iterator[None]:
        """Arm for the ``with`` block. The exception may land inside the first disarm and stop
        it halfway; the second, in the handler, finishes it (the shot is spent by then)."""
        __tracebackhide__ = True
        try:
            self.arm(deadline, exception, grace, on_stuck)
            try:
                yield
            finally:
                self.disarm()
        except BaseException:
            self.disarm()
            raise

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True  # the report shows where the test was, not this handler
        shot = self._shot  # read in the watched thread, the one that disarms
        if shot is not None:
            raise shot.exception()

    def _watch(self) -> None:
        while True:
            shot = self._shot
            now = time.monotonic()
            if shot is None:
                self._wakeups.get()
            elif now < shot.deadline:
                self._wait(shot.deadline - now)
            elif not shot.fired:
                with self._lock:
                    if self._shot is shot:
                        shot.fired = True
                        if not shot.by_signal:
                            _raise_in(shot.thread, shot.exception)
            elif now < shot.deadline + shot.grace:
                self._wait(shot.deadline + shot.grace - now)
            else:
                with self._lock:  # held to the end: the watched thread cannot disarm meanwhile
                    if self._shot is shot:
                        shot.on_stuck(sys._current_frames().get(shot.thread))

    def _wait(self, seconds: float) -> None:
        try:
            self._wakeups.get(timeout=seconds)
        except queue.Empty:
            pass


# -- whose code was running ---------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    filename: str  # as the code object has it
    line: int
    name: str
    first_line: int  # 0 when unknown (read from a dump)


def frames_of_traceback(tb: TracebackType | None) -> list[Frame]:
    """The frames of a traceback, innermost last, without those that hide (the watchdog's)."""
    frames = []
    while tb is not None:
        if "__tracebackhide__" not in tb.tb_frame.f_locals:
            frames.append(_frame(tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def frames_of_stack(frame: FrameType | None) -> list[Frame]:
    """The frames of a running thread's stack, innermost last."""
    frames = []
    while frame is not None:
        frames.append(_frame(frame, frame.f_lineno))
        frame = frame.f_back
    return frames[::-1]


def _frame(frame: FrameType, line: int) -> Frame:
    code = frame.f_code
    return Frame(code.co_filename, line, getattr(code, "co_qualname", code.co_name),
                  code.co_firstlineno)


def slow_function(frames: list[Frame], curriculum: Curriculum) -> tuple[SlowFunction, Frame] | None:
    """The innermost of ``frames`` in the framework (yours or the reference), and whose it is."""
    root = curriculum.root.resolve()
    folders = [package_dir(root, impl) for impl in ("student", "reference")]
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        folder = next((f for f in folders if path.is_relative_to(f)), None)
        if folder is None:
            continue
        if not frame.first_line:
            frame = Frame(frame.filename, frame.line, *function_at(path, frame.line, frame.name))
        kata = curriculum.kata_of_module(path.relative_to(folder).as_posix())
        slow = SlowFunction(frame.name, path.relative_to(root).as_posix(), frame.line,
                            frame.first_line, kata.label if kata else None,
                            kata.timeout_advice if kata else None)
        return slow, frame
    return None


def innermost(frames: list[Frame], root: Path) -> str | None:
    """``path:line`` of the innermost frame, from ``root`` when it is inside."""
    return place(Path(frames[-1].filename).resolve(), frames[-1].line, root) if frames else None


# -- what a given-up worker leaves for the controller -------------------------------------

_THREAD = re.compile(r"^(?:Current thread|Thread) (0x[0-9a-fA-F]+)")
_FILE = re.compile(r'^\s+File "(.*)", line (\d+) in (.+)$')


def write_dump_header(file: IO[str], nodeid: str, thread: int) -> None:
    """Start the worker's dump file over: the running test and its thread. faulthandler
    appends the stacks after it, if the process has to be given up."""
    file.seek(0)
    file.truncate()
    file.write(f"{nodeid}\n{thread:#x}\n")
    file.flush()


def read_dump(text: str, nodeid: str) -> list[Frame] | None:
    """The stuck thread's frames (innermost last) from a dump, or None if there is no dump of
    ``nodeid`` (the worker died of something else)."""
    lines = text.splitlines()
    if len(lines) < 3 or lines[0] != nodeid:
        return None
    thread, frames, inside = int(lines[1], 16), [], False
    for line in lines[2:]:
        if (header := _THREAD.match(line)) is not None:
            inside = int(header.group(1), 16) == thread
        elif inside and (file := _FILE.match(line)) is not None:
            frames.append(Frame(file.group(1), int(file.group(2)), file.group(3), 0))
    return frames[::-1] or None


def function_at(path: Path, line: int, name: str) -> tuple[str, int]:
    """The qualified name and first line (its first decorator's, as ``co_firstlineno``) of the
    innermost function ``name`` around ``line`` in ``path``: a dump names only ``co_name``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return name, line
    found = (name, line)
    scopes: list[tuple[ast.AST, str]] = [(tree, "")]
    while scopes:
        node, prefix = scopes.pop()
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
            if not first <= line <= (child.end_lineno or child.lineno):
                continue
            qualname = prefix + child.name
            if isinstance(child, ast.ClassDef):
                scopes.append((child, qualname + "."))
                continue
            if child.name == name:
                found = (qualname, first)
            scopes.append((child, qualname + ".<locals>."))
    return found


# -- the pytest side ----------------------------------------------------------------------

def _copy_of_stderr() -> int | None:
    """The terminal's stderr, copied before pytest captures it for each test (None if there
    is no file behind it)."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            return os.dup(stream.fileno()) if stream is not None else None
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            continue
    return None


@dataclass
class _Running:
    item: pytest.Item
    kata: Kata
    limit: float
    deadline: float
    exception: type[KataTimeout]
    stopped: bool = False


@dataclass(frozen=True)
class _Known:
    """A slow function, how the profile hook recognizes it, and the test it stopped."""

    filename: str
    first_line: int
    slow: SlowFunction
    test: str


class KataTimeouts:
    """The plugin object: kata tests get the :class:`Watchdog` instead of pytest-timeout's timers.

    The same object runs in every process: the serial run, each xdist worker (stopping
    tests) and the xdist controller (turning a given-up worker into a timeout report).
    """

    def __init__(self, config: pytest.Config, curriculum: Curriculum) -> None:
        self.curriculum = curriculum
        self.root = curriculum.root.resolve()
        self.watchdog = Watchdog()
        self.running: _Running | None = None
        self.debugging = False
        self.known: dict[str, list[_Known]] = {}  # kata id -> its slow functions
        self.dumps: Path | None = None  # the controller's folder for the workers' dumps
        self.dump: IO[str] | None = None  # a worker's own dump file
        self.stderr: int | None = None  # a serial run's terminal, beside pytest's capturing
        worker = getattr(config, "workerinput", None)
        if worker is not None and WORKER_KEY in worker:
            shared = worker[WORKER_KEY]
            # open for the whole run: faulthandler writes to it from C, when Python cannot
            self.dump = open(Path(shared["folder"]) / f"{worker['workerid']}.txt", "w",  # noqa: SIM115
                             encoding="utf-8")
            for kata_id, known in shared["known"].items():
                self.known[kata_id] = [_Known(k["filename"], k["first_line"],
                                              SlowFunction(**k["slow"]), k["test"]) for k in known]
        elif worker is None:
            self.stderr = _copy_of_stderr()

    def pytest_unconfigure(self) -> None:
        if self.dump is not None:
            self.dump.close()
        if self.stderr is not None:
            os.close(self.stderr)
        if self.dumps is not None:
            shutil.rmtree(self.dumps, ignore_errors=True)

    # -- pytest-timeout's timer, per test -------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_timeout_set_timer(self, item: pytest.Item, settings: Any) -> bool | None:
        kata = self.curriculum.kata_of_path(item.path)
        if kata is None or not can_stop_threads():
            return None
        if self.debugging or (not settings.disable_debugger_detection and _debugger_attached()):
            return True  # no limit while a person is debugging, as pytest-timeout does
        limit = float(settings.timeout)
        self.running = _Running(item, kata, limit, time.monotonic() + limit,
                                KataTimeout.after(limit))
        backstop = limit + grace(limit) + BACKSTOP_SECONDS
        if self.dump is not None:
            write_dump_header(self.dump, item.nodeid, threading.get_ident())
            faulthandler.dump_traceback_later(backstop, exit=True, file=self.dump)
        elif self.stderr is not None:
            faulthandler.dump_traceback_later(backstop, exit=True, file=self.stderr)
        return True

    @pytest.hookimpl(optionalhook=True)
    def pytest_timeout_cancel_timer(self, item: pytest.Item) -> bool | None:
        if self.running is None or self.running.item is not item:
            return None
        self.watchdog.disarm()
        faulthandler.cancel_dump_traceback_later()
        self.running = None
        return True

    def pytest_enter_pdb(self) -> None:
        """No time limit from now on: a person is debugging (as pytest-timeout does)."""
        self.debugging = True
        self.running = None
        self.watchdog.disarm()
        faulthandler.cancel_dump_traceback_later()

    # -- the watchdog, per phase ------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._phase(item, watch_slow=True))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._phase(item, watch_slow=True))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from self._phase(item, watch_slow=False))

    def _phase(self, item: pytest.Item, watch_slow: bool) -> Generator[None, object, object]:
        running = self.running
        if running is None or running.item is not item or running.stopped:
            return (yield)
        try:
            with (self.watchdog.watching(running.deadline, running.exception,
                                         grace(running.limit), self._stuck),
                  self._slow_functions_fail(running.kata) if watch_slow else nullcontext()):
                return (yield)
        except KataTimeout as timeout:
            running.stopped = True
            self._blame(running, timeout)
            raise

    def _blame(self, running: _Running, timeout: KataTimeout) -> None:
        """Name the framework's function the test was stopped in; remember it for the kata."""
        found = slow_function(frames_of_traceback(timeout.__traceback__), self.curriculum)
        if found is None:
            return
        slow, frame = found
        setattr(timeout, STOPPED_IN, slow)
        self._remember(running.kata.id, _Known(frame.filename, frame.first_line, slow,
                                               running.item.nodeid))

    def _remember(self, kata_id: str, known: _Known) -> None:
        kept = self.known.setdefault(kata_id, [])
        if all((k.filename, k.first_line) != (known.filename, known.first_line) for k in kept):
            kept.append(known)

    @contextmanager
    def _slow_functions_fail(self, kata: Kata) -> Iterator[None]:
        """Fail the test at once if it enters a function that ran out of time in this kata."""
        known = {(k.filename, k.first_line): k for k in self.known.get(kata.id, ())}
        if not known or sys.getprofile() is not None:
            yield
            return

        def on_call(frame: FrameType, event: str, arg: object) -> None:
            if event == "call":
                code = frame.f_code
                hit = known.get((code.co_filename, code.co_firstlineno))
                if hit is not None:  # raising here also removes this profile function
                    pytest.fail(slow_again_text(hit.slow, hit.test), pytrace=False)

        sys.setprofile(on_call)
        try:
            yield
        finally:
            sys.setprofile(None)

    def _stuck(self, frame: FrameType | None) -> None:
        """Called by the watchdog when a stopped test is still running: end this process."""
        running = self.running
        assert running is not None
        if self.dump is not None:  # the controller reads it (pytest_handlecrashitem)
            faulthandler.dump_traceback(file=self.dump, all_threads=True)
        elif self.stderr is not None:
            frames = frames_of_stack(frame)
            found = slow_function(frames, self.curriculum)
            text = stopped_text(running.limit, running.kata.timeout_advice,
                                innermost(frames, self.root), found[0] if found else None,
                                note=STUCK.format(grace=grace(running.limit), ending=STUCK_IN_RUN))
            os.write(self.stderr, f"\n{running.item.nodeid} FAILED\n{text}\n".encode())
        os._exit(pytest.ExitCode.TESTS_FAILED)

    # -- the xdist controller ---------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.dumps is None:
            self.dumps = Path(tempfile.mkdtemp(prefix="tinytorch-timeouts-"))
        known = {kata_id: [asdict(k) for k in kept] for kata_id, kept in self.known.items()}
        node.workerinput[WORKER_KEY] = {"folder": str(self.dumps), "known": known}

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A worker that was given up while running a kata test: report that test's timeout."""
        kata = self.curriculum.kata_of_path(self.root / crashitem.split("::")[0])
        worker = getattr(report, "node", None)
        if kata is None or worker is None or self.dumps is None:
            return
        dump = self.dumps / f"{worker.gateway.id}.txt"
        try:
            text = dump.read_text(encoding="utf-8")
        except OSError:
            return
        dump.unlink()
        frames = read_dump(text, crashitem)
        if frames is None:
            return
        found = slow_function(frames, self.curriculum)
        if found is not None:
            slow, frame = found
            self._remember(kata.id, _Known(frame.filename, frame.first_line, slow, crashitem))
        report.longrepr = stopped_text(
            kata.timeout, kata.timeout_advice, innermost(frames, self.root),
            found[0] if found else None,
            note=STUCK.format(grace=grace(kata.timeout), ending=STUCK_IN_WORKER))
        report.location = (report.location[0], None, crashitem.split("::", 1)[-1])  # its title
