"""From loops to one matrix product: every squared distance between two sets of points."""

import numpy as np
import pytest

from tinytorch.systems.acceleration import squared_distances, squared_distances_loops


def broadcast_distances(a, b):
    """The independent answer: every difference at once, in float64."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1)


def test_a_case_worked_by_hand():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 2.0]])
    # (3, 4) is 5 away from the origin; (1, 1) to (3, 4) is 2**2 + 3**2 = 13
    np.testing.assert_allclose(squared_distances(a, b), [[25, 0, 5], [13, 2, 1]], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_vectorized_version_matches_the_loops_and_keeps_the_dtype(dtype, rng):
    a = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal((4, 5)).astype(dtype)
    out = squared_distances(a, b)
    assert out.shape == (7, 4) and out.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, squared_distances_loops(a, b), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(out, broadcast_distances(a, b), rtol=tolerance, atol=tolerance)


def test_rows_of_a_against_rows_of_b_not_columns(rng):
    a = rng.standard_normal((3, 8))
    b = rng.standard_normal((6, 8))
    np.testing.assert_allclose(squared_distances(a, b), broadcast_distances(a, b), atol=1e-10)
    np.testing.assert_allclose(squared_distances(b, a), broadcast_distances(a, b).T, atol=1e-10)


def test_rounding_never_makes_a_distance_negative(rng):
    # far from the origin, |a|^2 + |b|^2 and 2 a.b are huge and nearly cancel for equal rows
    points = (rng.standard_normal((64, 32)) + 1e4).astype(np.float32)
    out = squared_distances(points, points)
    assert out.min() >= 0, f"a squared distance came out as {out.min()}: clip at 0"
    assert np.abs(np.diag(out)).max() < 1e-5 * 32 * 1e8


@pytest.mark.parametrize("a_shape, b_shape", [((3, 2), (4, 3)), ((3,), (4, 3)), ((2, 3, 1), (4, 3))])
def test_shapes_that_do_not_fit_are_named(a_shape, b_shape):
    with pytest.raises(ValueError, match=rf"{re_shape(a_shape)}.*{re_shape(b_shape)}"):
        squared_distances(np.zeros(a_shape), np.zeros(b_shape))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")
