"""Sequential: layers and kata-02 activations in a row, registered by position."""

import numpy as np
import pytest

from tinytorch.core import ReLU, Softmax, Tanh, Tensor
from tinytorch.nn import Dropout, Linear, Module, Sequential

X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)


def mlp() -> Sequential:
    model = Sequential(Linear(4, 8, rng=1), ReLU(), Linear(8, 3, rng=2))
    model[0].bias.data[...] = np.linspace(-1, 1, 8)
    model[2].bias.data[...] = [0.5, -0.5, 2.0]
    return model


def numpy_mlp(model: Sequential, x: np.ndarray) -> np.ndarray:
    s = model.state_dict()
    hidden = np.maximum(x @ s["0.weight"] + s["0.bias"], 0)
    return hidden @ s["2.weight"] + s["2.bias"]


class Classifier(Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = Sequential(Linear(4, 8, rng=3), Tanh(), Dropout(0.5, rng=4), Linear(8, 3, rng=5))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def test_mlp_forward_matches_numpy():
    model = mlp()
    out = model(Tensor(X))
    assert isinstance(out, Tensor) and out.shape == (6, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), numpy_mlp(model, X), rtol=1e-5, atol=1e-6)


def test_steps_run_in_order():
    model = Sequential(Linear(4, 3, rng=1), Softmax())
    out = model(Tensor(X)).numpy()
    np.testing.assert_allclose(out.sum(axis=1), np.ones(6), rtol=1e-6)
    logits = X @ model[0].weight.numpy() + model[0].bias.numpy()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(axis=1, keepdims=True), rtol=1e-5)


def test_parameters_are_named_by_position():
    model = mlp()
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.parameters()[2] is model[2].weight


def test_length_indexing_and_iteration():
    relu = ReLU()
    first = Linear(4, 8, rng=1)
    model = Sequential(first, relu)
    assert len(model) == 2
    assert model[0] is first and model[1] is relu
    assert list(model) == [first, relu]


def test_a_sequential_inside_a_module():
    names = [name for name, _ in Classifier().named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias"]


def test_the_same_layer_twice_is_one_set_of_parameters():
    layer = Linear(4, 4, rng=0)
    model = Sequential(layer, ReLU(), layer)
    assert len(model.parameters()) == 2
    hidden = np.maximum(X @ layer.weight.numpy() + layer.bias.numpy(), 0)
    np.testing.assert_allclose(model(Tensor(X)).numpy(),
                               hidden @ layer.weight.numpy() + layer.bias.numpy(), rtol=1e-5, atol=1e-6)


def test_eval_reaches_dropout_inside_a_nested_sequential():
    model = Classifier()
    model.eval()
    dropout = model.layers[2]
    assert model.layers.training is False and dropout.training is False
    s = model.state_dict()
    expected = np.tanh(X @ s["layers.0.weight"] + s["layers.0.bias"]) @ s["layers.3.weight"] + s["layers.3.bias"]
    np.testing.assert_allclose(model(Tensor(X)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_state_dict_moves_a_whole_model():
    source, target = mlp(), Sequential(Linear(4, 8, rng=10), ReLU(), Linear(8, 3, rng=11))
    assert not np.allclose(source(Tensor(X)).numpy(), target(Tensor(X)).numpy())
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target(Tensor(X)).numpy(), source(Tensor(X)).numpy())


def test_a_step_that_cannot_be_called_is_rejected():
    with pytest.raises(TypeError, match="step 1"):
        Sequential(Linear(4, 2, rng=0), 3.0)
