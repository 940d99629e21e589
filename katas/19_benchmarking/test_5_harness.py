"""The harness: warm-up, repeats, an injectable clock, interleaved comparison, no tracemalloc.

A fake clock (see conftest.py) makes every timing exact: a function "takes" the seconds it
advances the clock by, so the tests know the right answer to the last digit.
"""

import tracemalloc

import numpy as np
import pytest

from tinytorch.systems import Benchmark, capture_environment, significance_test, summarize

WARMUP_COST = 1000.0  # warm-up runs are slow on purpose: counting one shows at once
LAB = {"machine": "the test's fake lab"}


@pytest.mark.parametrize("kwargs, problem", [
    ({"warmup": -1}, "warmup=-1"),
    ({"repeats": 0}, "repeats=0"),
])
def test_bad_settings_are_named(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        Benchmark(**kwargs)


def test_time_reads_the_injected_clock_around_one_call(clock, scripted):
    fn = scripted([7.0])
    assert Benchmark(timer=clock).time(fn) == 7.0
    assert fn.calls == 1


def test_warm_up_runs_are_run_but_not_counted(clock, scripted):
    fn = scripted([WARMUP_COST, WARMUP_COST, 3.0, 1.0, 2.0, 5.0])
    timings = Benchmark(warmup=2, repeats=4, timer=clock).measure(fn)
    assert fn.calls == 6, "2 warm-up calls, then 4 timed ones"
    assert isinstance(timings, np.ndarray) and timings.dtype == np.float64
    assert timings.tolist() == [3.0, 1.0, 2.0, 5.0]


def test_no_warm_up_times_every_call(clock, scripted):
    fn = scripted([4.0, 6.0, 5.0])
    assert Benchmark(warmup=0, repeats=3, timer=clock).measure(fn).tolist() == [4.0, 6.0, 5.0]
    assert fn.calls == 3


def test_run_packages_timings_summary_and_environment(clock, scripted):
    fn = scripted([WARMUP_COST, 3.0, 1.0, 2.0, 8.0, 1.0])
    bench = Benchmark(warmup=1, repeats=5, timer=clock, confidence=0.9, resamples=300, seed=4,
                      environment=LAB)

    result = bench.run(fn, name="matmul")

    assert (result.name, result.scenario) == ("matmul", "function")
    assert result.timings == (3.0, 1.0, 2.0, 8.0, 1.0)
    assert result.summary == summarize([3.0, 1.0, 2.0, 8.0, 1.0], confidence=0.9, resamples=300, seed=4)
    assert result.summary.median == 2.0 and result.summary.maximum == 8.0
    assert result.throughput is None and result.environment == LAB


def test_by_default_a_result_records_this_machine(clock, scripted):
    result = Benchmark(warmup=0, repeats=2, timer=clock, resamples=10).run(scripted([1.0, 1.0]))
    assert result.environment == capture_environment()


def test_the_default_clock_is_perf_counter():
    import time

    assert Benchmark().timer is time.perf_counter


@pytest.mark.parametrize("method", ["measure", "run", "compare"])
def test_it_refuses_to_time_under_tracemalloc(clock, scripted, method):
    fn = scripted([1.0] * 50)
    bench = Benchmark(warmup=1, repeats=3, timer=clock, environment=LAB)
    arguments = (fn, fn) if method == "compare" else (fn,)
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="tracemalloc"):
            getattr(bench, method)(*arguments)
    finally:
        tracemalloc.stop()
    assert fn.calls == 0, "refuse before running anything"


def test_compare_alternates_the_two_systems(clock):
    order = []

    def system(name):
        def run():
            order.append(name)
            clock.advance(1.0)
        return run

    Benchmark(warmup=2, repeats=5, timer=clock, environment=LAB).compare(system("a"), system("b"))
    assert order == ["a", "b"] * 7, f"the calls came in the order {''.join(order)}"


def test_alternating_cancels_a_drifting_machine(clock):
    # Two identical systems on a machine that gets slower with every call: alternating keeps
    # the drift on both sides; timing all of a, then all of b, would declare a faster.
    calls = []

    def identical():
        clock.advance(100.0 + len(calls))
        calls.append(1)

    comparison = Benchmark(warmup=1, repeats=20, timer=clock, environment=LAB).compare(identical, identical)
    a, b = np.array(comparison.a.timings), np.array(comparison.b.timings)
    assert (b - a).tolist() == [1.0] * 20, "a and b alternate: each b runs right after its a"
    assert not comparison.significance.significant, comparison.significance.verdict


def test_compare_finds_the_faster_system(clock, scripted):
    rng = np.random.default_rng(0)
    slow_times = rng.permutation(np.arange(30.0, 50.0)).tolist()
    fast_times = rng.permutation(np.arange(20.0, 40.0)).tolist()
    slow, fast = scripted([WARMUP_COST] * 2 + slow_times), scripted([WARMUP_COST] * 2 + fast_times)

    comparison = Benchmark(warmup=2, repeats=20, timer=clock, environment=LAB).compare(
        slow, fast, names=("loops", "numpy"), alpha=0.01)

    assert comparison.a.name == "loops" and comparison.b.name == "numpy"
    assert comparison.a.timings == tuple(slow_times) and comparison.b.timings == tuple(fast_times)
    assert comparison.significance == significance_test(slow_times, fast_times, 0.01, ("loops", "numpy"))
    assert comparison.significance.faster == "numpy"
    assert comparison.speedup == pytest.approx(np.median(slow_times) / np.median(fast_times))
