"""MultiHeadAttention: projections, heads split by reshape and transpose, and an output mix."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.core.autograd import no_grad
from tinytorch.nn import MultiHeadAttention, padding_mask

B, T, C, H = 2, 5, 12, 3
X = np.random.default_rng(21).standard_normal((B, T, C)).astype(np.float32)
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def per_head_numpy(mha, x, numpy_attention, mask=None):
    """Each head on its own block of columns, in float64, then concatenated and mixed."""
    def project(name, inputs):
        layer = getattr(mha, name)
        return inputs @ layer.weight.numpy().astype(np.float64) + layer.bias.numpy()

    q, k, v = (project(name, x) for name in PROJECTIONS[:3])
    d = C // H
    heads = [numpy_attention(q[..., h * d:(h + 1) * d], k[..., h * d:(h + 1) * d],
                             v[..., h * d:(h + 1) * d], mask) for h in range(H)]
    return project("out_proj", np.concatenate(heads, axis=-1))


def test_four_linear_layers_of_embed_dim():
    mha = MultiHeadAttention(C, H, rng=0)
    assert [name for name, _ in mha.named_parameters()] == [
        f"{layer}.{p}" for layer in PROJECTIONS for p in ("weight", "bias")]
    assert all(p.shape in ((C, C), (C,)) for p in mha.parameters())
    assert mha.head_dim == C // H
    again = MultiHeadAttention(C, H, rng=0)
    np.testing.assert_array_equal(again.v_proj.weight.numpy(), mha.v_proj.weight.numpy())


@pytest.mark.parametrize("embed_dim, heads", [(10, 3), (8, 16)])
def test_embed_dim_must_divide_into_heads(embed_dim, heads):
    with pytest.raises(ValueError, match=f"embed_dim={embed_dim}.*num_heads={heads}"):
        MultiHeadAttention(embed_dim, heads)


def test_each_head_attends_with_its_own_block_of_columns(numpy_attention):
    mha = MultiHeadAttention(C, H, rng=1)
    out = mha(Tensor(X))
    assert out.shape == (B, T, C) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), per_head_numpy(mha, X, numpy_attention), rtol=1e-4, atol=1e-5)


def test_split_heads_is_a_reshape_then_a_transpose():
    mha = MultiHeadAttention(C, H, rng=1)
    flat = np.arange(B * T * C, dtype=np.float32).reshape(B * T, C)
    heads = mha.split_heads(Tensor(flat), B).numpy()
    assert heads.shape == (B, H, T, C // H)
    np.testing.assert_array_equal(heads[1, 2, 3], flat.reshape(B, T, C)[1, 3, 8:12])


def test_causal_attention_matches_the_per_head_computation(numpy_attention):
    mha = MultiHeadAttention(C, H, causal=True, rng=2)
    causal = np.tril(np.ones((T, T), dtype=bool))
    np.testing.assert_allclose(mha(Tensor(X)).numpy(), per_head_numpy(mha, X, numpy_attention, causal),
                               rtol=1e-4, atol=1e-5)


def test_a_causal_layer_never_lets_a_token_see_the_future(rng):
    mha = MultiHeadAttention(C, H, causal=True, rng=3)
    before = mha(Tensor(X)).numpy()
    for t in range(T):
        changed = X.copy()
        changed[:, t] += rng.standard_normal((B, C)).astype(np.float32) * 3
        after = mha(Tensor(changed)).numpy()
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-6, atol=1e-7)
        assert not np.allclose(after[:, t], before[:, t])


def test_a_padding_mask_gives_what_the_shorter_sequence_gives_alone():
    mha = MultiHeadAttention(C, H, rng=4)
    out = mha(Tensor(X), mask=padding_mask([5, 3], T)).numpy()
    np.testing.assert_allclose(out[0], mha(Tensor(X[:1])).numpy()[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1, :3], mha(Tensor(X[1:, :3])).numpy()[0], rtol=1e-5, atol=1e-6)


def test_padding_and_causal_masks_combine(numpy_attention):
    mha = MultiHeadAttention(C, H, causal=True, rng=5)
    out = mha(Tensor(X), mask=padding_mask([5, 3], T)).numpy()
    np.testing.assert_allclose(out[1, :3], mha(Tensor(X[1:, :3])).numpy()[0], rtol=1e-5, atol=1e-6)
    mask = np.tril(np.ones((T, T), dtype=bool)) & padding_mask([5, 3], T)   # (B, T, T)
    np.testing.assert_allclose(out, per_head_numpy(mha, X, numpy_attention, mask), rtol=1e-4, atol=1e-5)


def test_gradcheck_through_the_inputs_and_every_projection(rng):
    mha = MultiHeadAttention(4, 2, causal=True, rng=6)
    weights = [getattr(mha, name).weight.numpy() for name in PROJECTIONS]
    biases = [getattr(mha, name).bias.numpy() + 0.1 for name in PROJECTIONS]

    def layer(x, *parameters):
        for name, weight, bias in zip(PROJECTIONS, parameters[:4], parameters[4:]):
            getattr(mha, name).weight, getattr(mha, name).bias = weight, bias
        return mha(x)

    gradcheck(layer, rng.standard_normal((2, 3, 4)), *weights, *biases)


def test_a_wrong_input_shape_is_a_value_error():
    mha = MultiHeadAttention(C, H, rng=0)
    with pytest.raises(ValueError, match=f"embed_dim={C}"):
        mha(Tensor(np.zeros((2, 5, C + 1), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"\(5, 12\)"):
        mha(Tensor(np.zeros((5, C), dtype=np.float32)))


class ConcatenatingCache:
    """The simplest key/value cache: keep every step's keys and values and concatenate them."""

    def __init__(self):
        self.keys, self.values = None, None

    def update(self, k, v):
        self.keys = k.numpy() if self.keys is None else np.concatenate([self.keys, k.numpy()], axis=-2)
        self.values = v.numpy() if self.values is None else np.concatenate([self.values, v.numpy()], axis=-2)
        return Tensor(self.keys), Tensor(self.values)


def test_a_cache_lets_tokens_arrive_one_at_a_time():
    """The seam kata 17 builds on: with a cache, T new queries attend to all S keys so far."""
    mha = MultiHeadAttention(C, H, causal=True, rng=7)
    full = mha(Tensor(X)).numpy()
    cache = ConcatenatingCache()
    with no_grad():
        steps = [mha(Tensor(X[:, :2]), cache=cache).numpy()]
        steps += [mha(Tensor(X[:, t:t + 1]), cache=cache).numpy() for t in range(2, T)]
    assert cache.keys.shape == (B, H, T, C // H)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-5, atol=1e-6)
