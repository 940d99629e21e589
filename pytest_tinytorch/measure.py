"""Measuring real code: peak memory with tracemalloc, time with perf_counter, and work
counted in lines of Python or calls of a function.

The first two never mix: tracemalloc slows every allocation down, so a timing taken while
it traces is meaningless and :func:`seconds` refuses to take one.

Times move with the machine's load; bytes and counts do not. A kata shows its times in the
metrics table and asserts what it teaches with :func:`peak_bytes`, :func:`python_lines` or
:func:`call_clock` (a time is asserted only where the expected effect is at least ten
times the threshold, such as Python loops against one NumPy call).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_blas_threads() -> None:
    """Ask every BLAS NumPy may use for one thread, unless the user chose otherwise.

    Takes effect only before NumPy is first imported, so the plugin calls it at start-up.
    """
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


def peak_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``fn()`` under tracemalloc; return its result and the peak bytes it allocated.

    NumPy reports its buffers to tracemalloc, so the figure counts array memory exactly.
    """
    if tracemalloc.is_tracing():
        raise RuntimeError("peak_bytes() cannot nest inside another tracemalloc measurement")
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    return result, peak


def seconds(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after ``warmup`` untimed runs."""
    if tracemalloc.is_tracing():
        raise RuntimeError("refusing to time code while tracemalloc is tracing: the timing "
                           "would measure tracemalloc's overhead, not the code")
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def time_ratio(slow: Callable[[], Any], fast: Callable[[], Any], rounds: int = 3) -> float:
    """How many times longer ``slow`` takes than ``fast``: median of interleaved rounds.

    Interleaving the two in every round keeps a noisy neighbour from favouring one side.
    """
    ratios = [seconds(slow, repeat=1, warmup=0 if i else 1) /
              seconds(fast, repeat=3, warmup=0 if i else 1) for i in range(rounds)]
    return statistics.median(ratios)


def python_lines(fn: Callable[[], Any], package: str = "tinytorch") -> tuple[Any, int]:
    """Run ``fn()``; return its result and how many lines of ``package``'s Python it ran.

    A count, not a time, so no load can move it. A Python loop over samples or elements runs
    its body once per item, and the count grows with the input; whole-array NumPy code runs
    the same lines whatever the size. Lines in NumPy's own Python, or in the caller, are not
    counted: only code whose module is ``package`` or inside it.
    """
    count = 0
    inside = package + "."

    def count_lines(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return count_lines

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        module = frame.f_globals.get("__name__", "")
        return count_lines if module == package or module.startswith(inside) else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        result = fn()
    finally:
        sys.settrace(previous)
    return result, count


@contextlib.contextmanager
def call_clock(owner: Any, name: str) -> Iterator[Callable[[], float]]:
    """Count the calls of ``owner.name`` inside the block; yield a clock that reads the count.

    For code that takes a ``timer``: each call of the function moves this clock by one and
    nothing else moves it, so a profile or a benchmark on it measures work in calls, exactly.
    ``owner`` is a class or a module; the original attribute is back after the block.
    """
    own = name in vars(owner)
    saved = vars(owner).get(name)
    original = getattr(owner, name)
    count = 0

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)
    try:
        yield lambda: float(count)
    finally:
        if own:
            setattr(owner, name, saved)
        else:
            delattr(owner, name)
