"""Optimizers in a real training loop: Linear layers, MSELoss and backward() from katas 03-05."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Linear, Module, MSELoss
from tinytorch.optim import SGD, Adam, AdamW

RNG = np.random.default_rng(60)
INPUTS = RNG.standard_normal((16, 3)).astype(np.float32)
TARGETS = RNG.standard_normal((16, 2)).astype(np.float32)


def expected_gradient_descent(weight, bias, lr, steps):
    """Plain gradient descent on the MSE of ``INPUTS @ weight + bias``, by hand in float64."""
    weight, bias = weight.astype(np.float64), bias.astype(np.float64)
    for _ in range(steps):
        error = 2 * (INPUTS @ weight + bias - TARGETS) / TARGETS.size
        weight, bias = weight - lr * INPUTS.T @ error, bias - lr * error.sum(axis=0)
    return weight, bias


def test_one_step_moves_the_layer_and_the_model_sees_it():
    layer = Linear(3, 2, rng=0)
    start_weight, start_bias = layer.weight.data.copy(), layer.bias.data.copy()
    optimizer = SGD(layer.parameters(), lr=0.1)
    MSELoss()(layer(Tensor(INPUTS)), Tensor(TARGETS)).backward()
    optimizer.step()
    weight, bias = expected_gradient_descent(start_weight, start_bias, lr=0.1, steps=1)
    np.testing.assert_allclose(layer.weight.data, weight, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.bias.data, bias, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(Tensor(INPUTS)).data, INPUTS @ weight + bias, rtol=1e-5, atol=1e-5)


def test_zero_grad_keeps_each_step_to_its_own_gradient():
    # Without zero_grad, backward() adds the new gradient to the old one.
    layer = Linear(3, 2, rng=1)
    start_weight, start_bias = layer.weight.data.copy(), layer.bias.data.copy()
    optimizer = SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        MSELoss()(layer(Tensor(INPUTS)), Tensor(TARGETS)).backward()
        optimizer.step()
    weight, bias = expected_gradient_descent(start_weight, start_bias, lr=0.1, steps=3)
    np.testing.assert_allclose(layer.weight.data, weight, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.bias.data, bias, rtol=1e-5, atol=1e-6)


class TwoHeads(Module):
    """A model whose second head takes no part in the loss: its parameters get no gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.used = Linear(3, 2, rng=2)
        self.unused = Linear(3, 2, rng=3)

    def forward(self, x: Tensor) -> Tensor:
        return self.used(x)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: AdamW(p, lr=0.1, weight_decay=0.5),
], ids=["SGD", "AdamW"])
def test_parameters_that_take_no_part_in_the_loss_are_left_alone(make_optimizer):
    model = TwoHeads()
    unused_weight = model.unused.weight.data.copy()
    used_weight = model.used.weight.data.copy()
    optimizer = make_optimizer(model.parameters())
    for _ in range(2):
        optimizer.zero_grad()
        MSELoss()(model(Tensor(INPUTS)), Tensor(TARGETS)).backward()
        assert model.unused.weight.grad is None
        optimizer.step()
    np.testing.assert_array_equal(model.unused.weight.data, unused_weight)
    assert not np.allclose(model.used.weight.data, used_weight)


LINEAR_TRUTH = RNG.standard_normal((3, 2)).astype(np.float32)
LINEAR_TARGETS = INPUTS @ LINEAR_TRUTH + np.float32(0.5)


@pytest.mark.parametrize("make_optimizer", [
    lambda p: SGD(p, lr=0.1, momentum=0.9),
    lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: Adam(p, lr=0.05),
    lambda p: AdamW(p, lr=0.05, weight_decay=1e-4),
], ids=["momentum", "nesterov", "Adam", "AdamW"])
def test_a_training_loop_fits_a_linear_model(make_optimizer):
    layer = Linear(3, 2, rng=4)
    arrays = [p.data for p in layer.parameters()]
    optimizer = make_optimizer(p for p in layer.parameters())
    loss_fn = MSELoss()
    first_loss = loss_fn(layer(Tensor(INPUTS)), Tensor(LINEAR_TARGETS)).item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(layer(Tensor(INPUTS)), Tensor(LINEAR_TARGETS))
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3 < first_loss, f"the loss went from {first_loss:.3g} to {loss.item():.3g}"
    np.testing.assert_allclose(layer.weight.data, LINEAR_TRUTH, atol=0.05)
    for param, array in zip(layer.parameters(), arrays):
        assert param.data is array and param.dtype == np.float32
