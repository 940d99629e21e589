"""Amdahl's law: what speeding up one part can do for the whole.

The formula against cases worked by hand. The systems view (test_6) checks it against a
real measurement: a part of a real network made faster by a measured factor.
"""

import math

import pytest

from tinytorch.systems.profiling import amdahl_speedup


@pytest.mark.parametrize("fraction, factor, speedup", [
    (0.5, 2.0, 4 / 3),        # half the time, twice as fast: 1 / (0.5 + 0.25)
    (0.9, 10.0, 1 / 0.19),    # 1 / (0.1 + 0.09)
    (0.25, 0.5, 0.8),         # a part made twice as SLOW: 1 / (0.75 + 0.5)
    (0.0, 100.0, 1.0),        # speeding up nothing changes nothing
    (1.0, 4.0, 4.0),          # speeding up everything speeds up everything
    (0.6, 1.0, 1.0),
])
def test_worked_cases(fraction, factor, speedup):
    assert amdahl_speedup(fraction, factor) == pytest.approx(speedup, rel=1e-12)


def test_the_untouched_part_is_a_ceiling():
    assert amdahl_speedup(0.9, math.inf) == pytest.approx(10.0)
    assert amdahl_speedup(0.8, 1e12) == pytest.approx(5.0)
    speedups = [amdahl_speedup(0.75, factor) for factor in (1, 2, 4, 8, 16, 1000)]
    assert speedups == sorted(speedups) and speedups[-1] < 4.0


def test_the_part_matters_more_than_the_factor():
    """A 2x speedup of 80 % of the time beats a 100x speedup of 20 %."""
    assert amdahl_speedup(0.8, 2) > amdahl_speedup(0.2, 100)


@pytest.mark.parametrize("fraction, factor, problem", [
    (-0.1, 2.0, "fraction"), (1.5, 2.0, "fraction"), (0.5, 0.0, "factor"), (0.5, -3.0, "factor"),
])
def test_impossible_inputs_are_named(fraction, factor, problem):
    with pytest.raises(ValueError, match=problem):
        amdahl_speedup(fraction, factor)
