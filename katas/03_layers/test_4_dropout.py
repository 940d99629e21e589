"""Dropout: drop with probability p and rescale in training; the identity in evaluation."""

import re

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Dropout

X = (np.arange(1, 401, dtype=np.float32).reshape(20, 20) / 7).astype(np.float32)


@pytest.mark.parametrize("p", [1.0, 1.5, -0.1])
def test_p_outside_zero_to_one_is_rejected(p):
    with pytest.raises(ValueError, match=re.escape(str(p))):
        Dropout(p)


def test_kept_values_are_scaled_by_one_over_keep_probability():
    out = Dropout(0.25, rng=0)(Tensor(X)).numpy()
    kept = out != 0
    assert 0 < kept.sum() < X.size
    np.testing.assert_allclose(out[kept], X[kept] / 0.75, rtol=1e-6)
    assert out.dtype == np.float32


def test_the_fraction_dropped_is_p_and_the_mean_is_preserved():
    ones = Tensor(np.ones((500, 200), dtype=np.float32))
    out = Dropout(0.3, rng=1)(ones).numpy()
    assert abs((out == 0).mean() - 0.3) < 0.01
    assert abs(out.mean() - 1.0) < 0.02


def test_eval_mode_returns_the_input_unchanged():
    layer = Dropout(0.5, rng=0)
    layer.eval()
    np.testing.assert_array_equal(layer(Tensor(X)).numpy(), X)
    layer.train()
    assert np.any(layer(Tensor(X)).numpy() == 0)


def test_p_zero_keeps_everything():
    np.testing.assert_array_equal(Dropout(0.0)(Tensor(X)).numpy(), X)


def test_the_input_is_not_modified():
    data = np.linspace(1.0, 2.0, 50, dtype=np.float32)
    x = Tensor(data.copy())
    Dropout(0.5, rng=0)(x)
    np.testing.assert_array_equal(x.numpy(), data)


def test_masks_are_fresh_each_call_and_reproducible_with_a_seed():
    layer = Dropout(0.5, rng=3)
    first, second = layer(Tensor(X)).numpy(), layer(Tensor(X)).numpy()
    assert not np.array_equal(first == 0, second == 0)
    np.testing.assert_array_equal(Dropout(0.5, rng=3)(Tensor(X)).numpy(), first)
