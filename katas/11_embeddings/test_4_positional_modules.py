"""Adding positions to token vectors: a learned table (GPT-2) or the fixed sinusoids."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import PositionalEmbedding, SinusoidalPositionalEncoding

X = np.random.default_rng(4).standard_normal((2, 5, 6)).astype(np.float32)     # (B, T, dim)


def test_the_learned_table_is_a_parameter():
    pos = PositionalEmbedding(8, 6, rng=0)
    assert [name for name, _ in pos.named_parameters()] == ["weight"]
    assert pos.weight.shape == (8, 6) and pos.weight.dtype == np.float32
    assert abs(PositionalEmbedding(300, 50, rng=1).weight.numpy().std() - 1.0) < 0.03


def test_learned_positions_add_the_first_rows_to_every_sequence():
    pos = PositionalEmbedding(8, 6, rng=0)
    out = pos(Tensor(X))
    assert out.shape == X.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), X + pos.weight.numpy()[:5], rtol=1e-6)


def test_start_shifts_the_positions():
    pos = PositionalEmbedding(8, 6, rng=0)
    np.testing.assert_allclose(pos(Tensor(X[:, :2]), start=5).numpy(),
                               X[:, :2] + pos.weight.numpy()[5:7], rtol=1e-6)


def test_the_table_gradient_sums_over_the_batch_and_skips_unused_positions(rng):
    pos = PositionalEmbedding(8, 6, rng=0)
    x = Tensor(X, requires_grad=True)
    upstream = rng.standard_normal(X.shape).astype(np.float32)
    pos(x).backward(Tensor(upstream))
    np.testing.assert_allclose(pos.weight.grad.numpy()[:5], upstream.sum(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(pos.weight.grad.numpy()[5:], 0.0)
    np.testing.assert_array_equal(x.grad.numpy(), upstream)


def test_gradcheck_of_the_learned_table(rng):
    pos = PositionalEmbedding(7, 3, rng=0)

    def add_positions(table, x):
        pos.weight = table
        return pos(x, start=2)

    gradcheck(add_positions, rng.standard_normal((7, 3)), rng.standard_normal((2, 4, 3)))


@pytest.mark.parametrize("make", [lambda: PositionalEmbedding(8, 6, rng=0),
                                  lambda: SinusoidalPositionalEncoding(8, 6)],
                         ids=["learned", "sinusoidal"])
def test_a_sequence_longer_than_max_len_is_a_clear_error(make):
    module = make()
    with pytest.raises(ValueError, match="max_len=8"):
        module(Tensor(np.zeros((1, 9, 6), dtype=np.float32)))
    with pytest.raises(ValueError, match="max_len=8"):
        module(Tensor(np.zeros((1, 3, 6), dtype=np.float32)), start=6)
    with pytest.raises(ValueError, match="6"):
        module(Tensor(np.zeros((1, 3, 4), dtype=np.float32)))   # wrong dim
    assert module(Tensor(np.zeros((1, 8, 6), dtype=np.float32))).shape == (1, 8, 6)


def test_sinusoidal_encoding_adds_the_fixed_table_and_learns_nothing(vaswani):
    enc = SinusoidalPositionalEncoding(12, 6)
    assert list(enc.named_parameters()) == []
    table = vaswani(12, 6)
    np.testing.assert_allclose(enc(Tensor(X)).numpy(), X + table[:5], atol=2e-6)
    np.testing.assert_allclose(enc(Tensor(X), start=4).numpy(), X + table[4:9], atol=2e-6)
    assert enc(Tensor(X)).dtype == np.float32


def test_sinusoidal_encoding_passes_the_gradient_to_its_input(rng):
    gradcheck(lambda x: SinusoidalPositionalEncoding(10, 3)(x, start=1) * x, rng.standard_normal((2, 4, 3)))
