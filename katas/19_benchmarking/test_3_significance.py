"""Is B really faster than A? The Mann-Whitney U test, written with NumPy alone.

U is checked against counts done by hand; the p-value against the normal approximation
written out here; the verdict on synthetic timings whose answer is known.
"""

import math

import numpy as np
import pytest

from tinytorch.systems import mann_whitney_p_value, mann_whitney_u, significance_test


def normal_approximation(u: float, n_a: int, n_b: int, tie_sizes: list[int]) -> float:
    """Two-sided p-value with tie and continuity corrections, written out independently."""
    n = n_a + n_b
    variance = n_a * n_b / 12 * ((n + 1) - sum(t ** 3 - t for t in tie_sizes) / (n * (n - 1)))
    z = max(abs(u - n_a * n_b / 2) - 0.5, 0) / math.sqrt(variance)
    return math.erfc(z / math.sqrt(2))


def test_u_counted_by_hand():
    # 3 beats 1; each 5 beats 1 and ties with 5 (1 + 0.5, twice); 9 beats 1, 5 and 8.
    assert mann_whitney_u([3, 5, 5, 9], [1, 5, 8]) == 7.0
    # The other way round: 1 beats nothing; 5 beats 3 and ties twice; 8 beats 3, 5, 5.
    assert mann_whitney_u([1, 5, 8], [3, 5, 5, 9]) == 5.0


def test_u_at_the_extremes():
    assert mann_whitney_u([1.0, 2.0, 3.0], [4.0, 5.0]) == 0.0   # a always faster
    assert mann_whitney_u([4.0, 5.0], [1.0, 2.0, 3.0]) == 6.0   # a always slower: every pair
    assert mann_whitney_u([2.0, 2.0], [2.0, 2.0, 2.0]) == 3.0   # all ties: half of the 6 pairs


def test_the_two_statistics_add_up_to_the_number_of_pairs():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 6, size=13).astype(float), rng.integers(0, 6, size=9).astype(float)
    assert mann_whitney_u(a, b) + mann_whitney_u(b, a) == 13 * 9


def test_p_value_of_two_separated_groups():
    # U = 0, mu = 12.5, sigma = sqrt(25 * 11 / 12): z = 12 / 4.787 = 2.507
    p = mann_whitney_p_value([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert p == pytest.approx(0.0121858, rel=1e-5)
    assert p == pytest.approx(normal_approximation(0.0, 5, 5, []), rel=1e-12)


def test_p_value_with_ties_uses_the_tie_correction():
    a = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0]
    b = [4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 8.0, 9.0, 9.0]
    _, tie_sizes = np.unique(a + b, return_counts=True)
    expected = normal_approximation(mann_whitney_u(a, b), 8, 9, tie_sizes.tolist())
    assert mann_whitney_p_value(a, b) == pytest.approx(expected, rel=1e-12)
    assert mann_whitney_p_value(b, a) == pytest.approx(expected, rel=1e-12)  # two-sided


def test_identical_samples_give_p_equal_to_one():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert mann_whitney_p_value(x, x) == 1.0
    assert mann_whitney_p_value([3.0] * 5, [3.0] * 7) == 1.0  # nothing to tell apart


def test_identical_distributions_are_rarely_called_different():
    significant = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        a, b = rng.lognormal(0.0, 0.3, size=30), rng.lognormal(0.0, 0.3, size=30)
        significant += significance_test(a, b, alpha=0.05).significant
    assert significant <= 6, f"{significant} of 40 identical pairs were called different at alpha 0.05"


@pytest.mark.parametrize("seed", range(5))
def test_a_clear_shift_is_significant_and_names_the_faster_system(seed):
    rng = np.random.default_rng(seed)
    slow, fast = 1.3 * rng.lognormal(0.0, 0.1, size=20), rng.lognormal(0.0, 0.1, size=20)

    result = significance_test(slow, fast, alpha=0.01, names=("before", "after"))
    assert result.significant and result.p_value < 0.01
    assert result.faster == "after"
    assert result.u_statistic == mann_whitney_u(slow, fast)
    assert result.verdict.startswith("after is faster")

    swapped = significance_test(fast, slow, alpha=0.01, names=("before", "after"))
    assert swapped.faster == "before"


def test_the_verdict_depends_on_alpha():
    a, b = [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]  # p = 0.0122
    at_5 = significance_test(a, b, alpha=0.05)
    at_1 = significance_test(a, b, alpha=0.01)
    assert at_5.significant and at_5.faster == "a"
    assert not at_1.significant and at_1.faster is None
    assert at_1.p_value == at_5.p_value and at_1.alpha == 0.01
    assert at_1.verdict.startswith("no significant difference")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="alpha"):
        significance_test([1.0, 2.0], [3.0, 4.0], alpha=1.5)
    with pytest.raises(ValueError, match="b is empty"):
        mann_whitney_p_value([1.0, 2.0], [])
