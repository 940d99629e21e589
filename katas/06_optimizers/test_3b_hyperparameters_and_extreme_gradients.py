"""Hyper-parameters that are not finite numbers, float16 weights, and gradients too large to square."""

import re

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.optim import SGD, Adam, AdamW


def weights(dtype=np.float32, value=1.0):
    return Tensor(np.full(3, value, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("lr", ["0.1", None, [0.1], True])
def test_a_learning_rate_that_is_not_a_number_is_a_type_error(lr):
    for optimizer in (SGD, Adam):
        with pytest.raises(TypeError, match=r"lr") as error:
            optimizer([weights()], lr=lr)
        assert repr(lr) in str(error.value)


@pytest.mark.parametrize("lr", [float("inf"), float("-inf"), float("nan"), np.float32("inf")])
def test_a_learning_rate_that_is_not_finite_is_a_value_error(lr):
    for optimizer in (SGD, Adam, AdamW):
        with pytest.raises(ValueError, match=r"lr.*(inf|nan)"):
            optimizer([weights()], lr=lr)


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, weight_decay=float("inf")),
    lambda p: SGD(p, lr=0.1, momentum=float("nan")),
    lambda p: SGD(p, lr=0.1, momentum=float("inf")),
    lambda p: Adam(p, eps=float("inf")),
    lambda p: Adam(p, eps=0.0),
    lambda p: AdamW(p, weight_decay=float("nan")),
])
def test_other_hyper_parameters_must_be_finite_too(make):
    with pytest.raises(ValueError):
        make([weights()])


def test_numpy_numbers_are_fine():
    optimizer = SGD([weights()], lr=np.float32(0.5), momentum=np.float64(0.9))
    assert optimizer.lr == 0.5


def test_adam_on_float16_weights_keeps_float32_moments():
    param = weights(np.float16)
    optimizer = Adam([param], lr=0.01)
    param.grad = Tensor(np.array([300.0, -300.0, 1e-3], dtype=np.float16))   # 300**2 > 65504
    optimizer.step()
    assert param.dtype == np.float16
    assert optimizer.state[0]["m"].dtype == np.float32 and optimizer.state[0]["v"].dtype == np.float32
    np.testing.assert_allclose(param.numpy().astype(np.float32), [0.99, 1.01, 0.99], atol=1e-3)


@pytest.mark.parametrize("bad", [1e30, float("inf"), float("nan")])
def test_adam_refuses_a_gradient_whose_square_overflows(bad):
    param = weights(np.float32)
    optimizer = Adam([param], lr=0.01)
    param.grad = Tensor(np.array([1.0, 1.0, 1.0], dtype=np.float32))
    optimizer.step()
    before, state = param.numpy().copy(), {k: np.copy(v) for k, v in optimizer.state[0].items()}
    param.grad = Tensor(np.array([1.0, bad, -1.0], dtype=np.float32))
    with pytest.raises(FloatingPointError, match=re.escape(format(bad, ".3g"))):
        optimizer.step()
    np.testing.assert_array_equal(param.numpy(), before)             # nothing changed
    for key, value in state.items():
        np.testing.assert_array_equal(optimizer.state[0][key], value)


def test_adam_takes_a_huge_gradient_whose_square_still_fits():
    param = weights(np.float32)
    param.grad = Tensor(np.array([1e18, -1e18, 1.0], dtype=np.float32))
    Adam([param], lr=0.01).step()
    np.testing.assert_allclose(param.numpy(), [0.99, 1.01, 0.99], rtol=1e-6)
