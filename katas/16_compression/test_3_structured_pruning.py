"""Structured pruning: whole neurons and channels removed, and the layers really shrink.

The check of correctness is an equivalence: the smaller pair of layers must compute
exactly what the original pair computes when the removed units' activations are set to 0.
"""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import Conv2d, Dropout, Linear, Sequential
from tinytorch.systems.compression import prune_units, unit_scores


def with_random_biases(*layers):
    rng = np.random.default_rng(16)
    for layer in layers:
        layer.bias.data[:] = rng.uniform(-0.5, 0.5, layer.bias.shape)
    return layers


def test_unit_scores_are_the_l1_norms_of_each_output_unit():
    linear, conv = Linear(7, 5, rng=0), Conv2d(3, 4, 3, rng=1)
    np.testing.assert_allclose(unit_scores(linear), np.abs(linear.weight.numpy()).sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(unit_scores(conv), np.abs(conv.weight.numpy()).reshape(4, -1).sum(axis=1),
                               rtol=1e-6)
    assert unit_scores(linear).shape == (5,) and unit_scores(conv).shape == (4,)
    with pytest.raises(TypeError, match="Dropout"):
        unit_scores(Dropout(0.5))


def test_pruned_linear_pair_equals_the_original_with_those_neurons_silenced():
    first, second = with_random_biases(Linear(20, 30, rng=0), Linear(30, 5, rng=1))
    small, small_next, kept = prune_units(first, second, keep=12)

    expected_kept = np.sort(np.argsort(-np.abs(first.weight.numpy()).sum(axis=0))[:12])
    np.testing.assert_array_equal(kept, expected_kept)
    assert isinstance(small, Linear) and isinstance(small_next, Linear)
    assert small.weight.shape == (20, 12) and small.bias.shape == (12,)
    assert small_next.weight.shape == (12, 5) and small_next.bias.shape == (5,)
    assert small.weight.dtype == small_next.weight.dtype == np.float32
    assert small.weight.requires_grad and small_next.bias.requires_grad

    x = np.random.default_rng(1).standard_normal((8, 20)).astype(np.float32)
    hidden = np.maximum(x @ first.weight.numpy() + first.bias.numpy(), 0)
    silenced = np.zeros(30, dtype=bool)
    silenced[kept] = True
    expected = (hidden * silenced) @ second.weight.numpy() + second.bias.numpy()
    out = Sequential(small, ReLU(), small_next)(Tensor(x))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_bias_goes_with_its_neuron():
    """Neuron 0 has tiny weights and a large bias: it goes, and so must its bias."""
    first, second = with_random_biases(Linear(4, 3, rng=0), Linear(3, 2, rng=1))
    first.weight.data[:, 0] = 1e-3
    first.bias.data[:] = [5.0, 0.1, -0.2]
    small, small_next, kept = prune_units(first, second, keep=2)
    np.testing.assert_array_equal(kept, [1, 2])
    np.testing.assert_array_equal(small.bias.numpy(), np.array([0.1, -0.2], dtype=np.float32))
    np.testing.assert_array_equal(small_next.bias.numpy(), second.bias.numpy())
    np.testing.assert_array_equal(small_next.weight.numpy(), second.weight.numpy()[1:])


def test_parameters_really_shrink_and_are_copies():
    first, second = Linear(20, 30, rng=0), Linear(30, 5, rng=1)
    small, small_next, _ = prune_units(first, second, keep=12)
    count = sum(p.size for layer in (small, small_next) for p in layer.parameters())
    assert count == 20 * 12 + 12 + 12 * 5 + 5
    original = first.weight.numpy().copy()
    small.weight.data[:] = 0.0
    np.testing.assert_array_equal(first.weight.numpy(), original)


def test_ties_keep_the_lower_index_and_order_is_kept():
    first, second = Linear(2, 4, bias=False), Linear(4, 1, bias=False)
    first.weight.data[:] = [[1.0, -2.0, 1.0, 0.5], [0.0, 0.0, -1.0, 0.5]]  # L1 norms 1, 2, 2, 1
    _, _, kept = prune_units(first, second, keep=3)
    np.testing.assert_array_equal(kept, [0, 1, 2])
    small, small_next, kept = prune_units(first, second, keep=2)
    np.testing.assert_array_equal(kept, [1, 2])
    assert small.bias is None and small_next.bias is None
    np.testing.assert_array_equal(small.weight.numpy(), first.weight.numpy()[:, [1, 2]])


def test_pruned_conv_pair_equals_the_original_with_those_channels_silenced():
    conv, next_conv = with_random_biases(Conv2d(3, 6, 3, padding=1, rng=0), Conv2d(6, 4, 3, stride=2, rng=1))
    small, small_next, kept = prune_units(conv, next_conv, keep=4)

    scores = np.abs(conv.weight.numpy()).sum(axis=(1, 2, 3))
    np.testing.assert_array_equal(kept, np.sort(np.argsort(-scores)[:4]))
    assert isinstance(small, Conv2d) and isinstance(small_next, Conv2d)
    assert small.weight.shape == (4, 3, 3, 3) and small.bias.shape == (4,)
    assert small_next.weight.shape == (4, 4, 3, 3) and small_next.bias.shape == (4,)
    assert (small.padding, small.stride, small_next.padding, small_next.stride) == (1, 1, 0, 2)

    x = Tensor(np.random.default_rng(2).standard_normal((2, 3, 7, 7)).astype(np.float32))
    hidden = ReLU()(conv(x)).numpy()
    silenced = np.zeros((1, 6, 1, 1), dtype=np.float32)
    silenced[0, kept] = 1.0
    expected = next_conv(Tensor(hidden * silenced)).numpy()
    out = small_next(ReLU()(small(x))).numpy()
    assert out.shape == expected.shape == (2, 4, 3, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_mismatched_pairs_and_bad_counts_are_refused():
    with pytest.raises(ValueError, match="Linear.*Conv2d|Conv2d.*Linear"):
        prune_units(Linear(4, 3), Conv2d(3, 2, 1), keep=2)
    with pytest.raises(ValueError, match="5.*6|6.*5"):
        prune_units(Linear(4, 5), Linear(6, 3), keep=2)
    for keep in (0, 6):
        with pytest.raises(ValueError, match="keep"):
            prune_units(Linear(4, 5), Linear(5, 3), keep=keep)
