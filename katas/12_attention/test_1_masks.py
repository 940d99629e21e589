"""Masks are boolean, and True means KEEP: query i may look at key j."""

import numpy as np
import pytest

from tinytorch.nn import causal_mask, padding_mask

T, F = True, False


def test_causal_mask_is_the_lower_triangle_with_the_diagonal():
    mask = causal_mask(4)
    assert mask.dtype == np.bool_ and mask.shape == (4, 4)
    np.testing.assert_array_equal(mask, [[T, F, F, F],
                                         [T, T, F, F],
                                         [T, T, T, F],
                                         [T, T, T, T]])
    np.testing.assert_array_equal(causal_mask(1), [[T]])


def test_with_more_keys_the_queries_are_the_last_positions():
    """What a decoder with a KV cache needs: 2 new tokens at positions 3 and 4 of 5."""
    np.testing.assert_array_equal(causal_mask(2, 5), [[T, T, T, T, F],
                                                      [T, T, T, T, T]])
    np.testing.assert_array_equal(causal_mask(1, 3), [[T, T, T]])
    np.testing.assert_array_equal(causal_mask(3, 3), causal_mask(3))


def test_fewer_keys_than_queries_is_a_value_error():
    with pytest.raises(ValueError, match="num_queries=3.*num_keys=2"):
        causal_mask(3, 2)


def test_padding_mask_keeps_the_first_length_keys_of_each_sequence():
    mask = padding_mask([3, 1, 4, 0], 4)
    assert mask.dtype == np.bool_ and mask.shape == (4, 1, 4)
    np.testing.assert_array_equal(mask[:, 0], [[T, T, T, F],
                                               [T, F, F, F],
                                               [T, T, T, T],
                                               [F, F, F, F]])


def test_padding_mask_broadcasts_over_the_queries():
    scores = np.zeros((2, 3, 5))
    assert np.broadcast_shapes(padding_mask(np.array([2, 5]), 5).shape, scores.shape) == scores.shape


@pytest.mark.parametrize("lengths", [[2, 6], [-1, 2]])
def test_a_length_outside_the_sequence_is_a_value_error(lengths):
    bad = next(n for n in lengths if not 0 <= n <= 5)
    with pytest.raises(ValueError, match=str(bad)):
        padding_mask(lengths, 5)
