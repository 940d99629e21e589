"""Linear's sizes are checked when the layer is built, naming the argument and the value."""

import numpy as np
import pytest

from tinytorch.nn import Linear


@pytest.mark.parametrize("in_features, out_features, named", [
    (0, 3, "in_features=0"), (-1, 3, "in_features=-1"), (4, 0, "out_features=0"),
    (4, -2, "out_features=-2")])
def test_a_size_below_one_is_a_value_error(in_features, out_features, named):
    with pytest.raises(ValueError, match=named):
        Linear(in_features, out_features)


@pytest.mark.parametrize("in_features, out_features, named", [
    (2.5, 3, "in_features=2.5"), ("4", 3, "in_features='4'"), (None, 3, "in_features=None"),
    (True, 3, "in_features=True"), (4, 3.0, "out_features=3.0")])
def test_a_size_that_is_not_an_integer_is_a_type_error(in_features, out_features, named):
    with pytest.raises(TypeError, match=named):
        Linear(in_features, out_features)


def test_numpy_integers_are_sizes_too():
    layer = Linear(np.int64(4), np.int32(3), rng=0)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
