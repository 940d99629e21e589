"""Measuring real code: peak memory with tracemalloc, time with perf_counter.

The two never mix: tracemalloc slows every allocation down, so a timing taken while it
traces is meaningless and :func:`seconds` refuses to take one.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
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
