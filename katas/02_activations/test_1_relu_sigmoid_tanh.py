"""ReLU, Sigmoid and Tanh: element-wise, new tensors out, float32 kept, no overflow."""

import numpy as np
import pytest

from tinytorch.core import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, Tensor

X = np.array([[-3.0, -0.5, 0.0], [0.25, 2.0, 7.5]], dtype=np.float32)
ALL_ACTIVATIONS = [ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax]


def exact_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + e^-x), evaluated without overflow


def test_relu_keeps_positives_and_zeroes_the_rest():
    out = ReLU()(Tensor(X))
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.numpy(), [[0.0, 0.0, 0.0], [0.25, 2.0, 7.5]])


def test_relu_of_a_large_random_tensor_matches_maximum():
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(ReLU()(Tensor(x)).numpy(), np.maximum(x, 0))


def test_sigmoid_matches_the_logistic_function():
    out = Sigmoid()(Tensor(X))
    np.testing.assert_allclose(out.numpy(), exact_sigmoid(X), rtol=1e-6)
    assert Sigmoid()(Tensor(0.0)).item() == 0.5


def test_sigmoid_is_symmetric():
    x = np.linspace(-12, 12, 49).astype(np.float32)
    positive = Sigmoid()(Tensor(x)).numpy()
    negative = Sigmoid()(Tensor(-x)).numpy()
    np.testing.assert_allclose(positive + negative, np.ones_like(x), atol=1e-6)


def test_sigmoid_of_extreme_values_without_overflow():
    x = np.array([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0], dtype=np.float32)
    with np.errstate(all="raise", under="ignore"):  # overflow is an error here
        out = Sigmoid()(Tensor(x)).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[[0, 4, 5]], [0.0, 1.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(out[2], exact_sigmoid(-30.0), rtol=1e-5)


def test_tanh_matches_numpy_and_saturates_without_nan():
    np.testing.assert_allclose(Tanh()(Tensor(X)).numpy(), np.tanh(X.astype(np.float64)), rtol=1e-6)
    with np.errstate(all="raise", under="ignore"):  # overflow is an error here
        out = Tanh()(Tensor(np.array([-1000.0, 1000.0], dtype=np.float32))).numpy()
    np.testing.assert_array_equal(out, [-1.0, 1.0])


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_float32_in_float32_out(activation):
    out = activation()(Tensor(X))
    assert out.dtype == np.float32
    assert out.shape == X.shape


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_the_input_is_left_unchanged(activation):
    data = np.array([[-3.0, -0.5, 0.0], [0.25, 2.0, 7.5]], dtype=np.float32)
    x = Tensor(data.copy())
    out = activation()(x)
    np.testing.assert_array_equal(x.numpy(), data)
    assert out is not x and not np.shares_memory(out.numpy(), x.numpy())


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_calling_runs_forward(activation):
    a = activation()
    np.testing.assert_array_equal(a(Tensor(X)).numpy(), a.forward(Tensor(X)).numpy())
