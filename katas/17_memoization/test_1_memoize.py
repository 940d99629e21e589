"""Memoization of any pure function: an LRU cache that counts its hits and misses."""

import numpy as np
import pytest

from tinytorch.systems.memoization import memoize


def test_fibonacci_computes_each_value_once():
    calls = []

    @memoize(maxsize=None)
    def fib(n):
        calls.append(n)
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(30) == 832040
    assert sorted(calls) == list(range(31))           # every n once, never twice
    # fib(n) for n >= 3 finds fib(n - 2) already stored: 28 hits; 31 distinct values: 31 misses
    assert (fib.misses, fib.hits) == (31, 28)
    assert fib(30) == 832040 and (fib.misses, fib.hits) == (31, 29) and len(calls) == 31
    assert fib.__name__ == "fib"


def test_the_least_recently_used_result_is_evicted():
    calls = []

    @memoize(maxsize=2)
    def square(x):
        calls.append(x)
        return x * x

    for x in [1, 2, 1, 3]:        # 1 was used after 2, so 3 evicts 2 (first in, first out would evict 1)
        square(x)
    assert calls == [1, 2, 3] and (square.misses, square.hits) == (3, 1)
    assert square(1) == 1 and calls == [1, 2, 3]      # still stored
    assert square(2) == 4 and calls == [1, 2, 3, 2]   # evicted: computed again
    assert square(3) == 9 and calls == [1, 2, 3, 2, 3]  # 2 and 1 were used more recently
    assert (square.misses, square.hits) == (5, 2)


def test_keyword_arguments_are_part_of_the_key_and_none_means_unbounded():
    calls = []

    @memoize(maxsize=None)
    def power(x, exponent=2):
        calls.append((x, exponent))
        return x ** exponent

    assert [power(2, exponent=e) for e in range(200)] == [2 ** e for e in range(200)]
    assert [power(2, exponent=e) for e in range(200)] == [2 ** e for e in range(200)]
    assert len(calls) == 200 and (power.misses, power.hits) == (200, 200)


def test_cache_clear_forgets_results_and_counts():
    calls = []

    @memoize()
    def double(x):
        calls.append(x)
        return 2 * x

    double(4)
    double(4)
    double.cache_clear()
    assert (double.misses, double.hits) == (0, 0)
    assert double(4) == 8 and calls == [4, 4] and (double.misses, double.hits) == (1, 0)


def test_unhashable_arguments_are_a_type_error_and_maxsize_must_be_positive():
    @memoize()
    def total(values):
        return sum(values)

    assert total((1, 2, 3)) == 6
    with pytest.raises(TypeError, match="list"):
        total([1, 2, 3])
    with pytest.raises(TypeError, match="ndarray"):
        total(np.arange(3))
    assert (total.misses, total.hits) == (1, 0)
    with pytest.raises(ValueError, match="maxsize"):
        memoize(maxsize=0)
