"""Systems view of attention: the T x S weights are quadratic in the sequence length.

Every figure is measured on your attention.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, seconds
from tinytorch.core import Softmax, Tensor
from tinytorch.nn import MultiHeadAttention, causal_mask, scaled_dot_product_attention

BATCH, HEADS, HEAD_DIM = 4, 4, 16


def heads(rng, length):
    shape = (BATCH, HEADS, length, HEAD_DIM)
    return [Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True) for _ in range(3)]


def composed_attention(q, k, v, mask):
    """The same attention from separate Tensor operations: every step keeps its own array."""
    additive = Tensor(np.where(mask, 0.0, -1e9).astype(np.float32))
    scores = q @ k.transpose() * (1.0 / np.sqrt(HEAD_DIM)) + additive
    return Softmax(axis=-1)(scores) @ v


def test_attention_memory_grows_with_the_square_of_the_sequence(metrics, rng):
    saved, peaks = {}, {}
    for length in (128, 256):
        q, k, v = heads(rng, length)
        mask = causal_mask(length)
        out, peaks[length] = peak_bytes(
            lambda q=q, k=k, v=v, mask=mask: scaled_dot_product_attention(q, k, v, mask))
        weights = out.grad_fn.arguments["weights"]
        assert weights.shape == (BATCH, HEADS, length, length)
        saved[length] = weights.nbytes
        metrics.record(f"attention weights kept for backward, T = {length}", weights.nbytes, "bytes")
        metrics.record(f"attention forward peak, T = {length}", peaks[length], "bytes")
    assert saved[256] == 4 * saved[128]
    ratio = peaks[256] / peaks[128]
    assert 3.3 < ratio < 4.5, f"doubling T multiplied the forward peak by {ratio:.2f}"
    metrics.record("forward peak, 2T / T", ratio, "ratio")


def test_flops_of_attention_are_quadratic_too(metrics, rng):
    flops = {}
    for length in (64, 128):
        q, k, v = heads(rng, length)
        out = scaled_dot_product_attention(q, k, v)
        weights = out.grad_fn.arguments["weights"]
        # two matrix products, (T x d) @ (d x S) and (T x S) @ (S x d_v): 2 FLOPs per multiply-add
        flops[length] = 2 * weights.size * (q.shape[-1] + v.shape[-1])
        metrics.record(f"attention matmul FLOPs, T = {length}", flops[length], "FLOPs")
    assert flops[128] == 4 * flops[64]


def test_the_fused_operation_keeps_less_than_a_composed_one(metrics, rng):
    q, k, v = heads(rng, 128)
    mask = causal_mask(128)
    fused, fused_peak = peak_bytes(lambda: scaled_dot_product_attention(q, k, v, mask))
    composed, composed_peak = peak_bytes(lambda: composed_attention(q, k, v, mask))
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-4, atol=1e-5)
    assert fused_peak < composed_peak
    metrics.record("composed / fused attention forward peak", composed_peak / fused_peak, "ratio")


def test_time_of_a_multi_head_attention_step(metrics, rng):
    mha = MultiHeadAttention(128, 4, causal=True, rng=0)
    x = Tensor(rng.standard_normal((32, 64, 128)).astype(np.float32), requires_grad=True)

    def step():
        mha(x).sum().backward()

    elapsed = seconds(step, repeat=3)
    assert all(p.grad is not None for p in mha.parameters())
    metrics.record("MultiHeadAttention forward + backward, (32, 64, 128), 4 heads", elapsed, "seconds")
