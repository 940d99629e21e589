"""Systems view of embeddings: the table dominates, a lookup is a copy, the gradient is dense.

Every figure is measured on your Embedding.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, time_ratio
from tinytorch.core import Tensor
from tinytorch.nn import Embedding

VOCAB, DIM = 8192, 512             # a BPE vocabulary and a mid-sized model
BATCH, LENGTH = 32, 128


def token_batch(vocab: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, (BATCH, LENGTH))


def test_table_bytes_are_vocab_times_dim_times_four(metrics):
    emb, created_peak = peak_bytes(lambda: Embedding(VOCAB, DIM, rng=0))
    table = emb.weight.nbytes
    assert table == VOCAB * DIM * 4
    # drawing the table in float64 and casting would briefly need three times as much
    assert created_peak < 1.2 * table, f"building a {table:,}-byte table peaked at {created_peak:,} bytes"
    metrics.record(f"embedding table {VOCAB} x {DIM}, float32", table, "bytes")
    metrics.record("peak while building the table", created_peak, "bytes")


def test_a_lookup_allocates_just_its_output(metrics):
    emb, ids = Embedding(VOCAB, DIM, rng=0), Tensor(token_batch(VOCAB))
    out, peak = peak_bytes(lambda: emb(ids))
    assert out.shape == (BATCH, LENGTH, DIM)
    assert out.nbytes <= peak < 1.25 * out.nbytes, f"a lookup of {out.nbytes:,} bytes peaked at {peak:,}"
    metrics.record(f"lookup of a ({BATCH}, {LENGTH}) batch, peak", peak, "bytes")
    metrics.record("bytes per token looked up", out.nbytes / ids.size, "bytes")


def test_a_lookup_beats_multiplying_one_hot_vectors(metrics):
    vocab, dim = 2048, 256
    emb, ids = Embedding(vocab, dim, rng=0), token_batch(vocab)[:16]

    def one_hot_matmul():
        return Tensor(np.eye(vocab, dtype=np.float32)[ids]) @ emb.weight

    np.testing.assert_allclose(one_hot_matmul().numpy(), emb(Tensor(ids)).numpy(), rtol=1e-6)
    _, lookup_peak = peak_bytes(lambda: emb(Tensor(ids)))
    _, one_hot_peak = peak_bytes(one_hot_matmul)
    ratio = time_ratio(one_hot_matmul, lambda: emb(Tensor(ids)))
    assert one_hot_peak > 4 * lookup_peak
    # about 200x on one idle core, more on a busy one: a threshold no load can reach
    assert ratio > 3, f"the one-hot product was only {ratio:.1f}x slower than the lookup"
    metrics.record(f"one-hot matmul / lookup time, vocab {vocab}", ratio, "ratio")
    metrics.record("one-hot matmul / lookup peak memory", one_hot_peak / lookup_peak, "ratio")


def test_the_table_gradient_is_dense_though_few_rows_were_used(metrics):
    emb = Embedding(VOCAB, DIM, rng=0)
    ids = token_batch(VOCAB)[:4, :32]                      # 128 tokens out of 8192
    out = emb(Tensor(ids))
    _, backward_peak = peak_bytes(lambda: out.sum().backward())
    grad = emb.weight.grad.numpy()
    touched = int(np.any(grad != 0, axis=1).sum())
    assert touched == len(np.unique(ids))
    assert grad.nbytes == emb.weight.nbytes
    assert backward_peak >= emb.weight.nbytes
    metrics.record("table gradient for 128 tokens", grad.nbytes, "bytes")
    metrics.record("rows of the table with a nonzero gradient", 100 * touched / VOCAB, "%")
    metrics.record("backward peak of the lookup", backward_peak, "bytes")
