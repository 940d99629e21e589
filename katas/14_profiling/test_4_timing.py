"""Time: warm-up, medians, per-layer timers, and the profiler's own overhead.

A fake clock (conftest.py) makes every figure exact. With a clock that moves by one at each
reading, a plain forward takes 1 (two readings) and a timed forward of L layers 2L + 1: the
profile then shows exactly which readings it took. Layers that move the clock by scripted
amounts show which runs were counted, and how.
"""

import tracemalloc

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor, is_grad_enabled
from tinytorch.nn import GPT, Linear, Sequential
from tinytorch.systems.profiling import profile

X_DATA = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)


@pytest.fixture
def x():
    return Tensor(X_DATA)


class Scripted(ReLU):
    """A ReLU whose k-th call takes ``durations[k]`` seconds of the fake clock."""

    def __init__(self, clock, durations=()):
        self.clock, self.durations, self.calls, self.grad_modes = clock, list(durations), 0, []

    def forward(self, x):
        self.clock.advance(self.durations[self.calls] if self.durations else x.size)
        self.calls += 1
        self.grad_modes.append(is_grad_enabled())
        return super().forward(x)


def test_a_ticking_clock_shows_every_reading(ticking_clock, x):
    model = Sequential(Linear(4, 3, rng=0), ReLU(), Linear(3, 2, rng=1))
    result = profile(model, x, warmup=1, repeats=3, timer=ticking_clock)
    assert [row.seconds for row in result.rows] == [1.0, 1.0, 1.0], "two readings around each layer"
    assert result.latency == 1.0, "a plain forward: one reading before, one after"
    assert result.profiled_latency == 7.0, "2 readings per layer, 3 layers, plus the outer two"
    assert result.overhead == 6.0
    assert (result.warmup, result.repeats) == (1, 3)


def test_warm_up_runs_are_not_counted_and_medians_are_taken(clock, x):
    #                     warm-up     plain, timed  plain, timed  plain, timed
    layer = Scripted(clock, [1000, 1000, 3, 5, 1, 2, 7, 9])
    result = profile(Sequential(layer), x, warmup=2, repeats=3, timer=clock)
    assert layer.calls == 8
    assert result.latency == 3.0, "median of the plain forwards 3, 1, 7"
    assert result.profiled_latency == 5.0, "median of the timed forwards 5, 2, 9"
    assert result.rows[0].seconds == 5.0
    assert result.overhead == pytest.approx(5 / 3 - 1)


def test_a_layer_used_twice_is_charged_call_by_call(clock, x):
    cost = Scripted(clock)  # takes as many seconds as its input has elements
    result = profile(Sequential(cost, Linear(4, 16, rng=0), cost), x, warmup=0, repeats=2, timer=clock)
    assert [row.seconds for row in result.rows] == [8.0, 0.0, 32.0]
    assert result.latency == result.profiled_latency == 40.0


def test_everything_runs_without_recording_a_graph(clock, x):
    layer = Scripted(clock, [1.0] * 7)
    profile(Sequential(Linear(4, 4, rng=0), layer), x, warmup=1, repeats=3, timer=clock)
    assert layer.grad_modes == [False] * 7


def test_the_timers_are_removed_afterwards_even_after_an_error(clock, x):
    model = Sequential(Linear(4, 3, rng=0), ReLU(), Scripted(clock, [1.0, 1.0, 1.0]))
    profile(model, x, warmup=1, repeats=1, timer=clock)
    assert all("forward" not in vars(layer) for layer in model), "a layer still carries a timer"
    model = Sequential(Linear(4, 3, rng=0), ReLU(), Scripted(clock, [1.0]))
    with pytest.raises(IndexError):  # the script runs out in the first timed forward
        profile(model, x, warmup=0, repeats=1, timer=clock)
    assert all("forward" not in vars(layer) for layer in model), "a layer still carries a timer"


def test_it_refuses_to_time_under_tracemalloc(clock, x):
    layer = Scripted(clock, [1.0] * 10)
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="tracemalloc"):
            profile(Sequential(layer), x, timer=clock)
    finally:
        tracemalloc.stop()
    assert layer.calls == 0, "refuse before running anything"


@pytest.mark.parametrize("kwargs, problem", [({"warmup": -1}, "warmup=-1"), ({"repeats": 0}, "repeats=0")])
def test_bad_settings_are_named(kwargs, problem, x):
    with pytest.raises(ValueError, match=problem):
        profile(Sequential(Linear(4, 3, rng=0)), x, **kwargs)


def test_a_gpt_profile_and_its_table(ticking_clock):
    model = GPT(30, 16, 16, 2, 2, rng=0)
    ids = np.random.default_rng(1).integers(0, 30, (2, 8))
    result = profile(model, ids, warmup=1, repeats=2, timer=ticking_clock)

    residuals = [row for row in result.rows if row.kind == "Residual"]
    assert len(residuals) == 2 and all(row.seconds is None for row in residuals), "nothing calls them"
    timed = [row for row in result.rows if row.seconds is not None]
    assert all(row.seconds == 1.0 for row in timed) and len(timed) == len(result.rows) - 2
    assert result.profiled_latency == 2 * len(timed) + 1
    assert result.flops == sum(row.flops for row in result.rows) > 0
    assert result.parameters == sum(p.size for p in model.parameters())

    table = result.table()
    for row in result.rows:
        assert row.name in table
    assert f"{result.flops:,}" in table and f"{result.parameters:,}" in table
    assert "overhead" in table


def test_real_timings_of_a_small_network():
    model = Sequential(Linear(64, 256, rng=0), ReLU(), Linear(256, 10, rng=1))
    x = Tensor(np.random.default_rng(2).standard_normal((128, 64)).astype(np.float32))
    result = profile(model, x, warmup=2, repeats=5)
    assert all(row.seconds > 0 for row in result.rows)
    assert 0 < result.latency and 0 < result.profiled_latency
    shares = [result.share(row) for row in result.rows]
    assert all(0 < share < 1 for share in shares)
