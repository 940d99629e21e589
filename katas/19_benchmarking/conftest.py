"""A fake clock for kata 19: time moves only when a test says so, so every figure is exact.

``Benchmark(timer=clock)`` reads the clock; the code being "benchmarked" calls
``clock.advance(seconds)`` to pretend it took that long. Durations are whole numbers, which
floats add without rounding, so the tests compare timings with ``==``.

``tinytorch`` is never imported here: pytest may load this file before the plugin has
chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest


class FakeClock:
    """``clock()`` reads the time; ``clock.advance(seconds)`` moves it forward."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedFunction:
    """A function whose k-th call takes ``durations[k]`` seconds of the fake clock.

    ``calls`` counts the calls, so a test can see how many ran (warm-up included).
    """

    def __init__(self, clock: FakeClock, durations: Sequence[float]) -> None:
        self.clock = clock
        self.durations = list(durations)
        self.calls = 0

    def __call__(self) -> None:
        self.clock.advance(self.durations[self.calls])
        self.calls += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scripted(clock: FakeClock) -> Callable[[Sequence[float]], ScriptedFunction]:
    """``scripted([5, 1, 2])``: a function taking 5, then 1, then 2 seconds of ``clock``."""
    return lambda durations: ScriptedFunction(clock, durations)
