"""unbroadcast and unreduce: where a gradient's shape comes from, before any graph exists."""

import numpy as np
import pytest

from tinytorch.core.autograd import unbroadcast, unreduce


def test_a_gradient_that_already_fits_comes_back_unchanged():
    grad = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(unbroadcast(grad, (2, 3)), grad)


def test_a_bias_gets_the_sum_over_the_batch():
    grad = np.arange(12.0).reshape(4, 3)          # a (3,) bias was added to a (4, 3) batch
    result = unbroadcast(grad, (3,))
    assert result.shape == (3,)
    np.testing.assert_array_equal(result, grad.sum(axis=0))   # [18, 22, 26]


def test_axes_of_size_one_are_summed_and_kept():
    grad = np.arange(6.0).reshape(2, 3)           # (2, 1) + (1, 3) gave (2, 3)
    np.testing.assert_array_equal(unbroadcast(grad, (2, 1)), [[3.0], [12.0]])
    np.testing.assert_array_equal(unbroadcast(grad, (1, 3)), [[3.0, 5.0, 7.0]])


def test_leading_axes_and_size_one_axes_together():
    grad = np.arange(24.0).reshape(2, 3, 4)       # a (3, 1) operand broadcast to (2, 3, 4)
    result = unbroadcast(grad, (3, 1))
    assert result.shape == (3, 1)
    np.testing.assert_array_equal(result, grad.sum(axis=(0, 2))[:, None])


def test_a_scalar_operand_gets_the_sum_of_everything():
    grad = np.arange(6.0).reshape(2, 3)
    result = unbroadcast(grad, ())
    assert np.shape(result) == ()
    assert float(result) == 15.0


def test_unreduce_spreads_a_row_sum_back_over_the_row():
    result = unreduce(np.array([1.0, 2.0]), (2, 3), axis=1, keepdims=False)
    assert result.shape == (2, 3)
    np.testing.assert_array_equal(result, [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_unreduce_of_a_full_reduction():
    result = unreduce(np.array(5.0), (2, 3), axis=None, keepdims=False)
    np.testing.assert_array_equal(result, np.full((2, 3), 5.0))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, (0, 2), (-1, 0), None])
@pytest.mark.parametrize("keepdims", [False, True])
def test_unreduce_sends_each_result_back_to_the_elements_it_came_from(axis, keepdims):
    shape = (2, 3, 4)
    reduced_shape = np.zeros(shape).sum(axis=axis, keepdims=keepdims).shape
    grad = np.random.default_rng(0).standard_normal(reduced_shape)
    result = unreduce(grad, shape, axis, keepdims)
    assert result.shape == shape
    reduced_axes = set(range(3)) if axis is None else {
        a % 3 for a in (axis if isinstance(axis, tuple) else (axis,))}
    for element in np.ndindex(*shape):
        if keepdims:
            source = tuple(0 if i in reduced_axes else j for i, j in enumerate(element))
        else:
            source = tuple(j for i, j in enumerate(element) if i not in reduced_axes)
        assert result[element] == grad[source], f"element {element} of the input"
