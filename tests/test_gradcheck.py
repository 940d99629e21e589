"""gradcheck itself: it passes correct backward rules and catches wrong ones.

gradcheck imports ``tinytorch.core.Tensor`` when called. These tests hand it a toy Tensor
instead (one hand-written backward rule per function), so what is tested is gradcheck,
not any TinyTorch implementation.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import WEIGHTING_SEED, gradcheck


class ToyTensor:
    """Just what gradcheck uses: data, requires_grad, grad, backward(gradient)."""

    def __init__(self, data, requires_grad: bool = False) -> None:
        self.data = np.asarray(data)
        self.requires_grad = requires_grad
        self.grad: ToyTensor | None = None
        self.backward_rule = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def backward(self, gradient: ToyTensor) -> None:
        self.backward_rule(np.asarray(gradient.data))


@pytest.fixture(autouse=True)
def toy_tinytorch(monkeypatch):
    core = types.ModuleType("tinytorch.core")
    core.Tensor = ToyTensor
    monkeypatch.setitem(sys.modules, "tinytorch", types.ModuleType("tinytorch"))
    monkeypatch.setitem(sys.modules, "tinytorch.core", core)


def elementwise(value, derivative):
    """A function applied element-wise, with ``derivative`` as its backward rule."""
    def fn(x):
        out = ToyTensor(value(x.data))

        def rule(grad):
            x.grad = ToyTensor(grad * derivative(x.data))
        out.backward_rule = rule
        return out
    return fn


def softmax(backward):
    def fn(x):
        e = np.exp(x.data - x.data.max(axis=-1, keepdims=True))
        s = e / e.sum(axis=-1, keepdims=True)
        out = ToyTensor(s)

        def rule(grad):
            x.grad = ToyTensor(backward(s, grad))
        out.backward_rule = rule
        return out
    return fn


def product(wrong_b: bool = False):
    def fn(a, b):
        out = ToyTensor(a.data * b.data)

        def rule(grad):
            a.grad = ToyTensor(grad * b.data)
            b.grad = ToyTensor(grad * (a.data + 1 if wrong_b else a.data))
        out.backward_rule = rule
        return out
    return fn


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def test_a_correct_rule_passes():
    gradcheck(elementwise(np.sin, np.cos), X)
    gradcheck(product(), X, X[::-1].copy())


def test_a_wrong_rule_is_named_with_the_worst_element_and_both_values():
    with pytest.raises(AssertionError) as error:
        gradcheck(elementwise(lambda v: v ** 3, lambda v: 3 * v ** 3), X)   # should be 3 v^2
    weights = np.random.default_rng(WEIGHTING_SEED).standard_normal(X.shape)
    analytic, true = weights * 3 * X ** 3, weights * 3 * X ** 2
    worst = np.unravel_index(np.argmax(np.abs(analytic - true) - 1e-4 * np.abs(true)), X.shape)
    message = str(error.value)
    assert "input 0" in message
    assert str(tuple(int(i) for i in worst)) in message
    assert f"{analytic[worst]:.6g}"[:6] in message and f"{true[worst]:.6g}"[:6] in message


def test_the_input_at_fault_is_named():
    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(product(wrong_b=True), X, X * 2)


def test_a_rule_that_ignores_the_incoming_gradient_is_caught():
    """With a seed of ones (the gradient of a plain sum) this rule would pass."""
    def ignores_grad(v):
        out = ToyTensor(v.data * 2.0)

        def rule(grad):
            v.grad = ToyTensor(np.full_like(v.data, 2.0))
        out.backward_rule = rule
        return out

    ones = ToyTensor(X.copy(), requires_grad=True)
    ignores_grad(ones).backward(ToyTensor(np.ones_like(X)))
    np.testing.assert_array_equal(ones.grad.data, np.full_like(X, 2.0))   # fooled by ones
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(ignores_grad, X)


def test_a_softmax_gradient_that_a_plain_sum_cannot_see_is_caught():
    """Softmax rows sum to 1, so the gradient of their sum is 0: a rule returning zeros
    looks right under a plain sum. The random weighting exposes it."""
    correct = softmax(lambda s, g: s * (g - (g * s).sum(axis=-1, keepdims=True)))
    gradcheck(correct, X)
    with pytest.raises(AssertionError):
        gradcheck(softmax(lambda s, g: np.zeros_like(s)), X)
    with pytest.raises(AssertionError):
        gradcheck(softmax(lambda s, g: g * s * (1 - s)), X)            # the diagonal only


def test_an_input_that_receives_no_gradient_is_reported():
    def forgets_b(a, b):
        out = ToyTensor(a.data + b.data)

        def rule(grad):
            a.grad = ToyTensor(grad)
        out.backward_rule = rule
        return out

    with pytest.raises(AssertionError, match="input 1 .*no gradient"):
        gradcheck(forgets_b, X, X)


def test_a_gradient_of_the_wrong_shape_is_reported():
    def summed_bias(x, bias):
        out = ToyTensor(x.data + bias.data)

        def rule(grad):
            x.grad = ToyTensor(grad)
            bias.grad = ToyTensor(grad)              # not summed over the batch axis
        out.backward_rule = rule
        return out

    with pytest.raises(AssertionError, match=r"input 1 has shape \(3,\)|shape \(2, 3\).*\(3,\)"):
        gradcheck(summed_bias, X, np.zeros(3))


def test_a_nan_gradient_fails():
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(elementwise(np.sin, lambda v: np.where(v > 1, np.nan, np.cos(v))), X)


def test_inputs_are_float64_tensors_that_require_grad_and_the_arrays_are_not_modified():
    seen = []

    def spy(x):
        seen.append((x.data.dtype, x.requires_grad))
        return elementwise(np.exp, np.exp)(x)

    original = X.astype(np.float32)
    kept = original.copy()
    gradcheck(spy, original)
    assert seen[0] == (np.float64, True)
    assert all(dtype == np.float64 for dtype, _ in seen)
    np.testing.assert_array_equal(original, kept)


def test_a_scalar_input_and_a_scalar_output():
    def square_sum(x):
        out = ToyTensor((x.data ** 2).sum())

        def rule(grad):
            x.grad = ToyTensor(grad * 2 * x.data)
        out.backward_rule = rule
        return out

    gradcheck(square_sum, np.array(1.5))
    gradcheck(square_sum, X)


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda x: x.data * 2, X)
