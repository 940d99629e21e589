"""The Olympics command line: ``python -m tinytorch.systems.olympics submit / verify / leaderboard``.

::

    python -m tinytorch.systems.olympics submit MODEL.npz --name NAME [--out SUBMISSION.json]
    python -m tinytorch.systems.olympics verify SUBMISSION.json ... [--leaderboard BOARD.json]
                                         [--task T] [--test-set FILE] [--event E]
    python -m tinytorch.systems.olympics leaderboard BOARD.json ... [--models FOLDER ...]
                                         [--test-set FILE] [--event E] [--out MERGED.json]

An instructor runs it on thirty strangers' files at once, so it behaves like a batch job:

- **One line per problem, never a traceback.** A mistyped option, a missing file, a
  pickled model: one line on stderr. The exit code is 0 when everything went through, 1
  when a submission (or, with ``--models``, a board entry) was refused while the others
  went on, and 2 when the command could not run at all.
- **One bad submission does not stop the batch.** ``verify`` reports each refused
  submission by name, whatever went wrong inside it, verifies the others and still writes
  the board.
- **One task per board.** ``verify --task tinytalks`` verifies TinyTalks models (the
  digits without it); a submission whose model is for the other task is refused by name.
  ``leaderboard`` takes the task from the board.
- **An instructor-held test set.** ``verify --test-set FILE`` counts the accuracy on
  digits (a file in TinyDigits' format) or questions (a text in TinyTalks' format) only
  the instructor has; the claims are still checked on the shipped ones.
  ``leaderboard --models FOLDER`` re-checks every entry against the model files: a file
  with the entry's digest must exist, have its bytes, and give its accuracy on the test
  set it names; the entries it cannot tie to a file are refused. Latency is not
  re-checked: it is the verifier's own measurement.
- **The BLAS on one thread.** OpenBLAS and MKL read their thread count from environment
  variables once, when NumPy is imported, and ``python -m`` imports ``tinytorch`` (and so
  NumPy) before any line of this module runs. A matrix product that gets one core in one
  measurement and two in the next makes latencies incomparable. So the command
  (:func:`run_pinned`) starts a second Python with every variable of
  ``BLAS_THREAD_VARIABLES`` set to 1, unless they all are already. Called in a running
  Python (:func:`main`), ``verify`` refuses to measure unless they are, and, where the
  optional threadpoolctl can ask the loaded BLAS, unless it reports one thread.
  (TinyTorch does not depend on threadpoolctl, so it cannot set the count after import.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .acceleration import BLAS_THREAD_VARIABLES
from .olympics import (
    DIGITS,
    TASK_KEY,
    TASKS,
    TEST_SET_KEY,
    TINYTALKS,
    Claims,
    Entry,
    Leaderboard,
    TestSet,
    combined_score,
    machine_differences,
    model_digest,
    model_task,
    rules_benchmark,
    task_test_set,
    verify_on,
    write_submission,
)

EVENT_NAMES = list(dict.fromkeys(event for task in TASKS.values() for event in task.events))

PROGRAM = "python -m tinytorch.systems.olympics"


class UsageError(Exception):
    """A command line the parser refused."""


class Parser(argparse.ArgumentParser):
    """argparse, except that a bad option raises :class:`UsageError` instead of printing
    the usage and exiting: :func:`main` reports it in one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def one_line(error: BaseException, path: Path | None = None) -> str:
    """The error as one line: its message with every run of whitespace made one space, the
    exception's type in front unless it is an ordinary ``ValueError`` or ``OSError``, and a
    leading ``f"{path}: "`` dropped (the caller names the path already)."""
    text = " ".join(str(error).split())
    if path is not None and text.startswith(f"{path}: "):
        text = text[len(f"{path}: "):]
    return text if isinstance(error, (ValueError, OSError)) else f"{type(error).__name__}: {text}"


def say(line: str) -> None:
    print(line, file=sys.stderr)


def parser() -> Parser:
    root = Parser(prog=PROGRAM, description="TinyTorch Olympics: submit, verify and rank models.")
    commands = root.add_subparsers(dest="command", required=True)
    submit = commands.add_parser("submit", help="measure a model file and write its submission")
    submit.add_argument("model", type=Path, help="a model file written by save_model")
    submit.add_argument("--name", required=True, help="the entrant's name")
    submit.add_argument("--out", type=Path, default=None, help="the submission JSON, in the model's "
                        "folder (default: next to the model, suffix .json)")
    submit.set_defaults(run=submit_command)
    verify = commands.add_parser("verify", help="re-run submissions and rank them")
    verify.add_argument("submissions", type=Path, nargs="+")
    verify.add_argument("--leaderboard", type=Path, default=None,
                        help="a leaderboard file to add the verified entries to (created if missing)")
    verify.add_argument("--task", choices=list(TASKS), default=DIGITS,
                        help="the task the submissions are for (default: digits)")
    verify.add_argument("--test-set", type=Path, default=None, help="count the accuracy on these "
                        "digits (TinyDigits' format: x_test, y_test) or questions (a text in "
                        "TinyTalks' format) instead of the shipped ones")
    verify.add_argument("--event", choices=EVENT_NAMES, default="combined")
    verify.set_defaults(run=verify_command)
    board = commands.add_parser("leaderboard", help="merge leaderboard files and print a ranking")
    board.add_argument("boards", type=Path, nargs="+")
    board.add_argument("--models", type=Path, nargs="+", default=None, metavar="FOLDER",
                       help="re-check every entry against the model files in these folders")
    board.add_argument("--test-set", type=Path, default=None,
                       help="the digits or questions the re-check counts on (default: the shipped ones)")
    board.add_argument("--event", choices=EVENT_NAMES, default="combined")
    board.add_argument("--out", type=Path, default=None, help="write the merged leaderboard here")
    board.set_defaults(run=leaderboard_command)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0, 1 or 2, see the module docstring)."""
    try:
        options = parser().parse_args(argv)
    except UsageError as error:
        say(f"error: {error}")
        return 2
    command: Callable[[argparse.Namespace], int] = options.run
    try:
        return command(options)
    except Exception as error:  # noqa: BLE001 (whatever stopped the command, the user gets one line)
        say(f"error: {one_line(error)}")
        return 2


def run_pinned() -> int:
    """``python -m tinytorch.systems.olympics``: :func:`main` with the BLAS on one thread.

    If every variable of ``BLAS_THREAD_VARIABLES`` is "1", NumPy already read them: run
    :func:`main` here. Otherwise run the same command line (``sys.orig_argv``) in a new
    Python whose environment sets them all to "1", and return its exit code.
    """
    if all(os.environ.get(name) == "1" for name in BLAS_THREAD_VARIABLES):
        return main(sys.argv[1:])
    environment = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    try:
        return subprocess.run([sys.executable, *sys.orig_argv[1:]], env=environment, check=False).returncode
    except KeyboardInterrupt:
        return 130


# -- the three commands ---------------------------------------------------------------------

def submit_command(options: argparse.Namespace) -> int:
    submission = write_submission(options.model, options.name, options.out)
    claims = submission.claims
    task = model_task(submission.model_path)
    if task == TINYTALKS:
        figures = (f"exact answers {100 * claims.accuracy:.1f} %, {claims.model_bytes:,} bytes, latency "
                   f"{1e3 * claims.latency_seconds:.2f} ms per token with the KV cache")
    else:
        figures = (f"accuracy {100 * claims.accuracy:.1f} %, {claims.model_bytes:,} bytes, latency "
                   f"{1e6 * claims.latency_seconds:.1f} us, {claims.throughput:,.0f} images/s")
    print(f"{submission.path}: {submission.name}, {figures}, score {format_score(claims, task)}")
    return 0


def verify_command(options: argparse.Namespace) -> int:
    require_event(options.event, options.task)
    bench = rules_benchmark()
    require_one_blas_thread(bench.environment)
    test_set = task_test_set(options.task, options.test_set)
    board = open_board(options.leaderboard, {**bench.environment, TEST_SET_KEY: test_set.sha256,
                                             TASK_KEY: test_set.task})
    rejected = 0
    for path in options.submissions:
        try:
            entry = verify_on(path, test_set, bench)
        except Exception as error:  # noqa: BLE001 (this submission's problem, whatever it is: the others go on)
            rejected += 1
            say(f"{path}: rejected, {one_line(error, path).removeprefix('rejected, ')}")
            continue
        status = "verified" if board.add(entry) else "duplicate (the first measurement stands)"
        print(f"{path}: {entry.name}: {status}")
    if options.leaderboard is not None:
        board.save(options.leaderboard)
    print(board.table(options.event))
    return 1 if rejected else 0


def leaderboard_command(options: argparse.Namespace) -> int:
    board = Leaderboard.load(options.boards[0])
    for path in options.boards[1:]:
        board.merge(Leaderboard.load(path))
    require_event(options.event, board.rules.name)
    refused = 0
    if options.models is not None:
        board, refused = recheck(board, options.models, task_test_set(board.rules.name, options.test_set))
    if options.out is not None:
        board.save(options.out)
    print(board.table(options.event))
    return 1 if refused else 0


def require_event(event: str, task: str) -> None:
    """``ValueError`` unless ``event`` is one of ``task``'s (the digits rank throughput,
    TinyTalks the latency without the cache)."""
    if event not in TASKS[task].events:
        raise ValueError(f"--event {event}: the {task} task has the events {', '.join(TASKS[task].events)}")


def format_score(claims: Claims, task: str) -> str:
    score = combined_score(claims.accuracy, claims.latency_seconds, claims.model_bytes, task)
    return f"below {TASKS[task].min_accuracy:.0%} accuracy" if score is None else f"{score:+.2f}"


def require_one_blas_thread(environment: dict[str, Any]) -> None:
    """``ValueError`` unless the measured environment (kata 19's ``capture_environment``)
    shows every BLAS thread variable at "1" and no BLAS known to run more threads."""
    unpinned = [f"{name}={value}" for name, value in environment["blas_thread_env"].items() if value != "1"]
    threads = environment["blas_threads_in_use"]
    if unpinned or threads not in (1, "unknown"):
        found = ", ".join(unpinned) if unpinned else f"the BLAS runs {threads} threads"
        raise ValueError(f"the rules measure with the BLAS on one thread, and this Python's is not "
                         f"pinned ({found}): run `{PROGRAM} verify ...`, which pins it, or set "
                         f"{', '.join(BLAS_THREAD_VARIABLES)} to 1 before Python starts")


def open_board(path: Path | None, environment: dict[str, Any]) -> Leaderboard:
    """The leaderboard at ``path`` (a new one if there is none), measured under the same
    conditions as ``environment`` (this machine, this test set)."""
    if path is None or not path.exists():
        return Leaderboard(environment=environment)
    board = Leaderboard.load(path)
    differences = machine_differences(board.environment, environment)
    if differences:
        raise ValueError(f"{path} was measured on another machine or test set ({'; '.join(differences)}): "
                         f"its figures cannot be ranked with these")
    return board


# -- re-checking a board against the model files --------------------------------------------

def recheck(board: Leaderboard, folders: Sequence[Path], test_set: TestSet) -> tuple[Leaderboard, int]:
    """The board's entries that the model files in ``folders`` bear out, and how many were
    refused (each one reported in a line). See :func:`recheck_entry`."""
    files = model_files(folders)
    kept, refused = Leaderboard(environment=board.environment), 0
    for entry in board.entries:
        try:
            problem = recheck_entry(entry, files, test_set)
        except Exception as error:  # noqa: BLE001 (a file that matches the digest but cannot be run)
            problem = one_line(error)
        if problem is None:
            kept.add(entry)
        else:
            refused += 1
            say(f"refused entry {entry.name!r} ({entry.model_sha256[:12]}): {problem}")
    return kept, refused


def model_files(folders: Sequence[Path]) -> dict[str, Path]:
    """Every readable ``*.npz`` in ``folders`` by its :func:`model_digest`; an unreadable
    file is reported in a line and skipped. ``ValueError`` for a folder that is not one."""
    files: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ValueError(f"--models {folder}: not a folder")
        for path in sorted(folder.glob("*.npz")):
            try:
                files.setdefault(model_digest(path), path)
            except (ValueError, OSError) as error:
                say(f"skipped {path}: {one_line(error, path)}")
    return files


def recheck_entry(entry: Entry, files: dict[str, Path], test_set: TestSet) -> str | None:
    """None if a model file ties ``entry`` to a verification, else the field that does not
    hold: a file with its digest, of its size, giving its accuracy on the test set it names."""
    path = files.get(entry.model_sha256)
    if path is None:
        return "field 'model_sha256': no model file with this digest in the folders given (--models)"
    size = path.stat().st_size
    if size != entry.model_bytes:
        return f"field 'model_bytes' is {entry.model_bytes:,}, the file {path} has {size:,} bytes"
    if entry.test_set_sha256 != test_set.sha256:
        return (f"field 'test_set_sha256' is {entry.test_set_sha256[:16]}..., the digits given here "
                f"are {test_set.sha256[:16]}... (--test-set)")
    correct = test_set.count(path)
    if correct / len(test_set) != entry.accuracy:
        return (f"field 'accuracy' is {entry.accuracy}, the file {path} gives {correct / len(test_set)} "
                f"({correct} of {len(test_set)} correct)")
    return None
