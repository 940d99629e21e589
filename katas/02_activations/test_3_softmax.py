"""Softmax: probabilities along any axis, exact even for logits in the thousands."""

import math

import numpy as np

from tinytorch.core import Softmax, Tensor

STRICT = {"all": "raise", "under": "ignore"}  # overflow and nan become errors, not warnings


def exact_softmax(x, axis):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_of_a_small_vector():
    out = Softmax()(Tensor([1.0, 2.0, 3.0]))
    assert isinstance(out, Tensor)
    e = [math.exp(1.0), math.exp(2.0), math.exp(3.0)]
    np.testing.assert_allclose(out.numpy(), [v / sum(e) for v in e], rtol=1e-6)


def test_softmax_of_1000_and_1001_is_finite_and_exact():
    with np.errstate(**STRICT):
        out = Softmax()(Tensor([[1000.0, 1001.0]])).numpy()
    e = math.e
    np.testing.assert_allclose(out, [[1 / (1 + e), e / (1 + e)]], rtol=1e-6)


def test_very_negative_logits_do_not_divide_zero_by_zero():
    with np.errstate(**STRICT):
        out = Softmax()(Tensor([[-1000.0, -1001.0], [-5000.0, -5000.0]])).numpy()
    e = math.e
    np.testing.assert_allclose(out, [[e / (1 + e), 1 / (1 + e)], [0.5, 0.5]], rtol=1e-6)


def test_shifting_every_logit_of_a_row_changes_nothing():
    x = np.array([[0.5, -1.0, 2.0, 0.0]], dtype=np.float32)
    with np.errstate(**STRICT):
        shifted = Softmax()(Tensor(x + 10_000.0)).numpy()
    np.testing.assert_allclose(shifted, exact_softmax(x, -1), rtol=2e-3)


def test_rows_are_probabilities_by_default():
    x = np.random.default_rng(0).standard_normal((5, 7)) * 4
    out = Softmax()(Tensor(x)).numpy()
    np.testing.assert_allclose(out, exact_softmax(x, -1), rtol=1e-10)
    np.testing.assert_allclose(out.sum(axis=1), np.ones(5), rtol=1e-12)
    assert np.all(out > 0)


def test_axis_0_and_axis_1_of_a_non_square_matrix_differ():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 4.0, 0.5]])
    columns = Softmax(axis=0)(Tensor(x)).numpy()
    rows = Softmax(axis=1)(Tensor(x)).numpy()
    np.testing.assert_allclose(columns, exact_softmax(x, 0), rtol=1e-12)
    np.testing.assert_allclose(rows, exact_softmax(x, 1), rtol=1e-12)
    np.testing.assert_allclose(columns.sum(axis=0), np.ones(3))
    np.testing.assert_allclose(rows.sum(axis=1), np.ones(2))


def test_middle_axis_of_a_3d_tensor():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)) * 3
    out = Softmax(axis=1)(Tensor(x)).numpy()
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out, exact_softmax(x, 1), rtol=1e-10)
    np.testing.assert_allclose(out.sum(axis=1), np.ones((2, 4)), rtol=1e-12)


def test_negative_axis_counts_from_the_end():
    x = np.random.default_rng(2).standard_normal((2, 3, 4)) * 3
    np.testing.assert_allclose(Softmax(axis=-2)(Tensor(x)).numpy(), exact_softmax(x, 1), rtol=1e-10)
    np.testing.assert_allclose(Softmax()(Tensor(x)).numpy(), exact_softmax(x, 2), rtol=1e-10)


def test_large_logits_along_the_first_axis():
    x = np.array([[1000.0, -3.0], [1001.0, -4.0]], dtype=np.float32)
    with np.errstate(**STRICT):
        out = Softmax(axis=0)(Tensor(x)).numpy()
    np.testing.assert_allclose(out, exact_softmax(x, 0), rtol=1e-6)
