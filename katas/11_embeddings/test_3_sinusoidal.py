"""The fixed positional encodings of "Attention Is All You Need"."""

import math

import numpy as np
import pytest

from tinytorch.nn import sinusoidal_positions


def test_shape_and_dtype():
    table = sinusoidal_positions(50, 16)
    assert table.shape == (50, 16)
    assert table.dtype == np.float32


def test_values_at_a_few_positions_and_dimensions():
    table = sinusoidal_positions(40, 8).numpy()
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1, 0, 1], atol=1e-7)   # sin 0, cos 0
    assert table[1, 0] == pytest.approx(math.sin(1.0), abs=1e-6)                 # frequency 1
    assert table[1, 1] == pytest.approx(math.cos(1.0), abs=1e-6)
    assert table[7, 2] == pytest.approx(math.sin(7 / 10000 ** (2 / 8)), abs=1e-6)
    assert table[7, 3] == pytest.approx(math.cos(7 / 10000 ** (2 / 8)), abs=1e-6)   # pair 1, not column 3
    assert table[39, 7] == pytest.approx(math.cos(39 / 10000 ** (6 / 8)), abs=1e-6)


@pytest.mark.parametrize("max_len, dim", [(64, 16), (10, 2), (33, 6)])
def test_the_whole_table_matches_the_formula(vaswani, max_len, dim):
    np.testing.assert_allclose(sinusoidal_positions(max_len, dim).numpy(), vaswani(max_len, dim), atol=2e-6)


@pytest.mark.parametrize("dim", [1, 7])
def test_an_odd_dimension_ends_with_a_sine_that_has_no_cosine_partner(vaswani, dim):
    table = sinusoidal_positions(20, dim).numpy()
    assert table.shape == (20, dim)
    np.testing.assert_allclose(table, vaswani(20, dim), atol=2e-6)
    np.testing.assert_allclose(table[:, -1], np.sin(np.arange(20) / 10000 ** ((dim - 1) / dim)), atol=2e-6)


def test_similarity_depends_only_on_the_distance_between_positions():
    """sin/cos pairs make PE[p + k] a rotation of PE[p]: dot products depend on k alone."""
    table = sinusoidal_positions(100, 32).numpy().astype(np.float64)
    for k in (1, 5, 17):
        assert table[3] @ table[3 + k] == pytest.approx(table[60] @ table[60 + k], abs=1e-4)
    assert table[10] @ table[11] > table[10] @ table[40]   # nearby positions look alike


@pytest.mark.parametrize("max_len, dim", [(0, 8), (8, 0), (4, -2)])
def test_sizes_below_one_are_a_value_error(max_len, dim):
    with pytest.raises(ValueError, match=f"max_len={max_len}.*dim={dim}|dim={dim}.*max_len={max_len}"):
        sinusoidal_positions(max_len, dim)
