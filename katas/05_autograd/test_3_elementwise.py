"""Backward rules of element-wise arithmetic, exp and log, with broadcasting.

gradcheck (pytest_tinytorch/gradcheck.py) compares your backward() with finite
differences; read its docstring to see what its error messages mean.
"""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor

rng = np.random.default_rng(5)
A = rng.standard_normal((4, 3))
B = rng.standard_normal((4, 3))
POSITIVE = rng.uniform(0.5, 2.0, (4, 3))
EXPONENTS = rng.uniform(-1.5, 1.5, (4, 3))
MIXED = rng.uniform(-1, 1, (3, 4))
NEGATIVE = rng.uniform(-2, -0.5, (4,))

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", BINARY)
def test_same_shape(name):
    gradcheck(BINARY[name], A, POSITIVE if name == "div" else B)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("left, right", [((4, 3), (3,)), ((3,), (4, 3)), ((2, 1), (1, 3)),
                                         ((2, 3, 4), (3, 1)), ((4, 3), ())],
                         ids=["bias", "bias-left", "row-column", "3d", "scalar-tensor"])
def test_broadcast_operands_get_gradients_of_their_own_shape(name, left, right):
    local = np.random.default_rng(1)
    a = local.uniform(0.5, 2.0, left)
    b = local.uniform(0.5, 2.0, right)
    gradcheck(BINARY[name], a, b)


def test_a_bias_gradient_is_the_column_sum_of_the_upstream_gradient():
    batch = Tensor(np.zeros((4, 3), dtype=np.float32), requires_grad=True)
    bias = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    upstream = np.arange(12, dtype=np.float32).reshape(4, 3)
    (batch + bias).backward(Tensor(upstream))
    np.testing.assert_array_equal(bias.grad.numpy(), [18.0, 22.0, 26.0])
    np.testing.assert_array_equal(batch.grad.numpy(), upstream)


def test_row_plus_column_sums_each_over_the_other_axis():
    column = Tensor(np.zeros((2, 1), dtype=np.float32), requires_grad=True)
    row = Tensor(np.zeros((1, 3), dtype=np.float32), requires_grad=True)
    upstream = np.arange(6, dtype=np.float32).reshape(2, 3)
    (column * 2.0 + row).backward(Tensor(upstream))
    np.testing.assert_array_equal(column.grad.numpy(), [[6.0], [24.0]])
    np.testing.assert_array_equal(row.grad.numpy(), [[3.0, 5.0, 7.0]])


@pytest.mark.parametrize("fn", [lambda x: x + 2.5, lambda x: 2.5 + x, lambda x: x - 2.5,
                                lambda x: 2.5 - x, lambda x: x * 2.5, lambda x: 2.5 * x,
                                lambda x: x / 2.5, lambda x: 2.5 / x],
                         ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv"])
def test_python_numbers_on_either_side(fn):
    gradcheck(fn, POSITIVE)


def test_reflected_subtraction_and_division_by_hand():
    x = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    (10.0 - x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, -1.0, -1.0])
    x.grad = None
    (8.0 / x).sum().backward()                     # d(8/x)/dx = -8/x^2
    np.testing.assert_array_equal(x.grad.numpy(), [-8.0, -2.0, -0.5])


def test_arrays_and_lists_as_operands():
    gradcheck(lambda x: x * np.array([1.0, -2.0, 3.0]) - [0.5, 0.5, 0.5], A)


def test_negation():
    gradcheck(lambda x: -x, A)


def test_power_with_an_integer_exponent_by_hand():
    x = Tensor([1.0, 2.0, -3.0], requires_grad=True)
    (x ** 3).sum().backward()                      # 3 x^2, not 3 x^3 nor 2 x^2
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 12.0, 27.0])


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, -2.5, 1.7])
def test_power(exponent):
    gradcheck(lambda x: x ** exponent, POSITIVE)


def test_power_with_a_tensor_exponent():
    gradcheck(lambda x, p: x ** p, POSITIVE, EXPONENTS)
    gradcheck(lambda x, p: x ** p, POSITIVE, np.array(1.3))


def test_exp_and_log():
    gradcheck(lambda x: x.exp(), A)
    gradcheck(lambda x: x.log(), POSITIVE)
    x = Tensor([1.0, 0.5], requires_grad=True)
    x.exp().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 0.5]), rtol=1e-6)


def test_a_formula_mixing_everything():
    gradcheck(lambda a, b: ((a * b - a / (b + 3.0)) ** 2).exp() * 0.1 - (-b).log() * a,
              MIXED, NEGATIVE)
