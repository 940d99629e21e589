"""Adam with bias correction and L2 decay, and AdamW with decoupled weight decay."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.optim import Adam, AdamW

RNG = np.random.default_rng(16)
INITIAL = [RNG.standard_normal((3, 4)).astype(np.float32),
           RNG.standard_normal(4).astype(np.float32),
           RNG.standard_normal(4).astype(np.float32)]
# Gradients of different scales per parameter, as in a real network.
SCALES = [1.0, 0.01, 30.0]
GRADIENTS = [[(s * RNG.standard_normal(p.shape)).astype(np.float32) for p, s in zip(INITIAL, SCALES)]
             for _ in range(10)]


def expected_adam(gradients, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  decoupled=False):
    """Adam (or AdamW if ``decoupled``) written out in float64, one step count per parameter.

    ``gradients`` holds one list per step, with None for a parameter that has no gradient.
    """
    beta1, beta2 = betas
    weights = [p.astype(np.float64) for p in INITIAL]
    first = [np.zeros_like(w) for w in weights]
    second = [np.zeros_like(w) for w in weights]
    updates = [0] * len(weights)
    for step_gradients in gradients:
        for i, g in enumerate(step_gradients):
            if g is None:
                continue
            g = g.astype(np.float64)
            if decoupled:
                weights[i] = weights[i] - lr * weight_decay * weights[i]
            else:
                g = g + weight_decay * weights[i]
            updates[i] += 1
            first[i] = beta1 * first[i] + (1 - beta1) * g
            second[i] = beta2 * second[i] + (1 - beta2) * g ** 2
            corrected_first = first[i] / (1 - beta1 ** updates[i])
            corrected_second = second[i] / (1 - beta2 ** updates[i])
            weights[i] = weights[i] - lr * corrected_first / (np.sqrt(corrected_second) + eps)
    return weights


def run(optimizer_class, optimizer_args, gradients):
    params = [Tensor(p.copy(), requires_grad=True) for p in INITIAL]
    optimizer = optimizer_class(params, **optimizer_args)
    for step_gradients in gradients:
        for param, g in zip(params, step_gradients):
            param.grad = None if g is None else Tensor(g)
        optimizer.step()
    return params, optimizer


def assert_matches(params, expected, what):
    for i, (param, want) in enumerate(zip(params, expected)):
        np.testing.assert_allclose(param.data, want, rtol=2e-5, atol=1e-6,
                                   err_msg=f"parameter {i} {what}")


def test_the_first_step_moves_every_weight_by_lr_whatever_its_gradient_scale():
    # Bias correction: m_hat = g and v_hat = g**2 after one step, so the step is lr * sign(g).
    param = Tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
    optimizer = Adam([param], lr=0.1)
    param.grad = Tensor([1e-3, -1.0, 1e3, -50.0])
    optimizer.step()
    np.testing.assert_allclose(param.data, [0.9, 1.1, 0.9, 1.1], rtol=1e-5)


def test_the_second_step_by_hand():
    # g1 = 1, g2 = 0.5: m = 0.14, v = 0.001249, then m_hat = 0.14 / 0.19, v_hat = v / 0.001999.
    param = Tensor([0.0], requires_grad=True)
    optimizer = Adam([param], lr=0.1)
    for g in (1.0, 0.5):
        param.grad = Tensor([g])
        optimizer.step()
    m_hat, v_hat = 0.14 / 0.19, 0.001249 / 0.001999
    np.testing.assert_allclose(param.data, [-0.1 - 0.1 * m_hat / np.sqrt(v_hat)], rtol=1e-5)


ADAM_CONFIGS = {
    "defaults": {},
    "fast": {"lr": 0.05, "betas": (0.8, 0.99)},
    "l2_decay": {"lr": 0.01, "weight_decay": 0.5},
    "large_eps": {"lr": 0.01, "eps": 0.1},
}


@pytest.mark.parametrize("steps", [1, 2, 10])
@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=list(ADAM_CONFIGS))
def test_adam_matches_the_formula(config, steps):
    params, _ = run(Adam, ADAM_CONFIGS[config], GRADIENTS[:steps])
    assert_matches(params, expected_adam(GRADIENTS[:steps], **ADAM_CONFIGS[config]),
                   f"after {steps} Adam step(s), {config}")


ADAMW_CONFIGS = {
    "decay": {"lr": 0.01, "weight_decay": 0.5},
    "strong_decay": {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 2.0},
}


@pytest.mark.parametrize("steps", [1, 2, 10])
@pytest.mark.parametrize("config", ADAMW_CONFIGS, ids=list(ADAMW_CONFIGS))
def test_adamw_matches_the_decoupled_formula(config, steps):
    params, _ = run(AdamW, ADAMW_CONFIGS[config], GRADIENTS[:steps])
    assert_matches(params, expected_adam(GRADIENTS[:steps], decoupled=True, **ADAMW_CONFIGS[config]),
                   f"after {steps} AdamW step(s), {config}")


def test_adamw_first_step_by_hand():
    # Decay first: p * (1 - 0.1 * 0.1) = [0.99, -1.98], then the Adam step of lr * sign(g).
    param = Tensor([1.0, -2.0], requires_grad=True)
    optimizer = AdamW([param], lr=0.1, weight_decay=0.1)
    param.grad = Tensor([0.5, 1.0])
    optimizer.step()
    np.testing.assert_allclose(param.data, [0.89, -2.08], rtol=1e-5)


def test_with_zero_gradients_adamw_only_shrinks_while_adam_takes_full_steps():
    zeros = [np.zeros_like(p) for p in INITIAL]
    decoupled, _ = run(AdamW, {"lr": 0.1, "weight_decay": 0.5}, [zeros] * 3)
    for param, start in zip(decoupled, INITIAL):
        np.testing.assert_allclose(param.data, start * 0.95 ** 3, rtol=1e-5)
    coupled, _ = run(Adam, {"lr": 0.1, "weight_decay": 0.5}, [zeros] * 3)
    assert_matches(coupled, expected_adam([zeros] * 3, lr=0.1, weight_decay=0.5), "Adam with L2 decay")


def test_adamw_without_decay_is_adam():
    args = {"lr": 0.02, "weight_decay": 0.0}
    adam, _ = run(Adam, args, GRADIENTS)
    adamw, _ = run(AdamW, args, GRADIENTS)
    for a, b in zip(adam, adamw):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-6)


def test_default_hyperparameters():
    adam = Adam([Tensor([1.0])])
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps, adam.weight_decay) == (1e-3, 0.9, 0.999, 1e-8, 0.0)
    assert AdamW([Tensor([1.0])]).weight_decay == 0.01


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
def test_each_parameter_counts_its_own_updates(optimizer_class):
    # Parameter 1 gets its first gradient at step 4: its bias correction must use t = 1 then.
    gradients = [[g if not (i == 1 and step < 3) else None for i, g in enumerate(grads)]
                 for step, grads in enumerate(GRADIENTS[:6])]
    args = {"lr": 0.01, "weight_decay": 0.1}
    params, _ = run(optimizer_class, args, gradients[:4])
    decayed = INITIAL[1] * (1 - 0.01 * 0.1) if optimizer_class is AdamW else INITIAL[1]
    np.testing.assert_allclose(np.abs(params[1].data - decayed), 0.01, rtol=1e-3,
                               err_msg="the first update of a parameter has size lr")
    params, _ = run(optimizer_class, args, gradients)
    assert_matches(params, expected_adam(gradients, decoupled=optimizer_class is AdamW, **args),
                   "with a late first gradient")


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
def test_a_parameter_without_gradient_is_not_touched(optimizer_class):
    gradients = [[g, None, g3] for g, _, g3 in GRADIENTS[:3]]
    params, _ = run(optimizer_class, {"lr": 0.1, "weight_decay": 0.5}, gradients)
    np.testing.assert_array_equal(params[1].data, INITIAL[1])


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
def test_updates_in_place_in_float32_with_two_moments_per_parameter(optimizer_class):
    params = [Tensor(p.copy(), requires_grad=True) for p in INITIAL]
    arrays = [p.data for p in params]
    optimizer = optimizer_class(params, lr=0.01, weight_decay=0.1)
    for step_gradients in GRADIENTS:
        for param, g in zip(params, step_gradients):
            param.grad = Tensor(g)
        optimizer.step()
    for param, array in zip(params, arrays):
        assert param.data is array, "update param.data in place (data -= ...), do not replace it"
        assert param.dtype == np.float32
    assert optimizer.state_bytes() == 2 * sum(p.nbytes for p in INITIAL)


@pytest.mark.parametrize("args, words", [
    ({"betas": (1.0, 0.999)}, ["betas", "1.0"]),
    ({"betas": (0.9, -0.1)}, ["betas", "-0.1"]),
    ({"eps": 0.0}, ["eps", "0.0"]),
    ({"lr": -0.001}, ["lr", "-0.001"]),
    ({"weight_decay": -0.5}, ["weight_decay", "-0.5"]),
], ids=["beta1", "beta2", "eps", "lr", "weight_decay"])
@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
def test_bad_hyperparameters_are_named_in_the_error(optimizer_class, args, words):
    with pytest.raises(ValueError) as error:
        optimizer_class([Tensor([1.0])], **args)
    for word in words:
        assert word in str(error.value)
