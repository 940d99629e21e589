"""Losses on a real model: a kata-03 MLP with kata-02 activations, on a small fixed batch.

If an earlier kata is broken, these tests fail here too.
"""

import math

import numpy as np
import pytest

from tinytorch.core import LogSoftmax, ReLU, Sigmoid, Softmax, Tensor
from tinytorch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Linear, MSELoss, Sequential


def three_blobs(per_class: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """12 points in the plane around three centres, labelled by their centre."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 2.0], [-2.0, -1.0], [2.0, -1.0]])
    x = np.concatenate([c + 0.5 * rng.standard_normal((per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), per_class)
    return x.astype(np.float32), y


X, Y = three_blobs()


def classifier(outputs: int = 3) -> Sequential:
    """A small MLP in evaluation mode (its Dropout must then do nothing), non-zero biases."""
    model = Sequential(Linear(2, 16, rng=1), ReLU(), Dropout(0.5, rng=0), Linear(16, outputs, rng=2))
    model[0].bias.data[...] = np.linspace(-0.5, 0.5, 16)
    model[3].bias.data[...] = np.linspace(1.0, -1.0, outputs)
    return model.eval()


def numpy_logits(model: Sequential, x: np.ndarray) -> np.ndarray:
    s = {name: value.astype(np.float64) for name, value in model.state_dict().items()}
    return np.maximum(x @ s["0.weight"] + s["0.bias"], 0) @ s["3.weight"] + s["3.bias"]


def exact_log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def test_cross_entropy_of_an_mlp_matches_numpy():
    model = classifier()
    loss = CrossEntropyLoss()(model(Tensor(X)), Tensor(Y))
    log_probs = exact_log_softmax(numpy_logits(model, X))
    assert loss.item() == pytest.approx(-log_probs[np.arange(12), Y].mean(), rel=1e-5)


def test_cross_entropy_is_the_mean_negative_log_softmax_of_the_target():
    logits = classifier()(Tensor(X))
    picked = LogSoftmax()(logits).numpy()[np.arange(12), Y]
    assert CrossEntropyLoss()(logits, Tensor(Y)).item() == pytest.approx(-picked.mean(), rel=1e-5)


def test_a_zero_output_layer_predicts_uniformly_and_costs_log_3():
    model = classifier()
    state = model.state_dict()
    state["3.weight"][:] = 0.0
    state["3.bias"][:] = 0.0
    model.load_state_dict(state)
    probabilities = Softmax()(model(Tensor(X))).numpy()
    np.testing.assert_allclose(probabilities, np.full((12, 3), 1 / 3), rtol=1e-6)
    assert CrossEntropyLoss()(model(Tensor(X)), Tensor(Y)).item() == pytest.approx(math.log(3), rel=1e-6)


def test_an_overconfident_model_still_gives_finite_probabilities_and_losses():
    model = classifier()
    state = model.state_dict()
    state["3.weight"] *= 1000.0                   # logits in the thousands
    model.load_state_dict(state)
    logits = model(Tensor(X))
    expected = exact_log_softmax(numpy_logits(model, X))
    assert np.abs(numpy_logits(model, X)).max() > 500
    with np.errstate(all="raise", under="ignore"):
        probabilities = Softmax()(logits).numpy()
        log_probabilities = LogSoftmax()(logits).numpy()
        loss = CrossEntropyLoss()(logits, Tensor(Y)).item()
    np.testing.assert_allclose(probabilities, np.exp(expected), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(log_probabilities, expected, rtol=1e-3)
    assert loss == pytest.approx(-expected[np.arange(12), Y].mean(), rel=1e-3)


def test_mse_between_softmax_outputs_and_one_hot_targets():
    model = classifier()
    probabilities = Softmax()(model(Tensor(X)))
    one_hot = np.eye(3, dtype=np.float32)[Y]
    z = numpy_logits(model, X)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    expected = np.mean((e / e.sum(axis=1, keepdims=True) - one_hot) ** 2)
    assert MSELoss()(probabilities, Tensor(one_hot)).item() == pytest.approx(expected, rel=1e-5)


def test_binary_losses_on_a_one_output_mlp():
    model = classifier(outputs=1)
    labels = (Y == 0).astype(np.float32).reshape(12, 1)
    logits = model(Tensor(X))
    z = numpy_logits(model, X)
    expected = np.mean(np.logaddexp(0.0, z) - z * labels)
    assert BCEWithLogitsLoss()(logits, Tensor(labels)).item() == pytest.approx(expected, rel=1e-5)
    assert BCELoss()(Sigmoid()(logits), Tensor(labels)).item() == pytest.approx(expected, rel=1e-5)
