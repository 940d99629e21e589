"""The pre-norm transformer block: two residual branches, each normalised at its input."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import MLP, LayerNorm, MultiHeadAttention, TransformerBlock

B, T, C, H = 2, 5, 8, 2
X = np.random.default_rng(3).standard_normal((B, T, C)).astype(np.float32)


def silence(linear):
    linear.weight.data[...] = 0.0
    linear.bias.data[...] = 0.0


def test_the_sub_modules_in_order():
    block = TransformerBlock(C, H, rng=0)
    assert isinstance(block.ln1, LayerNorm) and isinstance(block.ln2, LayerNorm)
    assert isinstance(block.attn, MultiHeadAttention) and isinstance(block.mlp, MLP)
    assert block.attn.causal and block.attn.num_heads == H
    order = []
    for name, _ in block.named_parameters():
        if name.split(".")[0] not in order:
            order.append(name.split(".")[0])
    assert order == ["ln1", "attn", "ln2", "mlp"]
    assert block.mlp.fc.weight.shape == (C, 4 * C)
    assert TransformerBlock(C, H, mlp_ratio=2, rng=0).mlp.fc.weight.shape == (C, 2 * C)


def test_with_both_branches_silenced_the_block_is_the_identity():
    block = TransformerBlock(C, H, rng=1)
    silence(block.attn.out_proj)
    silence(block.mlp.proj)
    np.testing.assert_array_equal(block(Tensor(X)).numpy(), X)


def test_each_branch_is_added_to_the_residual_stream():
    block = TransformerBlock(C, H, rng=2)
    silence(block.mlp.proj)
    x = Tensor(X)
    np.testing.assert_allclose(block(x).numpy(), X + block.attn(block.ln1(x)).numpy(), rtol=1e-5, atol=1e-6)
    block = TransformerBlock(C, H, rng=2)
    silence(block.attn.out_proj)
    np.testing.assert_allclose(block(x).numpy(), X + block.mlp(block.ln2(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_pre_norm_composition(rng):
    """x1 = x + attn(ln1(x)); out = x1 + mlp(ln2(x1)): the MLP sees the attention's result."""
    block = TransformerBlock(C, H, rng=3)
    block.ln1.weight.data[:] = rng.uniform(0.5, 1.5, C)
    block.ln2.bias.data[:] = rng.standard_normal(C)
    x = Tensor(X)
    x1 = X + block.attn(block.ln1(x)).numpy()
    expected = x1 + block.mlp(block.ln2(Tensor(x1))).numpy()
    out = block(x)
    assert out.shape == X.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_block_is_causal(rng):
    block = TransformerBlock(C, H, rng=4)
    before = block(Tensor(X)).numpy()
    changed = X.copy()
    changed[:, 3:] = rng.standard_normal((B, T - 3, C))
    after = block(Tensor(changed)).numpy()
    np.testing.assert_allclose(after[:, :3], before[:, :3], rtol=1e-6, atol=1e-7)
    assert not np.allclose(after[:, 3], before[:, 3])


def test_dropout_acts_in_training_only():
    block = TransformerBlock(C, H, dropout=0.5, rng=5)
    x = Tensor(X)
    assert not np.allclose(block(x).numpy(), block(x).numpy())
    block.eval()
    silence(block.mlp.proj)
    np.testing.assert_allclose(block(x).numpy(), X + block.attn(block.ln1(x)).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [6, 7])
def test_gradcheck_through_a_block(float64, seed, rng):
    block = float64(TransformerBlock(4, 2, mlp_ratio=2, rng=seed))

    def run(x, ln1_weight, qkv_weight, fc_weight):
        block.ln1.weight, block.attn.q_proj.weight, block.mlp.fc.weight = ln1_weight, qkv_weight, fc_weight
        return block(x)

    gradcheck(run, rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 1.5, 4),
              block.attn.q_proj.weight.numpy(), block.mlp.fc.weight.numpy())
