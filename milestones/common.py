"""What every milestone script shares: choosing the code to run, measuring it, reporting it.

A milestone imports this module FIRST, before NumPy, and starts with :func:`start`::

    import common                                   # pins BLAS to one thread
    RUN = common.start(__file__, __doc__)           # parses the command line, picks tinytorch
    from tinytorch.core import Tensor               # now the chosen tinytorch is imported

Command line, the same for every milestone:

- ``--impl student|reference``: whose ``tinytorch`` runs, yours (``tinytorch/``, the default)
  or the reference solution (``reference/tinytorch/``);
- ``--smoke``: a tiny, fast version that exercises everything (training, evaluation, the
  JSON file) but does not enforce the success criterion;
- ``--out PATH``: where the JSON results go (default ``milestones/results/<script>.json``);
- ``--plot PATH``: also save the training curves as a PNG (needs matplotlib, the optional
  ``plot`` extra: ``pip install -e ".[plot]"``; without it the run says so and goes on);
- ``--time-limit SECONDS``: stop a run that takes longer (default: the milestone's entry in
  :data:`TIME_LIMITS`, several times its budget; 0 for no limit).

Then :meth:`Run.measure` runs the training while recording its wall time and the process's
peak resident memory (RSS, sampled by ``memory_profiler``), :meth:`Run.progress` prints one
plain line per epoch, and :meth:`Run.finish` prints the success criteria, writes the JSON
and returns the exit code: 0 when every criterion is met (or in a smoke run), 1 otherwise.
:func:`main` turns that into the process's exit status, a function you have not written yet
into a message rather than a traceback, and a run far slower than intended into a message
naming the function that was running (exit code 4) rather than a wait without end. It stops
the run with the katas' watchdog (``pytest_tinytorch.timeouts``), so it works the same on
every platform.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import math
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
# The scripts run as `python milestones/NN_name.py`, which puts only milestones/ on the path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pytest_tinytorch import timeouts
from pytest_tinytorch.implementation import CHOICES, activate
from pytest_tinytorch.manifest import ManifestError, load
from pytest_tinytorch.measure import BLAS_THREAD_VARIABLES, pin_blas_threads
from pytest_tinytorch.outcomes import stopped_text
from pytest_tinytorch.progress import Progress

# BLAS reads these when NumPy is first imported: from here on, so that the times a milestone
# reports are those of one core (unless you set the variables yourself).
pin_blas_threads()

RESULTS_DIR = ROOT / "milestones" / "results"
MEMORY_SAMPLE_SECONDS = 0.02
EXIT_CRITERION_NOT_MET = 1
EXIT_NOT_IMPLEMENTED = 2
EXIT_TIME_LIMIT = 4  # 3 is 04_cnn_1998's: CIFAR-10 is not on disk
EXIT_USAGE = 5
# Wall-clock seconds from start() to the end of a run, past which it is stopped: several times
# what each milestone budgets (or takes with the reference), so that only code far slower than
# intended meets them. A script with variants names its variant (04's --data).
TIME_LIMITS = {
    "01_perceptron_1958": 300.0,
    "02_xor_1969": 300.0,
    "03_mlp_1986": 900.0,  # budget: 3 minutes of training
    "03_mlp_1986 mnist": 3600.0,  # budget: 10 minutes of training; the reference takes 5
    "04_cnn_1998": 1200.0,  # TinyDigits: the reference takes under a minute
    "04_cnn_1998 cifar10": 4 * 3600.0,  # budget: 30 minutes on 2 cores; 67 on 1 under load
    "05_transformer_2017": 3000.0,  # budget: 10 minutes of training
    "06_mlperf_2018": 1800.0,  # includes training the 1998 CNN when its file is missing
}
SMOKE_TIME_LIMIT = 300.0


@dataclass(frozen=True)
class Criterion:
    """One success condition: ``value`` against ``threshold``.

    Met when ``value >= threshold``, or ``value <= threshold`` if ``at_most`` is set (for a
    milestone that shows something CANNOT be learned, or for a time limit). ``unit`` says how
    to print both: ``"%"`` for an accuracy (a fraction in [0, 1]), ``"x"`` for a ratio, or
    any other unit such as ``"ms"``, printed after the number.
    """

    name: str
    value: float
    threshold: float
    at_most: bool = False
    unit: str = "%"

    @property
    def met(self) -> bool:
        return self.value <= self.threshold if self.at_most else self.value >= self.threshold

    def describe(self) -> str:
        relation = "<=" if self.at_most else ">="
        margin = (self.threshold - self.value) if self.at_most else (self.value - self.threshold)
        if self.unit == "%":
            return (f"{self.name}: {self.value:.1%} (needs {relation} {self.threshold:.0%}, "
                    f"margin {100 * margin:+.1f} points)")
        suffix = "x" if self.unit == "x" else f" {self.unit}"
        return (f"{self.name}: {self.value:.3g}{suffix} (needs {relation} {self.threshold:g}{suffix}, "
                f"margin {margin:+.3g}{suffix})")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


def parse_arguments(description: str, argv: Sequence[str] | None = None,
                    default_impl: str = "student") -> argparse.Namespace:
    """The milestone command line (see the module docstring); ``out`` is None unless given."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", choices=CHOICES, default=default_impl,
                        help=f"whose tinytorch to run: yours (tinytorch/) or the reference "
                             f"solution (reference/tinytorch/); default: {default_impl}")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny, fast run that exercises everything; the success "
                             "criterion is reported but not enforced")
    parser.add_argument("--out", type=Path, default=None, metavar="PATH",
                        help="where to write the JSON results "
                             "(default: milestones/results/<script>.json)")
    parser.add_argument("--plot", type=Path, default=None, metavar="PNG",
                        help="also save the training curves as a PNG (needs matplotlib)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                        help="stop the run after SECONDS (exit code 4); default: this "
                             "milestone's limit (milestones/README.md); 0: no limit")
    return parser.parse_args(argv)


def options_parser(script: str) -> argparse.ArgumentParser:
    """A parser for a script's OWN options, those beside the common command line."""
    return argparse.ArgumentParser(add_help=False, prog=Path(script).name,
                                   description="Options of this script (besides the common "
                                               "ones below):")


def split_options(parser: argparse.ArgumentParser,
                  argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Parse the script's own options out of ``argv``; the rest is for :func:`start`.

    With ``--help`` the script's own options are printed first; :func:`start` then prints
    the common ones and exits.
    """
    options, rest = parser.parse_known_args(argv)
    if {"-h", "--help"} & set(rest):
        parser.print_help()
        print()
    return options, rest


class Run:
    """One run of a milestone: its settings, its measurements, its report."""

    def __init__(self, name: str, impl: str, smoke: bool, out: Path,
                 plot: Path | None = None, time_limit: float = 0.0) -> None:
        self.name = name
        self.impl = impl
        self.smoke = smoke
        self.out = out
        self.plot = plot
        self.time_limit = time_limit  # seconds from now; 0: none
        self.started = time.perf_counter()
        self.train_seconds = 0.0
        self.peak_rss_mib = 0.0

    def measure(self, train: Callable[[], Any]) -> Any:
        """Run ``train()`` and return its result, recording its wall time and the peak RSS.

        ``memory_profiler`` samples the resident memory of this whole process (data, model,
        every intermediate array) from a helper process every ``MEMORY_SAMPLE_SECONDS``.
        Calling ``measure`` again adds the time and keeps the highest peak.
        """
        from memory_profiler import memory_usage

        began = time.perf_counter()
        # max_iterations=1: without it memory_profiler runs a function that ends within a
        # few samples AGAIN, with a finer interval, and training would happen twice.
        peak_mib, result = memory_usage((train, (), {}), interval=MEMORY_SAMPLE_SECONDS,
                                        max_usage=True, retval=True, max_iterations=1)
        self.train_seconds += time.perf_counter() - began
        self.peak_rss_mib = max(self.peak_rss_mib, float(peak_mib))
        return result

    def progress(self, epoch: int, epochs: int, *figures: str, every: int = 1,
                 label: str = "") -> None:
        """Print one plain line for ``epoch`` (1-based) of ``epochs``: the figures, the time.

        With ``every`` > 1 only every ``every``-th epoch is shown (and the first and last).
        """
        if epoch % every and epoch not in (1, epochs):
            return
        width = len(str(epochs))
        prefix = f"{label}  " if label else ""
        elapsed = time.perf_counter() - self.started
        print(f"{prefix}epoch {epoch:>{width}}/{epochs}  " + "  ".join(figures) +
              f"  [{elapsed:.1f}s]", flush=True)

    def finish(self, results: dict[str, Any], criteria: Sequence[Criterion],
               curves: dict[str, Sequence[float]] | None = None) -> int:
        """Print the criteria, write the JSON results (and the ``curves`` plot) and return the
        exit code.

        A smoke run is too short to meet a criterion: it reports them, never fails on them.
        ``curves`` maps a label to one value per epoch (or step), drawn if ``--plot`` is given.
        """
        if self.plot is not None:
            save_plot(self.plot, self.name, curves or {})
        met = all(criterion.met for criterion in criteria)
        payload = {
            "milestone": self.name,
            "impl": self.impl,
            "smoke": self.smoke,
            "criteria": [criterion.as_json() for criterion in criteria],
            "criteria_met": met,
            "criteria_enforced": not self.smoke,
            "results": results,
            "train_seconds": round(self.train_seconds, 3),
            "wall_seconds": round(time.perf_counter() - self.started, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "environment": environment(),
            "command": [Path(sys.executable).name, *sys.argv],
        }
        write_json(self.out, payload)

        print("\nSuccess criteria:")
        for criterion in criteria:
            print(f"  [{'met' if criterion.met else 'NOT MET'}] {criterion.describe()}")
        print(f"Training took {self.train_seconds:.1f} s (wall), peak RSS "
              f"{self.peak_rss_mib:.0f} MiB; results written to {self.out}")
        if self.impl == "student" and not self.smoke:
            record_in_progress(self.name, criteria)
        if self.smoke:
            print("Smoke run: the criteria are reported but not enforced.")
            return 0
        if not met:
            failed = "; ".join(c.describe() for c in criteria if not c.met)
            print(f"\nFAILED: {self.name} did not meet its success criterion: {failed}",
                  file=sys.stderr)
            return EXIT_CRITERION_NOT_MET
        print(f"PASSED: {self.name} ({self.impl} implementation).")
        return 0


def record_in_progress(name: str, criteria: Sequence[Criterion]) -> None:
    """Note a full run on the student's code in their progress file (``pytest --progress``)."""
    progress = Progress.load(ROOT)
    progress.record_milestone(name, result="; ".join(c.describe() for c in criteria),
                              achieved=all(c.met for c in criteria))
    if not progress.save():
        print(f"(not recorded in your progress: {progress.warnings[-1]})")


_started: list[Run] = []  # the run start() made, which main() watches


def start(script: str, docstring: str | None, argv: Sequence[str] | None = None,
          default_impl: str = "student", variant: str | None = None) -> Run:
    """Parse the command line, make ``import tinytorch`` load the chosen implementation and
    switch autograd on (the one place a milestone does).

    Call it before anything imports ``tinytorch``. The description shown by ``--help`` is the
    first paragraph of the milestone's docstring. ``variant`` picks the time limit of a
    script that has several (``TIME_LIMITS["04_cnn_1998 cifar10"]``).
    """
    name = Path(script).stem
    arguments = parse_arguments((docstring or name).strip().split("\n\n")[0], argv, default_impl)
    time_limit = arguments.time_limit
    if time_limit is None:
        time_limit = SMOKE_TIME_LIMIT if arguments.smoke else TIME_LIMITS.get(
            f"{name} {variant}" if variant else name, TIME_LIMITS.get(name, 0.0))
    if arguments.impl == "reference" and not (ROOT / "reference" / "tinytorch").is_dir():
        print("--impl reference needs the full TinyTorch repository with reference/; this is a "
              "student release without the solutions.", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    activate(ROOT, arguments.impl)
    from tinytorch.core.autograd import enable_autograd  # only now: activate chose whose tinytorch

    enable_autograd()  # every milestone trains (or, the perceptron, runs as the trained ones do)
    out = arguments.out if arguments.out is not None else RESULTS_DIR / f"{name}.json"
    # Where processes are spawned (macOS, Windows), memory_profiler's sampling process runs
    # the script's top level again: it must import the same tinytorch, but say nothing.
    if multiprocessing.current_process().name == "MainProcess":
        smoke = ", smoke run" if arguments.smoke else ""
        header = f"{name}: {arguments.impl} implementation{smoke}"
        print(header + "\n" + "-" * len(header), flush=True)
    run = Run(name, arguments.impl, arguments.smoke, out, arguments.plot, time_limit)
    _started[:] = [run]
    return run


def save_plot(path: Path, title: str, curves: dict[str, Sequence[float]]) -> bool:
    """Draw ``curves`` (label -> values per epoch) into a PNG at ``path`` if matplotlib exists."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no window, works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        print('No plot: matplotlib is not installed (pip install -e ".[plot]").')
        return False
    figure, axis = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        axis.plot(range(1, len(values) + 1), values, label=label)
    axis.set_xlabel("epoch")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    print(f"Training curves saved to {path}")
    return True


class TimeLimitReached(BaseException):
    """Raised in a milestone that runs past its time limit. A BaseException, so that an
    ``except Exception`` in the code it runs does not swallow it."""


def main(run_milestone: Callable[[], int]) -> NoReturn:
    """Exit with ``run_milestone()``'s code; explain a ``NotImplementedError`` (exit code 2)
    and a run stopped at its time limit (exit code 4)."""
    run = _started[0] if _started else None
    try:
        if run is not None and run.time_limit > 0:
            code = _within_time_limit(run, run_milestone)
        else:
            code = run_milestone()
    except NotImplementedError as error:
        reference = ((ROOT / "reference" / "tinytorch").is_dir()
                     and (run is None or run.impl != "reference"))
        print(f"\nThis milestone runs code you have not written yet:\n  {error}\n"
              f"Finish that kata first (pytest --next)"
              + (", or watch the reference solution run with --impl reference." if reference else "."),
              file=sys.stderr)
        code = EXIT_NOT_IMPLEMENTED
    except TimeLimitReached as stop:
        assert run is not None
        _stop_children()
        print(time_limit_text(run, timeouts.frames_of_traceback(stop.__traceback__)),
              file=sys.stderr)
        code = EXIT_TIME_LIMIT
    sys.exit(code)


def _within_time_limit(run: Run, run_milestone: Callable[[], int]) -> int:
    """``run_milestone()``, stopped by :class:`TimeLimitReached` when ``run`` is out of time."""
    left = run.time_limit - (time.perf_counter() - run.started)
    grace = timeouts.grace(run.time_limit)

    def stuck(frame: FrameType | None) -> None:
        _stop_children()
        note = (f"It was still running {grace:g} s later, in code that Python cannot interrupt "
                f"(one long NumPy call, a sleep, a blocking read).")
        print(time_limit_text(run, timeouts.frames_of_stack(frame), note), file=sys.stderr,
              flush=True)
        os._exit(EXIT_TIME_LIMIT)

    # for C code that holds the GIL, which the watchdog's thread cannot preempt
    faulthandler.dump_traceback_later(max(left, 0.0) + grace + timeouts.BACKSTOP_SECONDS, exit=True)
    try:
        with timeouts.Watchdog().watching(time.monotonic() + left, TimeLimitReached, grace, stuck):
            return run_milestone()
    finally:
        faulthandler.cancel_dump_traceback_later()


def time_limit_text(run: Run, frames: list[timeouts.Frame], note: str = "") -> str:
    """What a run stopped at its time limit says: where it was, whose code, what to try.

    Where: in the framework, else in the milestone's own script; never in this module or
    the watchdog, where a limit that passed before the training began stops it.
    """
    try:
        found = timeouts.slow_function(frames, load(ROOT))
    except ManifestError:
        found = None
    slow = found[0] if found else None
    machinery = (Path(__file__).resolve(), ROOT / "pytest_tinytorch")
    scripts = [frame for frame in frames if Path(frame.filename).resolve().is_relative_to(ROOT)
               and not any(Path(frame.filename).resolve().is_relative_to(m) for m in machinery)]
    hints = [note] if note else []
    if slow is not None and slow.kata:
        hints.append(f"The tests of kata {slow.kata} stop slow code sooner, with advice: "
                     f"pytest --kata {slow.kata.split()[0]}.")
    hints.append("If your machine is simply slow, give it more time: --time-limit SECONDS "
                 "(0 for no limit).")
    text = stopped_text(run.time_limit, "", timeouts.innermost(scripts, ROOT), slow,
                        note="\n".join(hints), whose_limit=f"{run.name}'s")
    return "\n" + text


def _stop_children() -> None:
    """End helper processes (memory_profiler's sampler), which would keep this one alive."""
    for child in multiprocessing.active_children():
        child.terminate()


def environment() -> dict[str, Any]:
    """What the figures depend on: versions, machine, BLAS threads, the tinytorch used."""
    import numpy

    import tinytorch

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "blas_threads": {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES},
        "tinytorch": str(Path(tinytorch.__file__).parent),
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented JSON to ``path``, creating its folder if needed.

    JSON has no NaN or infinity (a diverging run produces both): they are written as null.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(payload), indent=2, allow_nan=False) + "\n",
                    encoding="utf-8")


def _finite(value: Any) -> Any:
    """``value`` with every float that is NaN or infinite, at any depth, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
