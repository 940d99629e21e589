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
    # BEGIN SOLUTION
    values = check_timings(samples)
    q1, median, q3, p90, p99 = (float(q) for q in np.percentile(values, [25, 50, 75, 90, 99]))
    ci_low, ci_high = bootstrap_median_ci(values, resamples, confidence, seed)
    return Summary(count=int(values.size), mean=float(values.mean()), median=median, q1=q1, q3=q3,
                   iqr=q3 - q1, p90=p90, p99=p99, minimum=float(values.min()),
                   maximum=float(values.max()), ci_low=ci_low, ci_high=ci_high,
                   confidence=float(confidence), resamples=int(resamples))
    # END SOLUTION


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
    # BEGIN SOLUTION
    values = check_timings(samples)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, values.size, size=(resamples, values.size))
    medians = np.median(values[indices], axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)
    # END SOLUTION


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
    # BEGIN SOLUTION
    x = np.asarray(a, dtype=np.float64).ravel()[:, None]
    y = np.asarray(b, dtype=np.float64).ravel()[None, :]
    return float(np.sum(x > y) + 0.5 * np.sum(x == y))
    # END SOLUTION


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
    # BEGIN SOLUTION
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    for name, values in (("a", x), ("b", y)):
        if values.size == 0:
            raise ValueError(f"the Mann-Whitney test needs timings on both sides; {name} is empty")
    n_a, n_b = x.size, y.size
    n = n_a + n_b
    _, ties = np.unique(np.concatenate([x, y]), return_counts=True)
    tie_term = float(np.sum(ties.astype(np.float64) ** 3 - ties)) / (n * (n - 1))
    variance = n_a * n_b / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    distance = max(abs(mann_whitney_u(x, y) - n_a * n_b / 2) - 0.5, 0.0)
    return min(1.0, math.erfc(distance / math.sqrt(variance) / math.sqrt(2)))
    # END SOLUTION


def significance_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                      alpha: float = DEFAULT_ALPHA, names: tuple[str, str] = ("a", "b")) -> Significance:
    """Are the timings ``a`` and ``b`` different beyond the noise, at level ``alpha``?

    Significant when ``p < alpha``. Then the faster system is ``names[0]`` if U of ``a`` is
    below ``n_a * n_b / 2`` (``a``'s timings tend to be the smaller ones), else ``names[1]``.
    At ``alpha = 0.05``, two identical systems are declared different in about 1 run of 20:
    that is what ``alpha`` means. ``ValueError`` if ``alpha`` is not strictly between 0 and 1.
    """
    # BEGIN SOLUTION
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be strictly between 0 and 1, got {alpha}")
    u = mann_whitney_u(a, b)
    p = mann_whitney_p_value(a, b)
    significant = p < alpha
    faster = None
    if significant:
        faster = names[0] if u < np.size(a) * np.size(b) / 2 else names[1]
    return Significance(names=(names[0], names[1]), u_statistic=u, p_value=p, alpha=float(alpha),
                        significant=significant, faster=faster)
    # END SOLUTION


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
    # BEGIN SOLUTION
    try:
        import threadpoolctl
    except ImportError:
        return UNKNOWN
    counts = [int(pool["num_threads"]) for pool in threadpoolctl.threadpool_info()
              if pool.get("user_api") == "blas"]
    return max(counts) if counts else UNKNOWN
    # END SOLUTION


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
    # BEGIN SOLUTION
    try:
        blas: Any = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", UNKNOWN)
    except TypeError:
        blas = UNKNOWN
    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "blas_thread_env": {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES},
        "blas_threads_in_use": blas_threads_in_use(),
    }
    # END SOLUTION


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
        # BEGIN SOLUTION
        return {"schema": SCHEMA, "version": SCHEMA_VERSION, "name": self.name,
                "scenario": self.scenario, "timings": list(self.timings),
                "summary": asdict(self.summary), "throughput": self.throughput,
                "batch_size": self.batch_size, "environment": self.environment}
        # END SOLUTION

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchmarkResult:
        """Rebuild a result from ``to_dict()``'s output: ``from_dict(r.to_dict()) == r``.

        A dict from another schema, or from another version of this one, raises
        ``ValueError`` naming the schema and version found and the ones expected: silently
        reading a field whose meaning changed is how wrong numbers get published.
        """
        # BEGIN SOLUTION
        schema, version = data.get("schema"), data.get("version")
        if schema != SCHEMA or version != SCHEMA_VERSION:
            raise ValueError(f"not a benchmark result this code can read: schema {schema!r} "
                             f"version {version!r}, expected schema {SCHEMA!r} version {SCHEMA_VERSION}")
        return cls(name=data["name"], scenario=data["scenario"],
                   timings=tuple(float(t) for t in data["timings"]),
                   summary=Summary(**data["summary"]), throughput=data["throughput"],
                   batch_size=data["batch_size"], environment=data["environment"])
        # END SOLUTION

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
        # BEGIN SOLUTION
        if warmup < 0:
            raise ValueError(f"warmup must be at least 0, got warmup={warmup}")
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got repeats={repeats}")
        # END SOLUTION

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
        # BEGIN SOLUTION
        start = self.timer()
        fn()
        return self.timer() - start
        # END SOLUTION

    def measure(self, fn: Callable[[], Any]) -> np.ndarray:
        """Timings of ``fn()``: ``self.warmup`` untimed calls, then ``self.repeats`` timed ones.

        Returns a float64 array of ``self.repeats`` durations in seconds, in the order they
        were taken; the warm-up calls are not in it. Refuses (before calling ``fn`` at all)
        while tracemalloc traces: ``refuse_under_tracemalloc()``.
        """
        # BEGIN SOLUTION
        refuse_under_tracemalloc()
        for _ in range(self.warmup):
            fn()
        return np.array([self.time(fn) for _ in range(self.repeats)], dtype=np.float64)
        # END SOLUTION

    def run(self, fn: Callable[[], Any], name: str = "function") -> BenchmarkResult:
        """Benchmark ``fn()``: ``self.result(name, "function", self.measure(fn))``."""
        # BEGIN SOLUTION
        return self.result(name, "function", self.measure(fn))
        # END SOLUTION

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
        # BEGIN SOLUTION
        refuse_under_tracemalloc()
        for _ in range(self.warmup):
            fn_a()
            fn_b()
        times_a, times_b = [], []
        for _ in range(self.repeats):
            times_a.append(self.time(fn_a))
            times_b.append(self.time(fn_b))
        return Comparison(self.result(names[0], "function", times_a),
                          self.result(names[1], "function", times_b),
                          significance_test(times_a, times_b, alpha, names))
        # END SOLUTION

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
        # BEGIN SOLUTION
        refuse_under_tracemalloc()
        data = sample_array(inputs)
        queries = [Tensor(data[i:i + 1]) for i in range(len(data))]
        with no_grad():
            for i in range(self.warmup):
                model(queries[i % len(queries)])
            latencies = [self.time(functools.partial(model, query)) for query in queries]
        return self.result(name, "single_stream", latencies, batch_size=1,
                           throughput=1.0 / float(np.median(latencies)))
        # END SOLUTION

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
        # BEGIN SOLUTION
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got batch_size={batch_size}")
        refuse_under_tracemalloc()
        data = sample_array(inputs)
        batches = [Tensor(data[i:i + batch_size]) for i in range(0, len(data), batch_size)]

        def one_pass() -> None:
            for batch in batches:
                model(batch)

        with no_grad():
            for i in range(self.warmup):
                model(batches[i % len(batches)])
            passes = [self.time(one_pass) for _ in range(self.repeats)]
        return self.result(name, "offline", passes, batch_size=batch_size,
                           throughput=len(data) / float(np.median(passes)))
        # END SOLUTION
