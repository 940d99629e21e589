"""Gradients of the fused attention operation, checked against finite differences."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import causal_mask, padding_mask, scaled_dot_product_attention


def arrays(rng, lead, t, s, d, dv):
    return (rng.standard_normal(lead + (t, d)), rng.standard_normal(lead + (s, d)),
            rng.standard_normal(lead + (s, dv)))


@pytest.mark.parametrize("lead, t, s", [((), 3, 3), ((2,), 3, 4), ((2, 2), 2, 3)],
                         ids=["single", "batch, more keys", "batch x heads"])
def test_gradcheck_without_a_mask(lead, t, s, rng):
    gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v), *arrays(rng, lead, t, s, 4, 2))


def test_gradcheck_with_a_causal_mask(rng):
    gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=causal_mask(4)),
              *arrays(rng, (2,), 4, 4, 3, 2))


def test_gradcheck_with_padding_and_a_query_that_sees_nothing(rng):
    mask = padding_mask([0, 2, 3], 3)
    gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask), *arrays(rng, (3,), 2, 3, 3, 2))


def test_masked_keys_and_empty_rows_receive_zero_gradient(rng):
    q, k, v = (Tensor(a.astype(np.float32), requires_grad=True) for a in arrays(rng, (2,), 3, 4, 4, 2))
    scaled_dot_product_attention(q, k, v, mask=padding_mask([0, 2], 4)).sum().backward()
    for tensor in (q, k, v):
        assert tensor.grad.dtype == np.float32 and np.all(np.isfinite(tensor.grad.numpy()))
    np.testing.assert_array_equal(q.grad.numpy()[0], 0.0)       # sequence 0 has no keys at all
    np.testing.assert_array_equal(k.grad.numpy()[1, 2:], 0.0)   # padded keys
    np.testing.assert_array_equal(v.grad.numpy()[1, 2:], 0.0)


def test_the_value_gradient_is_the_transposed_weights_times_the_upstream_gradient(rng):
    q, k, v = (Tensor(a, requires_grad=True) for a in arrays(rng, (), 3, 3, 4, 2))
    upstream = rng.standard_normal((3, 2))
    scaled_dot_product_attention(q, k, v, mask=causal_mask(3)).backward(Tensor(upstream))
    scores = q.numpy() @ k.numpy().T / 2.0
    scores[~causal_mask(3)] = -np.inf
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(v.grad.numpy(), weights.T @ upstream, rtol=1e-10)
