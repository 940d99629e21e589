"""The masked, numerically stable softmax at the heart of attention."""

import warnings

import numpy as np
import pytest

from tinytorch.nn import masked_softmax

SCORES = np.random.default_rng(2).standard_normal((2, 3, 5)) * 3          # (batch, queries, keys): keys are the last axis


def softmax_of_kept(row: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.zeros_like(row, dtype=np.float64)
    e = np.exp(row[keep] - row[keep].max())
    out[keep] = e / e.sum()
    return out


def test_without_a_mask_it_is_the_softmax_over_the_keys():
    weights = masked_softmax(SCORES)
    expected = np.exp(SCORES) / np.exp(SCORES).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(weights, expected, rtol=1e-12)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)


def test_masked_keys_get_exactly_zero_and_the_rest_still_sums_to_one(rng):
    keep = rng.random((2, 3, 5)) > 0.4
    keep[..., 0] = True
    weights = masked_softmax(SCORES, keep)
    assert np.all(weights[~keep] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-12)
    for index in np.ndindex(2, 3):
        np.testing.assert_allclose(weights[index], softmax_of_kept(SCORES[index], keep[index]), rtol=1e-12)


def test_a_mask_broadcasts_against_the_scores():
    causal = np.tril(np.ones((3, 5), dtype=bool))
    np.testing.assert_array_equal(masked_softmax(SCORES, causal) == 0, np.broadcast_to(~causal, SCORES.shape))
    padding = np.array([[[True, True, False, False, False]], [[True] * 5]])   # (2, 1, 5)
    weights = masked_softmax(SCORES, padding)
    np.testing.assert_allclose(weights[0, :, :2].sum(axis=-1), 1.0)
    np.testing.assert_allclose(weights[1], masked_softmax(SCORES[1]))


def test_huge_scores_stay_finite():
    scores = np.array([[1000.0, 0.0, -1000.0], [3000.0, 3000.0, 2999.0]], dtype=np.float32)
    weights = masked_softmax(scores)
    assert weights.dtype == np.float32
    e = np.exp(1.0)
    np.testing.assert_allclose(weights, [[1, 0, 0], [e / (2 * e + 1), e / (2 * e + 1), 1 / (2 * e + 1)]],
                               rtol=1e-6, atol=1e-30)


def test_a_fully_masked_row_is_all_zeros_without_nan_or_warning():
    keep = np.ones((2, 3, 5), dtype=bool)
    keep[0, 1] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weights = masked_softmax(SCORES, keep)
    np.testing.assert_array_equal(weights[0, 1], 0.0)
    np.testing.assert_allclose(weights[0, 0].sum(), 1.0)


def test_the_scores_are_left_untouched():
    scores = SCORES.copy()
    masked_softmax(scores, np.tril(np.ones((3, 5), dtype=bool)))
    np.testing.assert_array_equal(scores, SCORES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_dtype_is_kept(dtype):
    assert masked_softmax(SCORES.astype(dtype), np.ones(5, dtype=bool)).dtype == dtype
