"""MSELoss: the mean over every element, and shapes that must agree exactly."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import MSELoss

PREDICTION = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
TARGET = np.array([[0.0, 2.0], [3.0, 1.0], [5.0, 4.0]], dtype=np.float32)
# squared errors 1, 0, 0, 9, 0, 4: sum 14 over 6 elements


def test_mse_is_the_mean_over_every_element():
    loss = MSELoss()(Tensor(PREDICTION), Tensor(TARGET))
    assert isinstance(loss, Tensor)
    assert loss.shape == () and loss.dtype == np.float32
    assert loss.item() == pytest.approx(14 / 6, rel=1e-6)


def test_mse_of_a_random_batch_matches_numpy():
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((8, 5)), rng.standard_normal((8, 5))
    assert MSELoss()(Tensor(p), Tensor(t)).item() == pytest.approx(np.mean((p - t) ** 2), rel=1e-12)


def test_mse_of_a_perfect_prediction_is_zero():
    assert MSELoss()(Tensor(PREDICTION), Tensor(PREDICTION.copy())).item() == 0.0


def test_mse_with_integer_targets():
    loss = MSELoss()(Tensor([0.5, 2.0, 3.0]), Tensor([1, 2, 5]))
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx((0.25 + 0 + 4) / 3, rel=1e-6)


def test_shapes_that_would_broadcast_are_an_error():
    # (3, 1) against (3,) would broadcast to (3, 3) and give a silently wrong loss.
    with pytest.raises(ValueError) as error:
        MSELoss()(Tensor([[1.0], [2.0], [3.0]]), Tensor([1.0, 2.0, 3.0]))
    assert "(3, 1)" in str(error.value) and "(3,)" in str(error.value)


def test_the_inputs_are_left_unchanged():
    prediction, target = np.array([[1.0, 5.0], [2.0, -3.0]]), np.array([[0.0, 1.0], [4.0, 4.0]])
    p, t = Tensor(prediction.copy()), Tensor(target.copy())
    MSELoss()(p, t)
    np.testing.assert_array_equal(p.numpy(), prediction)
    np.testing.assert_array_equal(t.numpy(), target)
