"""A matrix product computed tile by tile, one np.dot per pair of tiles."""

import math

import numpy as np
import pytest

from tinytorch.systems.acceleration import blocked_matmul


@pytest.mark.parametrize("shape_a, shape_b, tile", [
    ((10, 7), (7, 9), 4),       # no dimension divisible by the tile
    ((8, 8), (8, 8), 4),        # all divisible
    ((5, 3), (3, 6), 1),        # one element per tile
    ((6, 4), (4, 5), 100),      # one tile larger than everything
    ((1, 13), (13, 1), 5),      # a row times a column
    ((9, 2), (2, 11), 3),
])
def test_the_same_product_as_numpy(shape_a, shape_b, tile, rng):
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    out = blocked_matmul(a, b, tile=tile)
    assert out.shape == (shape_a[0], shape_b[1])
    np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)


def test_float32_stays_float32(rng):
    a = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal((5, 7)).astype(np.float32)
    out = blocked_matmul(a, b, tile=2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


def test_it_really_tiles_with_one_np_dot_per_tile_product(monkeypatch, rng):
    calls = []
    real_dot = np.dot

    def counting_dot(x, y, *args, **kwargs):
        calls.append((x.shape, y.shape))
        return real_dot(x, y, *args, **kwargs)

    monkeypatch.setattr(np, "dot", counting_dot)
    a, b, tile = rng.standard_normal((10, 7)), rng.standard_normal((7, 9)), 4
    blocked_matmul(a, b, tile=tile)
    monkeypatch.undo()
    assert len(calls) == math.ceil(10 / tile) * math.ceil(9 / tile) * math.ceil(7 / tile) == 18
    assert all(max(*left, *right) <= tile for left, right in calls), calls
    assert {left for left, _ in calls} >= {(4, 4), (2, 3)}   # edge tiles are smaller


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (5, 2)), ((3,), (3, 2))])
def test_shapes_that_do_not_multiply_are_named(shape_a, shape_b):
    with pytest.raises(ValueError, match=r"\(3, 4\)|\(3,\)"):
        blocked_matmul(np.zeros(shape_a), np.zeros(shape_b))


def test_a_tile_below_one_is_refused():
    with pytest.raises(ValueError, match="tile"):
        blocked_matmul(np.zeros((2, 2)), np.zeros((2, 2)), tile=0)
