"""Global magnitude pruning: one threshold over all the weights of the model, biases spared.

The expected masks come from NumPy on the same weights: the magnitudes of all weights laid
end to end, sorted once, the k smallest pruned. A per-layer rule, a threshold that takes
the biases into account, or k off by one gives different masks.
"""

import numpy as np
import pytest

from tinytorch.core import ReLU
from tinytorch.nn import Linear, Sequential
from tinytorch.systems.compression import (
    apply_masks,
    global_magnitude_masks,
    global_magnitude_prune,
    weight_sparsity,
)

WEIGHTS = ("0.weight", "2.weight")


def mlp(small_scale: float = 1.0) -> Sequential:
    """A 20-30-5 MLP with non-zero biases; the last layer's weights scaled by ``small_scale``."""
    model = Sequential(Linear(20, 30, rng=0), ReLU(), Linear(30, 5, rng=1))
    model[2].weight.data *= small_scale
    rng = np.random.default_rng(2)
    for layer in (model[0], model[2]):
        layer.bias.data[:] = rng.uniform(-0.5, 0.5, layer.bias.shape)
    return model


def numpy_global_masks(model: Sequential, sparsity: float) -> dict[str, np.ndarray]:
    weights = {name: model[int(name[0])].weight.data for name in WEIGHTS}
    magnitudes = np.concatenate([np.abs(w).ravel() for w in weights.values()])
    assert len(np.unique(magnitudes)) == magnitudes.size, "the test needs distinct magnitudes"
    k = round(sparsity * magnitudes.size)
    threshold = np.sort(magnitudes)[k - 1] if k else -1.0
    return {name: np.abs(w) > threshold for name, w in weights.items()}


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.123])
def test_masks_prune_exactly_the_k_smallest_weights_of_the_whole_model(sparsity):
    model = mlp()
    masks = global_magnitude_masks(model, sparsity)
    expected = numpy_global_masks(model, sparsity)
    assert list(masks) == list(WEIGHTS), "masks are for the weights only, named as in named_parameters()"
    for name in WEIGHTS:
        assert masks[name].dtype == bool and masks[name].shape == expected[name].shape
        np.testing.assert_array_equal(masks[name], expected[name], err_msg=name)
    pruned = sum(int((~mask).sum()) for mask in masks.values())
    assert pruned == round(sparsity * 750)  # 20*30 + 30*5 weights


def test_masks_do_not_change_the_model():
    model = mlp()
    before = model.state_dict()
    global_magnitude_masks(model, 0.5)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_one_threshold_for_all_layers_not_one_per_layer():
    """The last layer's weights are all smaller than almost every weight of the first: a
    global 50 % takes all 150 of them and 225 of the first layer's 600. Pruning 50 % of each
    layer separately would take 300 and 75."""
    model = mlp(small_scale=0.05)
    masks = global_magnitude_masks(model, 0.5)
    expected = numpy_global_masks(model, 0.5)
    assert int((~masks["2.weight"]).sum()) == int((~expected["2.weight"]).sum()) == 150
    assert int((~masks["0.weight"]).sum()) == int((~expected["0.weight"]).sum()) == 225


def test_biases_are_not_pruned_and_do_not_take_part():
    """Tiny biases would be the first victims if they joined the competition."""
    model = mlp()
    for layer in (model[0], model[2]):
        layer.bias.data[:] = 1e-6
    masks = global_magnitude_prune(model, 0.9)
    assert set(masks) == set(WEIGHTS)
    np.testing.assert_array_equal(model[0].bias.numpy(), np.full(30, 1e-6, dtype=np.float32))
    np.testing.assert_array_equal(model[2].bias.numpy(), np.full(5, 1e-6, dtype=np.float32))
    assert sum(int((layer.weight.data == 0).sum()) for layer in (model[0], model[2])) == 675


def test_ties_go_in_order_of_position():
    """All six magnitudes are equal: the first three in named_parameters order, row-major, go."""
    model = Sequential(Linear(2, 2, bias=False), ReLU(), Linear(2, 1, bias=False))
    model[0].weight.data[:] = [[0.5, -0.5], [0.5, 0.5]]
    model[2].weight.data[:] = [[-0.5], [0.5]]
    masks = global_magnitude_masks(model, 0.5)
    np.testing.assert_array_equal(masks["0.weight"], [[False, False], [False, True]])
    np.testing.assert_array_equal(masks["2.weight"], [[True], [True]])



def stable_order_keep(model, sparsity: float) -> np.ndarray:
    """The docstring's rule with ties, as one keep vector over all the weights laid end to
    end: (magnitude, position) sorted as pairs, the first round(sparsity * n) pruned."""
    magnitudes = np.concatenate([np.abs(p.data).ravel() for p in model.parameters() if p.ndim >= 2])
    order = np.lexsort((np.arange(magnitudes.size), magnitudes))  # magnitude, then position
    keep = np.ones(magnitudes.size, dtype=bool)
    keep[order[:round(sparsity * magnitudes.size)]] = False
    return keep


def laid_end_to_end(masks: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([mask.ravel() for mask in masks.values()])


@pytest.mark.parametrize("size, sparsity, pruned", [
    (7, 0.5, 4),    # 3.5: int() and floor give 3
    (5, 0.5, 2),    # 2.5: Python rounds half to even; ceil and int(x + 0.5) give 3
    (6, 0.3, 2),    # 0.3 * 6 is 1.7999999999999998: int() gives 1
    (9, 0.9, 8),    # 8.1: ceil gives 9
    (3, 0.5, 2),    # 1.5
])
def test_the_number_pruned_is_rounded_not_truncated(size, sparsity, pruned):
    model = Sequential(Linear(size, 1, bias=False))
    signs = np.where(np.arange(size) % 2 == 0, 1.0, -1.0)
    model[0].weight.data[:, 0] = (np.random.default_rng(size).permutation(size) + 1.0) * signs  # distinct
    masks = global_magnitude_masks(model, sparsity)
    assert int((~masks["0.weight"]).sum()) == pruned == round(sparsity * size)
    np.testing.assert_array_equal(laid_end_to_end(masks), stable_order_keep(model, sparsity))


@pytest.mark.parametrize("sparsity", [0.3, 0.6, 0.9])
def test_ties_in_a_long_vector_go_in_order_of_position(sparsity):
    """10,138 weights on four magnitudes (0 and -0 among them): every cut falls inside a
    group of thousands of equal magnitudes. An unstable sort (np.argsort's default on more
    than 16 values) picks a different subset of each group; the docstring asks for the
    earliest positions."""
    model = Sequential(Linear(73, 137, bias=False), ReLU(), Linear(137, 1, bias=False))  # 10,001 + 137
    rng = np.random.default_rng(16)
    for layer in (model[0], model[2]):
        levels = rng.choice([0.0, 0.25, 0.5, 0.75], size=layer.weight.shape, p=[0.2, 0.3, 0.3, 0.2])
        layer.weight.data[:] = levels * rng.choice([-1.0, 1.0], size=layer.weight.shape)
    masks = global_magnitude_masks(model, sparsity)
    assert list(masks) == list(WEIGHTS)
    keep = laid_end_to_end(masks)
    np.testing.assert_array_equal(keep, stable_order_keep(model, sparsity))
    assert int((~keep).sum()) == round(sparsity * 10138)

def test_zeros_go_first_and_pruning_again_prunes_nothing_new():
    model = mlp()
    model[0].weight.data[:5] = 0.0  # 150 weights already zero, 20 % of all
    masks = global_magnitude_masks(model, 0.3)
    assert not masks["0.weight"][:5].any()
    global_magnitude_prune(model, 0.5)
    zeros = [layer.weight.numpy() == 0 for layer in (model[0], model[2])]
    again = global_magnitude_masks(model, 0.5)
    np.testing.assert_array_equal(~again["0.weight"], zeros[0])
    np.testing.assert_array_equal(~again["2.weight"], zeros[1])


def test_prune_applies_the_masks_in_place():
    model = mlp()
    weight = model[0].weight
    originals = {name: model[int(name[0])].weight.numpy().copy() for name in WEIGHTS}
    masks = global_magnitude_prune(model, 0.7)
    assert model[0].weight is weight and weight.dtype == np.float32
    for name in WEIGHTS:
        np.testing.assert_array_equal(model[int(name[0])].weight.numpy(), originals[name] * masks[name])
    assert weight_sparsity(model) == pytest.approx(0.7)


def test_apply_masks_checks_everything_before_changing_anything():
    model = mlp()
    before = model[0].weight.numpy().copy()
    good = np.zeros((20, 30), dtype=bool)
    with pytest.raises(ValueError, match=r"2\.weight.*\(5, 30\).*\(30, 5\)|2\.weight.*\(30, 5\).*\(5, 30\)"):
        apply_masks(model, {"0.weight": good, "2.weight": np.ones((5, 30), dtype=bool)})
    with pytest.raises(ValueError, match="head.weight"):
        apply_masks(model, {"0.weight": good, "head.weight": np.ones((30, 5), dtype=bool)})
    np.testing.assert_array_equal(model[0].weight.numpy(), before)


def test_sparsity_counts_every_weight_once_and_no_bias():
    """300 zeros among 600 + 150 weights is 40 %, not the mean of 50 % and 0 %, and the 35
    zero biases do not count."""
    model = mlp()
    model[0].weight.data[:10] = 0.0
    for layer in (model[0], model[2]):
        layer.bias.data[:] = 0.0
    assert weight_sparsity(model) == pytest.approx(300 / 750)


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5])
def test_a_sparsity_outside_zero_to_one_is_refused(sparsity):
    with pytest.raises(ValueError, match="sparsity"):
        global_magnitude_masks(mlp(), sparsity)
