"""Robust statistics of timings: median, quartiles, IQR and tail percentiles.

Every expected value comes from NumPy on the same numbers, so a quantile computed another
way (nearest rank, an index off by one, the mean for the median) shows up at once.
"""

import json

import numpy as np
import pytest

from tinytorch.systems import summarize

# Nine ordinary runs and one that the operating system interrupted.
WITH_OUTLIER = [1.0, 1.2, 0.9, 1.1, 1.0, 1.3, 0.8, 1.1, 1.0, 25.0]


def test_the_median_ignores_an_outlier_that_drags_the_mean():
    summary = summarize(WITH_OUTLIER)
    assert summary.median == pytest.approx(1.05)
    assert summary.mean == pytest.approx(np.mean(WITH_OUTLIER))
    assert summary.mean > 3 * summary.median
    assert summary.count == 10


def test_median_of_an_odd_and_an_even_count():
    assert summarize([5.0, 1.0, 3.0]).median == 3.0
    assert summarize([4.0, 1.0, 3.0, 2.0]).median == 2.5


def test_quartiles_and_iqr_follow_np_percentile():
    values = np.array([7.0, 1.0, 3.0, 10.0, 2.0, 8.0, 4.0, 6.0, 5.0, 9.0])
    summary = summarize(values)
    q1, q3 = np.percentile(values, [25, 75])
    assert (q1, q3) == (3.25, 7.75)  # linear interpolation, not the nearest rank (3 and 8)
    assert summary.q1 == pytest.approx(q1, rel=1e-12)
    assert summary.q3 == pytest.approx(q3, rel=1e-12)
    assert summary.iqr == pytest.approx(4.5, rel=1e-12)


def test_the_iqr_is_not_the_range():
    summary = summarize(WITH_OUTLIER)
    q1, q3 = np.percentile(WITH_OUTLIER, [25, 75])
    assert summary.iqr == pytest.approx(q3 - q1, rel=1e-12)
    assert summary.iqr < 0.5, "the IQR is the spread of the middle half, not max - min"
    assert summary.minimum == 0.8 and summary.maximum == 25.0


@pytest.mark.parametrize("count", [7, 100, 1000])
def test_tail_percentiles_follow_np_percentile(count):
    values = np.random.default_rng(count).permutation(np.arange(1, count + 1)).astype(np.float64)
    summary = summarize(values, resamples=10)
    p90, p99 = np.percentile(values, [90, 99])
    assert summary.p90 == pytest.approx(p90, rel=1e-12)
    assert summary.p99 == pytest.approx(p99, rel=1e-12)


def test_p99_of_one_hundred_values_interpolates():
    summary = summarize(np.arange(100, 0, -1, dtype=np.float64), resamples=10)
    assert summary.p90 == pytest.approx(90.1, rel=1e-12)   # sorted[89] + 0.1 * (sorted[90] - sorted[89])
    assert summary.p99 == pytest.approx(99.01, rel=1e-12)  # not sorted[99] = 100, not sorted[98] = 99


def test_the_summary_holds_plain_python_numbers_for_json():
    summary = summarize(np.array([3, 1, 2], dtype=np.int32), resamples=50, confidence=0.9)
    assert type(summary.count) is int and type(summary.resamples) is int
    assert all(type(getattr(summary, name)) is float for name in
               ("mean", "median", "q1", "q3", "iqr", "p90", "p99", "minimum", "maximum",
                "ci_low", "ci_high", "confidence"))
    assert summary.resamples == 50 and summary.confidence == 0.9
    json.dumps(summary.__dict__)


@pytest.mark.parametrize("samples, problem", [
    ([], "at least one timing"),
    ([1.0, float("nan")], "finite"),
    ([1.0, float("inf")], "finite"),
])
def test_bad_timings_are_refused(samples, problem):
    with pytest.raises(ValueError, match=problem):
        summarize(samples)
