"""Linear: y = x @ W + b with W of shape (in, out), He-initialised, checked inputs."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Linear

W = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0], [-2.0, 0.25]], dtype=np.float32)  # (4, 2)
B = np.array([10.0, -20.0], dtype=np.float32)
X = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, -1.0, 0.5, 2.0], [3.0, 0.0, 0.0, -1.0]],
             dtype=np.float32)


def layer_with(weight: np.ndarray, bias: np.ndarray | None) -> Linear:
    layer = Linear(weight.shape[0], weight.shape[1], bias=bias is not None, rng=0)
    layer.weight.data[...] = weight
    if bias is not None:
        layer.bias.data[...] = bias
    return layer


def test_parameters_have_the_documented_shapes_and_dtype():
    layer = Linear(4, 2, rng=0)
    assert layer.weight.shape == (4, 2)
    assert layer.bias.shape == (2,)
    for p in (layer.weight, layer.bias):
        assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.parameters()[0] is layer.weight


def test_forward_is_x_times_weight_plus_bias():
    out = layer_with(W, B)(Tensor(X))
    assert isinstance(out, Tensor)
    assert out.shape == (3, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), X @ W + B, rtol=1e-6)


def test_the_bias_reaches_every_row_of_the_batch():
    out = layer_with(W, B)(Tensor(np.zeros((5, 4), dtype=np.float32)))
    np.testing.assert_array_equal(out.numpy(), np.tile(B, (5, 1)))


def test_without_bias():
    layer = layer_with(W, None)
    assert layer.bias is None
    assert layer.parameters() == [layer.weight]
    np.testing.assert_allclose(layer(Tensor(X)).numpy(), X @ W, rtol=1e-6)


def test_leading_dimensions_are_batch_dimensions():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    out = layer_with(W, B)(Tensor(x))
    assert out.shape == (2, 3, 2)
    np.testing.assert_allclose(out.numpy(), x @ W + B, rtol=1e-5, atol=1e-6)


def test_a_single_sample_without_batch_dimension():
    out = layer_with(W, B)(Tensor(X[0]))
    assert out.shape == (2,)
    np.testing.assert_allclose(out.numpy(), X[0] @ W + B, rtol=1e-6)


def test_wrong_number_of_input_features_names_the_shapes():
    with pytest.raises(ValueError) as error:
        Linear(4, 2, rng=0)(Tensor(np.ones((3, 5), dtype=np.float32)))
    message = str(error.value)
    assert "(3, 5)" in message and "in_features=4" in message


def test_he_uniform_initialisation():
    fan_in = 512
    layer = Linear(fan_in, 256, rng=0)
    w = layer.weight.numpy()
    bound = np.sqrt(6 / fan_in)
    assert np.all(np.abs(w) <= bound)
    assert np.abs(w).max() > 0.99 * bound               # the whole interval is used
    assert abs(w.std() - np.sqrt(2 / fan_in)) < 0.02 * np.sqrt(2 / fan_in)
    assert abs(w.mean()) < 0.002
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(256))


def test_the_same_seed_gives_the_same_weights():
    a, b, c = Linear(3, 5, rng=7), Linear(3, 5, rng=7), Linear(3, 5, rng=8)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())
    generator = np.random.default_rng(7)
    first, second = Linear(3, 5, rng=generator), Linear(3, 5, rng=generator)
    assert not np.array_equal(first.weight.numpy(), second.weight.numpy())
