"""Whole models: LayerNorm from Tensor operations, attention, an MLP trained end to end.

Nothing here is new code: these gradients come from composing the rules you wrote, and
from the layers of kata 03, which needed no change at all.
"""

import numpy as np

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import ReLU, Softmax, Tanh, Tensor
from tinytorch.nn import CrossEntropyLoss, Dropout, Linear, Sequential

BATCH = np.random.default_rng(13).standard_normal((6, 4))
LABELS = np.array([0, 2, 1, 2, 0, 1])


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / (variance + eps) ** 0.5 * gamma + beta


def test_layer_norm_built_from_tensor_operations(rng):
    gradcheck(layer_norm, rng.standard_normal((3, 5)) * 3.0, rng.uniform(0.5, 1.5, (5,)),
              rng.standard_normal((5,)))


def test_scaled_dot_product_attention(rng):
    def attention(q, k, v):
        scores = q @ k.transpose() / 2.0 ** 0.5
        return Softmax(axis=-1)(scores) @ v

    shape = (2, 3, 2)                                 # (batch, tokens, features)
    gradcheck(attention, rng.standard_normal(shape), rng.standard_normal(shape),
              rng.standard_normal(shape))


def make_mlp():
    return Sequential(Linear(4, 5, rng=1), Tanh(), Linear(5, 3, rng=2))


def mlp_loss_from(model, parameters, batch):
    """The loss of ``model`` on the batch with its parameters replaced by ``parameters``."""
    first, last = model[0], model[2]
    first.weight, first.bias, last.weight, last.bias = parameters
    return CrossEntropyLoss()(model(batch), Tensor(LABELS))


def test_mlp_with_cross_entropy_gradcheck_on_every_parameter():
    model = make_mlp()
    start = [p.numpy() for p in model.parameters()]
    gradcheck(lambda *parameters: mlp_loss_from(model, parameters, Tensor(BATCH)), *start)


def test_float32_training_gradients_match_float64():
    model = make_mlp()
    loss = CrossEntropyLoss()(model(Tensor(BATCH.astype(np.float32))), Tensor(LABELS))
    loss.backward()
    reference = [Tensor(p.numpy().astype(np.float64), requires_grad=True) for p in model.parameters()]
    twin = make_mlp()
    mlp_loss_from(twin, reference, Tensor(BATCH)).backward()
    for (name, parameter), exact in zip(model.named_parameters(), reference):
        assert parameter.grad is not None, f"{name} received no gradient"
        assert parameter.grad.shape == parameter.shape and parameter.grad.dtype == np.float32, name
        np.testing.assert_allclose(parameter.grad.numpy(), exact.grad.numpy(), rtol=1e-3, atol=1e-6,
                                   err_msg=name)


def test_a_layer_used_twice_gets_both_gradients(rng):
    shared = Linear(3, 3, rng=4)

    def twice(weight, x):
        shared.weight = weight
        return ReLU()(shared(shared(x))) + x

    gradcheck(twice, shared.weight.numpy(), rng.uniform(0.5, 1.0, (2, 3)))


def test_dropout_differentiates_through_its_mask(rng):
    def dropped(x):
        return Dropout(p=0.5, rng=3)(x) * 2.0         # the same seed: the same mask each call

    gradcheck(dropped, rng.standard_normal((4, 5)))


def test_an_embedding_lookup_feeding_a_linear_layer(rng):
    head = Linear(3, 2, rng=5)
    tokens = Tensor([[1, 4, 1], [0, 1, 4]])

    def model(table, weight):
        head.weight = weight
        return head(table[tokens].mean(axis=1))

    gradcheck(model, rng.standard_normal((5, 3)), head.weight.numpy())


def test_one_step_of_gradient_descent_lowers_the_loss():
    model = make_mlp()
    batch = Tensor(BATCH.astype(np.float32))
    before = CrossEntropyLoss()(model(batch), Tensor(LABELS))
    before.backward()
    for parameter in model.parameters():
        parameter.data = parameter.data - 0.1 * parameter.grad.data
    after = CrossEntropyLoss()(model(batch), Tensor(LABELS))
    assert after.item() < before.item()
