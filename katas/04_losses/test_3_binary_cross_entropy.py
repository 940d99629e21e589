"""BCELoss on probabilities (clipped) and BCEWithLogitsLoss on logits (exact everywhere)."""

import math

import numpy as np
import pytest

from tinytorch.core import Sigmoid, Tensor
from tinytorch.nn import BCELoss, BCEWithLogitsLoss
from tinytorch.nn.losses import BCE_EPSILON

STRICT = {"all": "raise", "under": "ignore"}  # overflow, log(0) and nan become errors

P = np.array([[0.9, 0.2], [0.6, 0.05], [0.5, 0.99]], dtype=np.float32)
Y = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], dtype=np.float32)


def exact_bce(p, y):
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def exact_bce_with_logits(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.mean(np.logaddexp(0.0, x) - x * y))  # log(1 + e^x) - x y


def test_bce_is_the_mean_over_every_element():
    loss = BCELoss()(Tensor(P), Tensor(Y))
    assert isinstance(loss, Tensor) and loss.shape == () and loss.dtype == np.float32
    assert loss.item() == pytest.approx(exact_bce(P, Y), rel=1e-6)


def test_bce_with_soft_targets():
    y = np.array([0.3, 0.5, 1.0])
    p = np.array([0.4, 0.5, 0.8])
    assert BCELoss()(Tensor(p), Tensor(y)).item() == pytest.approx(exact_bce(p, y), rel=1e-12)


def test_bce_clips_certain_predictions_instead_of_taking_log_zero():
    p, y = Tensor([0.0, 1.0, 0.0, 1.0]), Tensor([1.0, 0.0, 0.0, 1.0])
    with np.errstate(**STRICT):
        loss = BCELoss()(p, y).item()
    wrong, right = -math.log(BCE_EPSILON), -math.log(1 - BCE_EPSILON)
    assert math.isfinite(loss)
    assert loss == pytest.approx((2 * wrong + 2 * right) / 4, rel=1e-6)


def test_bce_rejects_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match="1.5"):
        BCELoss()(Tensor([0.5, 1.5]), Tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="-0.25"):
        BCELoss()(Tensor([-0.25, 0.5]), Tensor([1.0, 0.0]))


def test_bce_shapes_must_agree():
    with pytest.raises(ValueError) as error:
        BCELoss()(Tensor([[0.5], [0.5]]), Tensor([1.0, 0.0]))
    assert "(2, 1)" in str(error.value) and "(2,)" in str(error.value)


def test_bce_with_logits_matches_the_definition():
    x = np.array([[2.0, -1.0], [0.0, 3.5], [-4.0, 0.25]], dtype=np.float32)
    loss = BCEWithLogitsLoss()(Tensor(x), Tensor(Y))
    assert loss.shape == () and loss.dtype == np.float32
    assert loss.item() == pytest.approx(exact_bce_with_logits(x, Y), rel=1e-6)


def test_bce_with_logits_is_bce_of_the_sigmoid():
    x = np.linspace(-6, 6, 13)
    y = (np.arange(13) % 3 == 0).astype(np.float64)
    via_sigmoid = BCELoss()(Sigmoid()(Tensor(x)), Tensor(y)).item()
    assert BCEWithLogitsLoss()(Tensor(x), Tensor(y)).item() == pytest.approx(via_sigmoid, rel=1e-9)


def test_bce_with_logits_of_extreme_logits_is_exact():
    x = Tensor([1000.0, -1000.0])
    with np.errstate(**STRICT):
        wrong = BCEWithLogitsLoss()(x, Tensor([0.0, 1.0])).item()
        right = BCEWithLogitsLoss()(x, Tensor([1.0, 0.0])).item()
    assert wrong == 1000.0
    assert right == 0.0


def test_bce_with_logits_accepts_integer_labels():
    x = np.array([0.5, -2.0, 3.0], dtype=np.float32)
    loss = BCEWithLogitsLoss()(Tensor(x), Tensor([1, 0, 0]))
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx(exact_bce_with_logits(x, [1, 0, 0]), rel=1e-6)


def test_bce_with_logits_shapes_must_agree():
    with pytest.raises(ValueError) as error:
        BCEWithLogitsLoss()(Tensor([[0.5, 1.0]]), Tensor([[1.0], [0.0]]))
    assert "(1, 2)" in str(error.value) and "(2, 1)" in str(error.value)


def test_the_inputs_are_left_unchanged():
    p, x, y = Tensor([0.0, 0.5, 1.0]), Tensor([-50.0, 0.5, 80.0]), Tensor([1.0, 0.0, 1.0])
    BCELoss()(p, y)
    BCEWithLogitsLoss()(x, y)
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.numpy(), [-50.0, 0.5, 80.0])
    np.testing.assert_array_equal(y.numpy(), [1.0, 0.0, 1.0])
