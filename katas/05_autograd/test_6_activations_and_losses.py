"""Backward rules for the activations of kata 02 and the losses of kata 04."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, Tensor
from tinytorch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss

constants = np.random.default_rng(11)     # drawn from at import only; the tests take the rng fixture
X = constants.standard_normal((3, 4)) * 2.0
AWAY_FROM_ZERO = np.where(np.abs(X) < 0.1, 0.5, X)   # ReLU has a kink at 0
LOGITS = constants.standard_normal((5, 4)) * 2.0
CLASSES = np.array([0, 3, 1, 1, 2])
PROBABILITIES = constants.uniform(0.05, 0.95, (3, 4))
TARGETS = constants.uniform(0.0, 1.0, (3, 4))


def exact_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("activation", [ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax])
def test_activation(activation):
    gradcheck(activation(), AWAY_FROM_ZERO)


@pytest.mark.parametrize("activation", [Softmax, LogSoftmax])
@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_softmax_along_any_axis(activation, axis):
    gradcheck(activation(axis=axis), np.random.default_rng(3).standard_normal((2, 3, 4)))


def test_relu_passes_the_gradient_only_where_the_input_was_positive():
    x = Tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    ReLU()(x).backward(Tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 4.0, 5.0])   # 0 at 0, as in PyTorch


def test_sigmoid_and_tanh_gradients_at_zero():
    x = Tensor([0.0], requires_grad=True)
    Sigmoid()(x).sum().backward()
    assert x.grad.item() == pytest.approx(0.25)
    x.grad = None
    Tanh()(x).sum().backward()
    assert x.grad.item() == pytest.approx(1.0)


def test_the_softmax_jacobian_couples_the_outputs_of_a_row():
    logits = np.array([[1.0, 2.0, 0.5]])
    s = exact_softmax(logits)[0]
    upstream = np.array([[1.0, 0.0, 0.0]])          # the gradient of the first probability
    x = Tensor(logits, requires_grad=True)
    Softmax()(x).backward(Tensor(upstream))
    jacobian = np.diag(s) - np.outer(s, s)          # d s_i / d x_j
    np.testing.assert_allclose(x.grad.numpy()[0], jacobian[0], rtol=1e-6)


def test_softmax_gradients_stay_finite_for_huge_logits():
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32), requires_grad=True)
    (Softmax()(x) * Tensor([[1.0, 2.0, 3.0]])).sum().backward()
    LogSoftmax()(x).backward(Tensor(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)))
    assert np.all(np.isfinite(x.grad.numpy()))


def test_mse(rng):
    gradcheck(MSELoss(), rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))


def test_mse_gradient_by_hand():
    prediction = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    MSELoss()(prediction, Tensor([[0.0, 2.0], [5.0, 4.0]])).backward()
    np.testing.assert_allclose(prediction.grad.numpy(), [[0.5, 0.0], [-1.0, 0.0]])   # 2 (p - t) / 4


def test_cross_entropy():
    gradcheck(lambda logits: CrossEntropyLoss()(logits, Tensor(CLASSES)), LOGITS)


def test_cross_entropy_gradient_is_probabilities_minus_one_hot_over_n():
    logits = Tensor(LOGITS.astype(np.float32), requires_grad=True)
    CrossEntropyLoss()(logits, Tensor(CLASSES)).backward()
    expected = exact_softmax(LOGITS)
    expected[np.arange(5), CLASSES] -= 1.0
    np.testing.assert_allclose(logits.grad.numpy(), expected / 5, rtol=1e-5, atol=1e-7)
    assert logits.grad.dtype == np.float32


def test_cross_entropy_gradient_of_huge_logits_is_exact():
    logits = Tensor(np.array([[1000.0, -1000.0], [0.0, 3000.0]], dtype=np.float32), requires_grad=True)
    CrossEntropyLoss()(logits, Tensor([1, 1])).backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[0.5, -0.5], [0.0, 0.0]], atol=1e-7)


def test_bce():
    gradcheck(BCELoss(), PROBABILITIES, TARGETS)


def test_bce_with_logits():
    gradcheck(BCEWithLogitsLoss(), X, TARGETS)


def test_bce_with_logits_gradient_is_sigmoid_minus_target_even_for_huge_logits():
    logits = Tensor(np.array([1000.0, -1000.0, 0.0, 2.0], dtype=np.float32), requires_grad=True)
    targets = np.array([0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    BCEWithLogitsLoss()(logits, Tensor(targets)).backward()
    sigmoid = np.array([1.0, 0.0, 0.5, 1 / (1 + np.exp(-2.0))])
    np.testing.assert_allclose(logits.grad.numpy(), (sigmoid - targets) / 4, rtol=1e-6, atol=1e-9)


def test_loss_gradients_flow_into_the_activation_before_them():
    gradcheck(lambda z: BCELoss()(Sigmoid()(z), Tensor(TARGETS)), X)
    gradcheck(lambda z: MSELoss()(LogSoftmax()(z), Tensor(TARGETS)), X)
