"""SGD, momentum, Nesterov and weight decay, checked against an independent re-computation."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.optim import SGD

RNG = np.random.default_rng(6)
# A weight matrix and two vectors of the same shape: per-parameter state must not mix them up.
INITIAL = [RNG.standard_normal((3, 4)).astype(np.float32),
           RNG.standard_normal(4).astype(np.float32),
           RNG.standard_normal(4).astype(np.float32)]
GRADIENTS = [[RNG.standard_normal(p.shape).astype(np.float32) for p in INITIAL] for _ in range(10)]


def expected_sgd(gradients, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """PyTorch's SGD written out in float64: the velocity starts as the first gradient.

    ``gradients`` holds one list per step, with None for a parameter that has no gradient.
    """
    weights = [p.astype(np.float64) for p in INITIAL]
    velocities = [None] * len(weights)
    for step_gradients in gradients:
        for i, g in enumerate(step_gradients):
            if g is None:
                continue
            d = g.astype(np.float64) + weight_decay * weights[i]
            if momentum:
                velocities[i] = d if velocities[i] is None else momentum * velocities[i] + d
                d = d + momentum * velocities[i] if nesterov else velocities[i]
            weights[i] = weights[i] - lr * d
    return weights


def run(optimizer_args, gradients):
    params = [Tensor(p.copy(), requires_grad=True) for p in INITIAL]
    optimizer = SGD(params, **optimizer_args)
    for step_gradients in gradients:
        for param, g in zip(params, step_gradients):
            param.grad = None if g is None else Tensor(g)
        optimizer.step()
    return params, optimizer


def step_by_hand(optimizer_args, gradient, steps):
    param = Tensor([1.0, -2.0], requires_grad=True)
    optimizer = SGD([param], **optimizer_args)
    for _ in range(steps):
        param.grad = Tensor(gradient)
        optimizer.step()
    return param.data


def test_plain_sgd_steps_against_the_gradient():
    np.testing.assert_allclose(step_by_hand({"lr": 0.1}, [0.5, 1.0], steps=1), [0.95, -2.1], rtol=1e-6)


def test_momentum_first_step_is_a_plain_step_and_the_second_is_longer():
    # v1 = g, then v2 = 0.9 * g + g = 1.9 g: no dampening, the buffer starts as the gradient.
    args = {"lr": 0.1, "momentum": 0.9}
    np.testing.assert_allclose(step_by_hand(args, [0.5, 1.0], steps=1), [0.95, -2.1], rtol=1e-6)
    np.testing.assert_allclose(step_by_hand(args, [0.5, 1.0], steps=2), [0.855, -2.29], rtol=1e-6)


def test_nesterov_first_step_looks_ahead():
    # v1 = g, and the step uses g + 0.9 * v1 = 1.9 g at once.
    args = {"lr": 0.1, "momentum": 0.9, "nesterov": True}
    np.testing.assert_allclose(step_by_hand(args, [0.5, 1.0], steps=1), [0.905, -2.19], rtol=1e-6)


def test_weight_decay_is_added_to_the_gradient():
    # g + 0.1 * p = [0.5 + 0.1, 1.0 - 0.2] = [0.6, 0.8]
    args = {"lr": 0.1, "weight_decay": 0.1}
    np.testing.assert_allclose(step_by_hand(args, [0.5, 1.0], steps=1), [0.94, -2.08], rtol=1e-6)


CONFIGS = {
    "plain": {"lr": 0.1},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "nesterov": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "weight_decay": {"lr": 0.1, "weight_decay": 0.2},
    "momentum_weight_decay": {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.3},
    "nesterov_weight_decay": {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.3},
}


@pytest.mark.parametrize("steps", [1, 2, 10])
@pytest.mark.parametrize("config", CONFIGS, ids=list(CONFIGS))
def test_steps_match_the_formula(config, steps):
    params, _ = run(CONFIGS[config], GRADIENTS[:steps])
    for i, (param, expected) in enumerate(zip(params, expected_sgd(GRADIENTS[:steps], **CONFIGS[config]))):
        np.testing.assert_allclose(param.data, expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"parameter {i} after {steps} step(s) of {config}")


def test_a_parameter_without_gradient_keeps_its_weights_and_its_velocity():
    # Parameter 1 has no gradient at steps 3 and 4: no update, no decay, its velocity waits.
    gradients = [[g if not (i == 1 and step in (2, 3)) else None for i, g in enumerate(grads)]
                 for step, grads in enumerate(GRADIENTS[:6])]
    args = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}
    params, _ = run(args, gradients[:4])
    np.testing.assert_allclose(params[1].data, expected_sgd(gradients[:2], **args)[1], rtol=1e-5, atol=1e-6)
    params, _ = run(args, gradients)
    for param, expected in zip(params, expected_sgd(gradients, **args)):
        np.testing.assert_allclose(param.data, expected, rtol=1e-5, atol=1e-6)


def test_after_zero_grad_a_step_with_momentum_moves_nothing():
    params, optimizer = run({"lr": 0.1, "momentum": 0.9}, GRADIENTS[:2])
    before = [p.data.copy() for p in params]
    optimizer.zero_grad()
    optimizer.step()
    for param, old in zip(params, before):
        np.testing.assert_array_equal(param.data, old)


def test_two_optimizers_keep_separate_velocities():
    first = Tensor(INITIAL[1].copy(), requires_grad=True)
    second = Tensor(INITIAL[2].copy(), requires_grad=True)
    optimizers = [SGD([first], lr=0.1, momentum=0.9), SGD([second], lr=0.1, momentum=0.9)]
    for step in range(3):
        first.grad = Tensor(GRADIENTS[step][1])
        optimizers[0].step()
        second.grad = Tensor(GRADIENTS[step][2])
        optimizers[1].step()
    expected = expected_sgd(GRADIENTS[:3], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(first.data, expected[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second.data, expected[2], rtol=1e-5, atol=1e-6)


def test_updates_happen_in_place_and_stay_float32():
    params = [Tensor(p.copy(), requires_grad=True) for p in INITIAL]
    arrays = [p.data for p in params]
    optimizer = SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)
    for step_gradients in GRADIENTS:
        for param, g in zip(params, step_gradients):
            param.grad = Tensor(g)
        optimizer.step()
    for param, array in zip(params, arrays):
        assert param.data is array, "update param.data in place (data -= ...), do not replace it"
        assert param.dtype == np.float32


def test_state_is_one_velocity_per_parameter_with_momentum_and_none_without():
    parameter_bytes = sum(p.nbytes for p in INITIAL)
    _, plain = run({"lr": 0.1, "weight_decay": 0.1}, GRADIENTS[:2])
    assert plain.state_bytes() == 0
    _, heavy_ball = run({"lr": 0.1, "momentum": 0.9}, GRADIENTS[:2])
    assert heavy_ball.state_bytes() == parameter_bytes


def test_hyperparameters_are_kept_as_attributes():
    optimizer = SGD([Tensor([1.0])], lr=0.3, momentum=0.7, nesterov=True, weight_decay=0.01)
    assert (optimizer.lr, optimizer.momentum, optimizer.nesterov, optimizer.weight_decay) == \
        (0.3, 0.7, True, 0.01)


@pytest.mark.parametrize("args, words", [
    ({"lr": 0.1, "momentum": -0.9}, ["momentum", "-0.9"]),
    ({"lr": 0.1, "weight_decay": -0.01}, ["weight_decay", "-0.01"]),
    ({"lr": -1.0}, ["lr", "-1.0"]),
], ids=["momentum", "weight_decay", "lr"])
def test_negative_hyperparameters_are_named_in_the_error(args, words):
    with pytest.raises(ValueError) as error:
        SGD([Tensor([1.0])], **args)
    for word in words:
        assert word in str(error.value)


def test_nesterov_without_momentum_is_an_error():
    with pytest.raises(ValueError, match="nesterov"):
        SGD([Tensor([1.0])], lr=0.1, nesterov=True)
