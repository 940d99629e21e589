"""GELU, by the tanh approximation: the exact constants matter."""

import math

import numpy as np

from tinytorch.core import GELU, Tensor

POINTS = [-4.0, -3.0, -2.0, -1.0, -0.75, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]


def tanh_gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def test_gelu_is_the_tanh_formula_to_1e_6():
    out = GELU()(Tensor(np.array(POINTS, dtype=np.float64))).numpy()
    np.testing.assert_allclose(out, [tanh_gelu(x) for x in POINTS], rtol=0, atol=1e-6)


def test_gelu_is_not_the_erf_form_nor_the_sigmoid_shortcut():
    # The exact x * Phi(x) and x * sigmoid(1.702 x) are different functions: this kata's
    # GELU must be the tanh formula, so that later katas can check its gradient.
    x = 1.5
    out = GELU()(Tensor(np.array([x]))).item()
    exact = 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))
    shortcut = x / (1.0 + math.exp(-1.702 * x))
    assert abs(out - tanh_gelu(x)) < 1e-6
    assert abs(out - exact) > 1e-5 and abs(out - shortcut) > 1e-3


def test_gelu_in_float32():
    x = np.array(POINTS, dtype=np.float32)
    out = GELU()(Tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [tanh_gelu(v) for v in POINTS], rtol=1e-5, atol=1e-6)


def test_gelu_shape_is_kept_and_tails_behave_like_relu():
    x = np.array([[-20.0, 20.0], [-8.0, 8.0]], dtype=np.float32)
    out = GELU()(Tensor(x)).numpy()
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, [[0.0, 20.0], [0.0, 8.0]], atol=1e-6)


def test_gelu_dips_below_zero_for_small_negative_inputs():
    out = GELU()(Tensor(np.array([-0.75], dtype=np.float64))).item()
    assert out < -0.16
