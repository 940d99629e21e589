"""Kata 19: benchmarking, turning "it feels faster" into a number you can defend.

A single timing is an anecdote. The second run of a function is often faster than the
first (caches are cold, memory is not yet mapped, lazy imports have not happened), and two
runs of the same code on the same machine differ because the operating system, other
processes and the CPU's clock speed never stand still. A benchmark therefore:

1. **warms up**: runs the code a few times untimed, and throws those runs away;
2. **repeats**: times many runs, with ``time.perf_counter`` (a monotonic clock with the
   finest resolution Python offers; ``time.time`` can jump when the system clock is set);
3. **summarizes robustly**: the median and the interquartile range (IQR), not the mean and
   the standard deviation, because timings have a long right tail (one run interrupted by
   the OS costs ten normal runs) and a single outlier drags the mean wherever it likes;
4. **says how sure it is**: a bootstrap confidence interval for the median;
5. **compares honestly**: two systems are timed in alternation, so a drift of the machine
   (thermal throttling, a backup starting) hits both alike, and a significance test says
   whether the difference is larger than the noise;
6. **records where it ran**: CPU, Python, NumPy and its BLAS, and the thread settings. A
   number without its environment cannot be reproduced, or even compared.

Two scenarios follow MLPerf Inference: **single-stream** sends one sample at a time and
waits for the answer (a phone app: what matters is the latency of each query, its median
and its tail, p90 and p99), and **offline** hands over all samples at once, to be processed
in batches (a nightly job: what matters is the throughput, samples per second).

Time is read from an injectable ``timer`` (``Benchmark(timer=...)``, ``time.perf_counter``
by default), so tests can drive the harness with a fake clock and check every figure
exactly. Real timings never run under tracemalloc: tracing every allocation slows the code
down by a large and uneven factor, so the harness refuses to time while it traces.

Results are ``BenchmarkResult`` dataclasses that turn into plain dicts and JSON carrying a
``schema`` name and ``version``, so a file written today can be read, and checked, later.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.autograd import no_grad
from ..core.tensor import Tensor
from .acceleration import BLAS_THREAD_VARIABLES
from .profiling import refuse_under_tracemalloc

SCHEMA = "tinytorch-benchmark"
SCHEMA_VERSION = 1
# 2,000 resamples put the Monte-Carlo error of a 95 % interval's ends well below the width
# of the interval itself (Efron and Tibshirani suggest at least 1,000 for percentile intervals).
DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05
# Environment variables through which the BLAS libraries NumPy may use read their thread count.
UNKNOWN = "unknown"

Timer = Callable[[], float]
Model = Callable[[Tensor], Any]


# -- robust statistics of a set of timings --------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """What a set of timings (in seconds) says, in plain Python numbers.

    Quantiles (``q1``, ``median``, ``q3``, ``p90``, ``p99``) follow NumPy's default
    definition: ``np.percentile`` with linear interpolation between the two nearest sorted
    values. ``[ci_low, ci_high]`` is an interval that covers the true median (the one an
    endless series of runs would show) with probability about ``confidence``, estimated
    from ``resamples`` bootstrap resamples (see :func:`bootstrap_median_ci`).
    """

    count: int
    mean: float
    median: float
    q1: float
    q3: float
    iqr: float
    p90: float
    p99: float
    minimum: float
    maximum: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int

    @property
    def relative_ci_width(self) -> float:
        """Width of the confidence interval as a fraction of the median (0.05 = 5 %)."""
        return (self.ci_high - self.ci_low) / self.median


def check_timings(samples: Sequence[float] | np.ndarray) -> np.ndarray:
    """``samples`` as a 1-D float64 array; ``ValueError`` if it is empty or not finite."""
    values = np.asarray(samples, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("a summary needs at least one timing, got none")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"timings must be finite numbers, got {values[~np.isfinite(values)][:5]}")
    return values


def summarize(samples: Sequence[float] | np.ndarray, confidence: float = DEFAULT_CONFIDENCE,
              resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Summary:
    """Summarize timings: centre, spread, tail, extremes, and a confidence interval.

    - ``median``: the middle of the sorted timings (the mean of the two middle ones for an
      even count). Unlike the mean, one run that the OS interrupted cannot move it far.
    - ``q1``, ``q3``: the 25th and 75th percentiles; ``iqr = q3 - q1`` is the spread of the
      middle half. The range (max - min) is decided by the two most extreme runs, the very
      ones a benchmark cannot control.
    - ``p90``, ``p99``: the 90th and 99th percentiles, the tail latencies of a service.
    - ``ci_low``, ``ci_high``: ``bootstrap_median_ci(samples, resamples, confidence, seed)``.

    Compute every quantile with ``np.percentile`` (linear interpolation, its default), and
    return plain Python numbers (``float(...)``, ``int(...)``): they go into JSON. Raise
    ``ValueError`` for no timings or non-finite ones (``check_timings`` does).
    """
    raise NotImplementedError("summarize: not implemented yet (kata 19 Benchmarking)")


def bootstrap_median_ci(samples: Sequence[float] | np.ndarray, resamples: int = DEFAULT_RESAMPLES,
                        confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval ``(low, high)`` for the median of ``samples``.

    The idea: we cannot rerun the benchmark a thousand times, but the ``n`` timings we have
    are our best picture of the distribution they came from. Draw ``n`` of them *with
    replacement*, take that resample's median, and do it ``resamples`` times: the spread of
    those medians shows how much the median moves from one benchmark run to the next. The
    interval keeps the middle ``confidence`` of them: its ends are the percentiles
    ``100 * (1 - confidence) / 2`` and ``100 * (1 + confidence) / 2`` (2.5 and 97.5 for 95 %)
    of the resampled medians.

    Exactly, so that the result is reproducible (and testable)::

        rng = np.random.default_rng(seed)
        indices = rng.integers(0, n, size=(resamples, n))   # one resample per row
        medians = np.median(samples[indices], axis=1)

    then ``np.percentile`` of ``medians`` at the two ends, returned as Python floats. More
    timings give a narrower interval (it shrinks about as ``1 / sqrt(n)``); a higher
    confidence gives a wider one. More resamples do not narrow it: they only make its ends
    less noisy. The resamples cost memory: ``resamples x n`` indices and as many values,
    32 MB for 1,000 timings at the default 2,000 resamples.

    ``ValueError`` if ``resamples < 1``, ``confidence`` is not strictly between 0 and 1,
    or there are no timings.
    """
    raise NotImplementedError("bootstrap_median_ci: not implemented yet (kata 19 Benchmarking)")


# -- is system B really faster than system A? ----------------------------------------------

@dataclass(frozen=True)
class Significance:
    """The outcome of a Mann-Whitney U test between timings ``a`` and ``b``.

    ``faster`` names the system that tends to take less time when the difference is
    significant (``p_value < alpha``), and is None otherwise.
    """

    names: tuple[str, str]
    u_statistic: float
    p_value: float
    alpha: float
    significant: bool
    faster: str | None

    @property
    def verdict(self) -> str:
        """One line for a report, e.g. ``"b is faster than a (p = 0.0003 < alpha = 0.05)"``."""
        if self.faster is None:
            return (f"no significant difference between {self.names[0]} and {self.names[1]} "
                    f"(p = {self.p_value:.3g} >= alpha = {self.alpha:g})")
        slower = self.names[1] if self.faster == self.names[0] else self.names[0]
        return f"{self.faster} is faster than {slower} (p = {self.p_value:.3g} < alpha = {self.alpha:g})"


def mann_whitney_u(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """The Mann-Whitney U statistic of ``a``: in how many of the ``len(a) * len(b)`` pairs
    ``(x from a, y from b)`` is ``x > y``, with each tie ``x == y`` counting one half.

    ``a = [3, 5, 5, 9]``, ``b = [1, 5, 8]``: 3 beats 1 (1 pair), each 5 beats 1 and ties
    with 5 (1.5 pairs, twice), 9 beats all three (3 pairs): U = 7. The statistic of ``b``
    is ``len(a) * len(b) - U(a)`` = 5. For timings, a U near 0 means ``a`` is almost always
    faster; near ``len(a) * len(b) / 2`` the two are mixed. U uses only the order of the
    values, not their size, so one enormous outlier counts no more than a small one.

    Compare every pair at once by broadcasting ``a[:, None]`` against ``b[None, :]``.
    """
    raise NotImplementedError("mann_whitney_u: not implemented yet (kata 19 Benchmarking)")


def mann_whitney_p_value(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test, by its normal approximation.

    If ``a`` and ``b`` come from the same distribution, U is on average
    ``mu = n_a * n_b / 2`` with variance

        ``sigma**2 = n_a * n_b / 12 * ((n + 1) - sum(t**3 - t) / (n * (n - 1)))``

    where ``n = n_a + n_b`` and ``t`` runs over the sizes of the groups of equal values in
    ``a`` and ``b`` together (``np.unique(..., return_counts=True)``; without ties every
    ``t`` is 1 and the correction vanishes). With the continuity correction,
    ``z = max(|U - mu| - 0.5, 0) / sigma`` and ``p = erfc(z / sqrt(2))`` (``math.erfc``):
    the probability of a U at least this far from ``mu`` if nothing differs. When every
    value is equal (``sigma == 0``) nothing can be told apart: ``p = 1``. The approximation
    is good from about 8 values per side, fewer than any benchmark should use.

    ``ValueError`` names the side that is empty.
    """
    raise NotImplementedError("mann_whitney_p_value: not implemented yet (kata 19 Benchmarking)")


def significance_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                      alpha: float = DEFAULT_ALPHA, names: tuple[str, str] = ("a", "b")) -> Significance:
    """Are the timings ``a`` and ``b`` different beyond the noise, at level ``alpha``?

    Significant when ``p < alpha``. Then the faster system is ``names[0]`` if U of ``a`` is
    below ``n_a * n_b / 2`` (``a``'s timings tend to be the smaller ones), else ``names[1]``.
    At ``alpha = 0.05``, two identical systems are declared different in about 1 run of 20:
    that is what ``alpha`` means. ``ValueError`` if ``alpha`` is not strictly between 0 and 1.
    """
    raise NotImplementedError("significance_test: not implemented yet (kata 19 Benchmarking)")


# -- where the numbers were measured --------------------------------------------------------

def cpu_model() -> str:
    """The CPU's marketing name ("AMD EPYC 7763 64-Core Processor"), or "unknown"."""
    cpuinfo = Path("/proc/cpuinfo")  # Linux
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or UNKNOWN


def blas_threads_in_use() -> int | str:
    """How many threads the BLAS NumPy loaded really runs with, or ``"unknown"``.

    The environment variables only ask; the library decides (an unset variable means "all
    cores", and some builds cap the count). Only the optional package threadpoolctl can
    ask the loaded library, and TinyTorch does not depend on it: if ``import threadpoolctl``
    raises ``ImportError``, return ``"unknown"``. Otherwise return the largest
    ``"num_threads"`` among the entries of ``threadpoolctl.threadpool_info()`` (a list of
    dicts, one per thread pool) whose ``"user_api"`` is ``"blas"``, or ``"unknown"`` if no
    entry is a BLAS.
    """
    raise NotImplementedError("blas_threads_in_use: not implemented yet (kata 19 Benchmarking)")


def capture_environment() -> dict[str, Any]:
    """Everything that decides how fast NumPy code runs here, as JSON-ready values.

    Return a dict with exactly these keys:

    - ``"cpu_model"``: ``cpu_model()``; ``"cpu_count"``: ``os.cpu_count()``;
    - ``"platform"``: ``platform.platform()``; ``"python"``: ``platform.python_version()``;
    - ``"numpy"``: ``np.__version__``;
    - ``"blas"``: the BLAS NumPy was built with, ``np.show_config(mode="dicts")["Build
      Dependencies"]["blas"]`` (a dict: name, version, configuration). NumPy before 1.26
      has no ``mode`` argument (a ``TypeError``), and a build may not say: ``"unknown"``;
    - ``"blas_thread_env"``: ``{variable: os.environ.get(variable)}`` for every name in
      ``BLAS_THREAD_VARIABLES`` (None where unset): they choose how many threads a matrix
      product may use, and a benchmark on 1 thread and one on 64 are different experiments;
    - ``"blas_threads_in_use"``: ``blas_threads_in_use()``.
    """
    raise NotImplementedError("capture_environment: not implemented yet (kata 19 Benchmarking)")


# -- results that outlive the process -------------------------------------------------------

@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark's outcome: the raw timings, their summary and where they were taken.

    ``scenario`` is ``"function"`` (``Benchmark.run``), ``"single_stream"`` (``timings`` are
    the latencies of the queries) or ``"offline"`` (``timings`` are the durations of whole
    passes over the samples). ``throughput`` is in samples per second (None for a plain
    function) and ``batch_size`` the batch of the offline scenario (1 for single-stream).
    """

    name: str
    scenario: str
    timings: tuple[float, ...]
    summary: Summary
    throughput: float | None = None
    batch_size: int | None = None
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A dict of plain JSON values: ``"schema": SCHEMA``, ``"version": SCHEMA_VERSION``,
        then every field by name, ``timings`` as a list and ``summary`` as a dict of its
        fields (``dataclasses.asdict``)."""
        raise NotImplementedError("BenchmarkResult.to_dict: not implemented yet (kata 19 Benchmarking)")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkResult:
        """Rebuild a result from ``to_dict()``'s output: ``from_dict(r.to_dict()) == r``.

        A dict from another schema, or from another version of this one, raises
        ``ValueError`` naming the schema and version found and the ones expected: silently
        reading a field whose meaning changed is how wrong numbers get published.
        """
        raise NotImplementedError("BenchmarkResult.from_dict: not implemented yet (kata 19 Benchmarking)")

    def to_json(self) -> str:
        """``to_dict()`` as strict JSON text (NaN and infinity are refused, not written)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> BenchmarkResult:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Comparison:
    """Two systems timed in alternation, and whether they differ."""

    a: BenchmarkResult
    b: BenchmarkResult
    significance: Significance

    @property
    def speedup(self) -> float:
        """How many times faster ``b`` is than ``a``: median time of ``a`` / median of ``b``."""
        return self.a.summary.median / self.b.summary.median


# -- the harness ----------------------------------------------------------------------------

def sample_array(inputs: np.ndarray | Tensor) -> np.ndarray:
    """The samples of ``inputs`` (a Tensor or an array, samples along axis 0) as an array."""
    data = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
    if data.ndim == 0 or len(data) == 0:
        raise ValueError(f"a scenario needs at least one sample along axis 0, got shape {data.shape}")
    return data


class Benchmark:
    """A benchmark harness: ``Benchmark(warmup=2, repeats=20).run(fn)``.

    - ``warmup``: untimed runs before the timed ones (at least 0);
    - ``repeats``: timed runs (at least 1);
    - ``timer``: the clock, a function returning seconds (``time.perf_counter``); a test
      injects a fake clock to make every figure exact;
    - ``confidence``, ``resamples``, ``seed``: passed to :func:`summarize` for the
      bootstrap interval of every result;
    - ``environment``: recorded in every result; by default ``capture_environment()``,
      captured once, when the first result is made.
    """

    def __init__(self, warmup: int = 2, repeats: int = 20, timer: Timer | None = None,
                 confidence: float = DEFAULT_CONFIDENCE, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0, environment: dict[str, Any] | None = None) -> None:
        """Raise ``ValueError`` naming ``warmup`` or ``repeats`` when one is out of range."""
        self.warmup = warmup
        self.repeats = repeats
        self.timer = time.perf_counter if timer is None else timer
        self.confidence = confidence
        self.resamples = resamples
        self.seed = seed
        if environment is not None:
            self.environment = environment
        raise NotImplementedError("Benchmark.__init__: not implemented yet (kata 19 Benchmarking)")

    @functools.cached_property
    def environment(self) -> dict[str, Any]:
        return capture_environment()

    def result(self, name: str, scenario: str, timings: Sequence[float] | np.ndarray, *,
               throughput: float | None = None, batch_size: int | None = None) -> BenchmarkResult:
        """Package ``timings`` (seconds) with their summary and this machine's environment."""
        summary = summarize(timings, self.confidence, self.resamples, self.seed)
        return BenchmarkResult(name=name, scenario=scenario, timings=tuple(float(t) for t in timings),
                               summary=summary, throughput=throughput, batch_size=batch_size,
                               environment=self.environment)

    def time(self, fn: Callable[[], Any]) -> float:
        """Seconds one call of ``fn()`` takes: read ``self.timer()`` just before and just after.

        Only the call sits between the two readings: anything else done there is timed too.
        """
        raise NotImplementedError("Benchmark.time: not implemented yet (kata 19 Benchmarking)")

    def measure(self, fn: Callable[[], Any]) -> np.ndarray:
        """Timings of ``fn()``: ``self.warmup`` untimed calls, then ``self.repeats`` timed ones.

        Returns a float64 array of ``self.repeats`` durations in seconds, in the order they
        were taken; the warm-up calls are not in it. Refuses (before calling ``fn`` at all)
        while tracemalloc traces: ``refuse_under_tracemalloc()``.
        """
        raise NotImplementedError("Benchmark.measure: not implemented yet (kata 19 Benchmarking)")

    def run(self, fn: Callable[[], Any], name: str = "function") -> BenchmarkResult:
        """Benchmark ``fn()``: ``self.result(name, "function", self.measure(fn))``."""
        raise NotImplementedError("Benchmark.run: not implemented yet (kata 19 Benchmarking)")

    def compare(self, fn_a: Callable[[], Any], fn_b: Callable[[], Any],
                names: tuple[str, str] = ("a", "b"), alpha: float = DEFAULT_ALPHA) -> Comparison:
        """Benchmark two systems in alternation and test whether they differ.

        Warm-up and timed runs alternate: ``a, b, a, b, ...`` (``self.warmup`` untimed calls
        of each, then ``self.repeats`` timed calls of each). Timing all of ``a`` and then all
        of ``b`` would hand ``b`` whatever the machine did meanwhile (a turbo boost running
        out, a neighbour starting a job); alternating spreads any drift over both. Returns
        ``Comparison(result_a, result_b, significance_test(times_a, times_b, alpha, names))``
        with results named ``names[0]`` and ``names[1]``, scenario ``"function"``. Refuses
        under tracemalloc before calling anything.
        """
        raise NotImplementedError("Benchmark.compare: not implemented yet (kata 19 Benchmarking)")

    # -- MLPerf-style scenarios ---------------------------------------------------------------

    def single_stream(self, model: Model, inputs: np.ndarray | Tensor,
                      name: str = "single_stream") -> BenchmarkResult:
        """Latency, one query at a time: every sample of ``inputs`` is one query.

        ``inputs`` has the samples along axis 0 (``sample_array`` unwraps it). Build every
        query Tensor first, a batch of one sample (``inputs[i:i + 1]``), so that slicing is
        not timed. Then, under
        ``no_grad()`` (inference records no graph): ``self.warmup`` untimed queries (samples
        0, 1, ... cycling over the inputs), then each query ``model(query)`` timed once, in
        order. ``self.repeats`` does not apply: the number of latencies is the number of
        samples. Result: scenario ``"single_stream"``, ``batch_size`` 1, the latencies as
        timings (their ``p90`` and ``p99`` are the tail latencies) and a throughput of
        ``1 / median latency`` samples per second.
        """
        raise NotImplementedError("Benchmark.single_stream: not implemented yet (kata 19 Benchmarking)")

    def offline(self, model: Model, inputs: np.ndarray | Tensor, batch_size: int,
                name: str = "offline") -> BenchmarkResult:
        """Throughput, everything at once: passes over all of ``inputs`` in batches.

        Cut ``inputs`` (samples along axis 0) into consecutive Tensors of ``batch_size``
        samples, the last one possibly smaller, before timing. Under ``no_grad()``:
        ``self.warmup`` untimed batches (0, 1, ... cycling), then ``self.repeats`` timed
        passes, each calling ``model`` on every batch in order and timed as a whole.
        Result: scenario ``"offline"``, the pass durations as timings, and a throughput of
        ``number of SAMPLES / median pass duration`` (not batches: a batch of 100 is 100
        answers). ``ValueError`` naming ``batch_size`` unless it is at least 1.
        """
        raise NotImplementedError("Benchmark.offline: not implemented yet (kata 19 Benchmarking)")
