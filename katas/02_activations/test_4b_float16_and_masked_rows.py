"""float16 inputs (computed in float32, returned as float16) and rows of only -inf scores."""

import warnings

import numpy as np
import pytest

from tinytorch.core import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, Tensor

HALF_MAX = float(np.finfo(np.float16).max)   # 65504


def quietly(function, *args):
    """Run function(*args) with every NumPy warning (overflow, invalid) an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


def gelu_in_float64(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def test_gelu_of_float16_does_not_overflow_in_x_cubed():
    x = np.array([-1e4, -50.0, -1.5, 0.0, 0.75, 50.0, 1e4], dtype=np.float16)
    out = quietly(GELU(), Tensor(x))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.numpy().astype(np.float64), gelu_in_float64(x), rtol=2e-3, atol=1e-3)


def test_softmax_of_float16_sums_more_terms_than_float16_can_count():
    out = quietly(Softmax(), Tensor(np.zeros((2, 70_000), dtype=np.float16)))
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.numpy().astype(np.float64), 1 / 70_000, rtol=5e-3)  # subnormal


def test_log_softmax_of_float16_stays_finite_and_float16():
    out = quietly(LogSoftmax(), Tensor(np.array([[-6e4, 6e4], [1.0, 2.0]], dtype=np.float16)))
    assert out.dtype == np.float16
    assert np.isfinite(out.numpy()).all()
    assert out.numpy()[0, 0] == -HALF_MAX        # -120000 is clipped to float16's largest
    np.testing.assert_allclose(out.numpy()[1].astype(np.float64), [-1.3133, -0.3133], atol=2e-3)


@pytest.mark.parametrize("activation", [ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax])
def test_every_activation_returns_the_dtype_it_was_given(activation):
    for dtype in (np.float16, np.float32, np.float64):
        x = Tensor(np.array([[-3.0, 0.5, 40.0]], dtype=dtype))
        assert quietly(activation(), x).dtype == dtype


def test_a_row_of_only_minus_infinity_has_softmax_zeros():
    scores = np.array([[-np.inf, -np.inf, -np.inf], [0.0, 1.0, -np.inf]], dtype=np.float32)
    out = quietly(Softmax(), Tensor(scores)).numpy()
    np.testing.assert_array_equal(out[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[1], [1 / (1 + np.e), np.e / (1 + np.e), 0.0], rtol=1e-6)
    columns = quietly(Softmax(axis=0), Tensor(scores.T)).numpy()
    np.testing.assert_array_equal(columns[:, 0], [0.0, 0.0, 0.0])


def test_a_row_of_only_minus_infinity_has_log_softmax_minus_infinity():
    scores = np.array([[-np.inf, -np.inf], [0.0, -np.inf]], dtype=np.float32)
    out = quietly(LogSoftmax(), Tensor(scores)).numpy()
    np.testing.assert_array_equal(out, [[-np.inf, -np.inf], [0.0, -np.inf]])
