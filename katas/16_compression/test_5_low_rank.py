"""Low-rank factorization: a Linear split into two thin ones by the truncated SVD.

A weight built with known singular values (5, 4, 3, 2, 1) makes every figure exact: at
rank 2 the error is sqrt(9 + 4 + 1), and a rank off by one gives sqrt(4 + 1) or
sqrt(16 + 9 + 4 + 1).
"""

import math

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Linear, Sequential
from tinytorch.systems.compression import low_rank_errors, low_rank_factorize

SINGULAR_VALUES = np.array([5.0, 4.0, 3.0, 2.0, 1.0])


def known_spectrum_layer() -> Linear:
    """A Linear(8, 5) whose weight has singular values 5, 4, 3, 2, 1 and a non-zero bias."""
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((8, 5)))
    v, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    layer = Linear(8, 5)
    layer.weight.data[:] = (u * SINGULAR_VALUES) @ v.T
    layer.bias.data[:] = [0.5, -1.0, 0.25, 2.0, 0.0]
    return layer


def product(factored: Sequential) -> np.ndarray:
    first, second = factored[0], factored[1]
    return first.weight.numpy().astype(np.float64) @ second.weight.numpy()


@pytest.mark.parametrize("rank", [1, 2, 3, 4, 5])
def test_the_factors_have_the_rank_and_their_error_is_the_dropped_singular_values(rank):
    layer = known_spectrum_layer()
    factored = low_rank_factorize(layer, rank)
    first, second = factored[0], factored[1]
    assert isinstance(factored, Sequential) and len(factored) == 2
    assert first.weight.shape == (8, rank) and second.weight.shape == (rank, 5)
    assert first.weight.dtype == second.weight.dtype == np.float32
    assert first.bias is None
    np.testing.assert_array_equal(second.bias.numpy(), layer.bias.numpy())

    error = np.linalg.norm(layer.weight.numpy() - product(factored))
    assert error == pytest.approx(math.sqrt((SINGULAR_VALUES[rank:] ** 2).sum()), abs=1e-5)
    assert np.linalg.matrix_rank(product(factored), tol=1e-4) == rank


def test_the_product_is_the_truncated_svd_and_the_factors_share_the_singular_values():
    rng = np.random.default_rng(1)
    layer = Linear(12, 9, rng=2)
    u, s, vt = np.linalg.svd(layer.weight.numpy().astype(np.float64), full_matrices=False)
    factored = low_rank_factorize(layer, 4)
    np.testing.assert_allclose(product(factored), (u[:, :4] * s[:4]) @ vt[:4], atol=1e-5)
    first, second = factored[0].weight.numpy().astype(np.float64), factored[1].weight.numpy().astype(np.float64)
    np.testing.assert_allclose(first.T @ first, np.diag(s[:4]), atol=1e-5)   # U_r sqrt(s): columns of norm^2 s
    np.testing.assert_allclose(second @ second.T, np.diag(s[:4]), atol=1e-5)

    x = rng.standard_normal((3, 12)).astype(np.float32)
    full = low_rank_factorize(layer, 9)(Tensor(x)).numpy()
    np.testing.assert_allclose(full, layer(Tensor(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_errors_by_rank_are_the_relative_errors_of_the_truncations():
    weight = known_spectrum_layer().weight.numpy()
    errors = low_rank_errors(weight)
    assert errors.dtype == np.float64 and errors.shape == (6,)
    total = (SINGULAR_VALUES ** 2).sum()
    expected = [math.sqrt((SINGULAR_VALUES[r:] ** 2).sum() / total) for r in range(6)]
    np.testing.assert_allclose(errors, expected, rtol=1e-5, atol=1e-7)
    assert errors[0] == pytest.approx(1.0) and errors[-1] == pytest.approx(0.0, abs=1e-7)


def test_errors_by_rank_match_the_error_of_the_actual_factorization():
    layer = Linear(16, 6, rng=3)
    errors = low_rank_errors(layer.weight.numpy())
    norm = np.linalg.norm(layer.weight.numpy())
    for rank in range(1, 7):
        actual = np.linalg.norm(layer.weight.numpy() - product(low_rank_factorize(layer, rank))) / norm
        assert errors[rank] == pytest.approx(actual, abs=1e-5), f"rank {rank}"


@pytest.mark.parametrize("rank", [0, 6, -1, 2.5])
def test_a_rank_outside_one_to_min_dimension_is_refused(rank):
    with pytest.raises(ValueError, match=r"rank.*5|5.*rank"):
        low_rank_factorize(known_spectrum_layer(), rank)


def test_errors_need_a_nonzero_matrix():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        low_rank_errors(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="zero"):
        low_rank_errors(np.zeros((3, 4)))
