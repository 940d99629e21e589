"""The bootstrap confidence interval of the median: exact, and with the right behaviour.

The expected interval is recomputed here by the procedure the docstring fixes (same seed,
same draws), so a bootstrap of the mean, the wrong percentiles or a resample of the wrong
size gives different numbers.
"""

import numpy as np
import pytest

from tinytorch.systems import bootstrap_median_ci, summarize


def timings(count: int, seed: int) -> np.ndarray:
    """Right-skewed like real timings: 1 ms plus an exponential tail."""
    return 1e-3 + np.random.default_rng(seed).exponential(2e-4, size=count)


def expected_interval(samples: np.ndarray, resamples: int, confidence: float, seed: int):
    rng = np.random.default_rng(seed)
    medians = np.median(samples[rng.integers(0, samples.size, size=(resamples, samples.size))], axis=1)
    tail = 100 * (1 - confidence) / 2
    return tuple(np.percentile(medians, [tail, 100 - tail]))


@pytest.mark.parametrize("count, resamples, confidence, seed", [
    (30, 2000, 0.95, 0), (11, 500, 0.9, 7), (200, 1000, 0.99, 3),
])
def test_the_interval_is_the_percentile_bootstrap_of_the_median(count, resamples, confidence, seed):
    samples = timings(count, seed + 100)
    low, high = bootstrap_median_ci(samples, resamples=resamples, confidence=confidence, seed=seed)
    expected_low, expected_high = expected_interval(samples, resamples, confidence, seed)
    assert low == pytest.approx(expected_low, rel=1e-12)
    assert high == pytest.approx(expected_high, rel=1e-12)
    assert type(low) is float and type(high) is float


def test_the_default_is_2000_resamples_at_95_percent_with_seed_0():
    samples = timings(40, 1)
    assert bootstrap_median_ci(samples) == pytest.approx(expected_interval(samples, 2000, 0.95, 0),
                                                         rel=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_interval_contains_the_sample_median(seed):
    samples = timings(25, seed)
    low, high = bootstrap_median_ci(samples, seed=seed)
    assert low < np.median(samples) < high
    assert low >= samples.min() and high <= samples.max()


def test_more_timings_give_a_narrower_interval():
    widths = []
    for count in (10, 100, 1000):
        low, high = bootstrap_median_ci(timings(count, 5), resamples=1000)
        widths.append(high - low)
    assert widths[0] > 2 * widths[1] > 4 * widths[2], f"widths {widths}: about 1 / sqrt(n)"


def test_more_confidence_gives_a_wider_interval():
    samples = timings(60, 2)
    widths = [np.subtract(*bootstrap_median_ci(samples, confidence=c)[::-1]) for c in (0.5, 0.9, 0.99)]
    assert widths[0] < widths[1] < widths[2], f"widths at 50, 90 and 99 %: {widths}"


def test_the_seed_makes_it_reproducible():
    samples = timings(30, 4)
    assert bootstrap_median_ci(samples, seed=11) == bootstrap_median_ci(samples, seed=11)
    assert bootstrap_median_ci(samples, seed=11) != bootstrap_median_ci(samples, seed=12)


def test_one_timing_has_no_uncertainty_to_show():
    assert bootstrap_median_ci([0.25]) == (0.25, 0.25)


def test_the_summary_carries_the_interval():
    samples = timings(50, 6)
    summary = summarize(samples, confidence=0.9, resamples=700, seed=5)
    assert (summary.ci_low, summary.ci_high) == bootstrap_median_ci(samples, 700, 0.9, 5)
    assert summary.relative_ci_width == pytest.approx((summary.ci_high - summary.ci_low) / summary.median)


@pytest.mark.parametrize("kwargs, problem", [
    ({"resamples": 0}, "resamples"),
    ({"confidence": 1.0}, "confidence"),
    ({"confidence": 0.0}, "confidence"),
    ({"confidence": 95}, "confidence"),
])
def test_bad_arguments_are_named(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        bootstrap_median_ci([1.0, 2.0, 3.0], **kwargs)
