"""LayerNorm: each token's vector normalised over its features, then scaled and shifted."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import LayerNorm
from tinytorch.nn.transformers import layer_norm

X = (np.random.default_rng(13).standard_normal((2, 3, 4)) * 3 + 1).astype(np.float32)    # (B, T, features)


def test_parameters_start_as_the_identity_scale_and_shift():
    ln = LayerNorm(4)
    assert [name for name, _ in ln.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones(4, dtype=np.float32))
    np.testing.assert_array_equal(ln.bias.numpy(), np.zeros(4, dtype=np.float32))
    assert ln.weight.dtype == ln.bias.dtype == np.float32


def test_each_token_is_normalised_over_its_own_features(formulas):
    numpy_layer_norm, _ = formulas
    out = LayerNorm(4)(Tensor(X))
    assert out.shape == X.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), numpy_layer_norm(X, 1.0, 0.0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.numpy().mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.numpy().var(axis=-1), 1.0, rtol=1e-4)


def test_the_learned_scale_and_shift_apply_per_feature(formulas):
    numpy_layer_norm, _ = formulas
    ln = LayerNorm(4)
    ln.weight.data[:] = [1.0, 2.0, -1.0, 0.5]
    ln.bias.data[:] = [0.0, 1.0, 2.0, -3.0]
    np.testing.assert_allclose(ln(Tensor(X)).numpy(), numpy_layer_norm(X, ln.weight.numpy(), ln.bias.numpy()),
                               rtol=1e-5, atol=1e-5)


def test_biased_variance_and_eps_inside_the_square_root(formulas):
    """Rows with a variance close to eps, and only 4 features: n vs n - 1 and where eps sits
    both change the answer by far more than float32 rounding."""
    numpy_layer_norm, _ = formulas
    x = (np.array([[5.0, 5.0, 5.0, 5.0], [0.0, 0.004, -0.004, 0.002], [1.0, 1.001, 0.999, 1.0]])
         ).astype(np.float32)
    np.testing.assert_allclose(LayerNorm(4)(Tensor(x)).numpy(), numpy_layer_norm(x, 1.0, 0.0),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(LayerNorm(4, eps=0.5)(Tensor(X)).numpy(),
                               numpy_layer_norm(X, 1.0, 0.0, eps=0.5),
                               rtol=1e-5, atol=1e-5)


def test_tokens_do_not_influence_each_other():
    ln = LayerNorm(4)
    changed = X.copy()
    changed[1, 2] *= 10
    before, after = ln(Tensor(X)).numpy(), ln(Tensor(changed)).numpy()
    others = [row for row in range(6) if row != 5]     # token (1, 2) is row 5 of the 6
    np.testing.assert_array_equal(after.reshape(6, 4)[others], before.reshape(6, 4)[others])


def test_gradcheck_of_input_scale_and_shift(rng):
    gradcheck(lambda x, w, b: layer_norm(x, w, b), rng.standard_normal((2, 3, 5)),
              rng.standard_normal(5), rng.standard_normal(5))
    gradcheck(lambda x, w, b: layer_norm(x, w, b, eps=0.3), rng.standard_normal((4, 3)) * 0.5,
              rng.standard_normal(3), rng.standard_normal(3))


def test_parameter_gradients_sum_over_every_token(rng):
    ln = LayerNorm(4)
    x = Tensor(X, requires_grad=True)
    upstream = rng.standard_normal(X.shape).astype(np.float32)
    ln(x).backward(Tensor(upstream))
    normalised = LayerNorm(4)(Tensor(X)).numpy()
    np.testing.assert_allclose(ln.bias.grad.numpy(), upstream.sum(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(ln.weight.grad.numpy(), (upstream * normalised).sum(axis=(0, 1)),
                               rtol=1e-4, atol=1e-5)
    # moving every feature of a row by the same amount changes nothing: the gradient sums to 0
    np.testing.assert_allclose(x.grad.numpy().sum(axis=-1), 0.0, atol=1e-4)
    assert x.grad.dtype == np.float32


def test_a_wrong_feature_size_is_a_value_error():
    with pytest.raises(ValueError, match=r"dim=4.*\(2, 5\)|\(2, 5\).*dim=4"):
        LayerNorm(4)(Tensor(np.zeros((2, 5), dtype=np.float32)))
