"""Reductions along axes, reshaping, transposing, indexing and comparisons."""

import numpy as np
import pytest

from tinytorch.core import Tensor

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, axis, keepdims):
    result = getattr(Tensor(X), name)(axis=axis, keepdims=keepdims)
    expected = getattr(X, name)(axis=axis, keepdims=keepdims)
    assert isinstance(result, Tensor)
    assert result.shape == np.shape(expected)
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6)


def test_sum_of_everything_is_a_scalar_tensor():
    total = Tensor([[1.0, 2.0], [3.0, 4.0]]).sum()
    assert total.shape == ()
    assert total.item() == 10.0


def test_max_of_all_negative_values():
    assert Tensor([-3.0, -1.0, -2.0]).max().item() == -1.0


def test_reshape_keeps_element_order():
    t = Tensor(np.arange(6, dtype=np.float32))
    np.testing.assert_array_equal(t.reshape(2, 3).numpy(), [[0, 1, 2], [3, 4, 5]])
    assert t.reshape((3, 2)).shape == (3, 2)
    assert t.reshape(-1, 2).shape == (3, 2)


def test_reshape_to_the_wrong_size_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        Tensor(np.zeros((2, 3), dtype=np.float32)).reshape(4, 2)


def test_transpose_swaps_the_last_two_dimensions_by_default():
    t = Tensor(X)
    assert t.transpose().shape == (2, 4, 3)
    np.testing.assert_array_equal(t.transpose().numpy(), np.swapaxes(X, -1, -2))


def test_transpose_of_chosen_dimensions():
    np.testing.assert_array_equal(Tensor(X).transpose(0, 2).numpy(), np.swapaxes(X, 0, 2))


def test_transpose_of_a_matrix():
    np.testing.assert_array_equal(Tensor([[1.0, 2.0, 3.0]]).transpose().numpy(), [[1.0], [2.0], [3.0]])


def test_indexing_and_slicing_like_numpy():
    t = Tensor(X)
    np.testing.assert_array_equal(t[0].numpy(), X[0])
    np.testing.assert_array_equal(t[:, 1:, ::2].numpy(), X[:, 1:, ::2])
    np.testing.assert_array_equal(t[1, 2, 3].numpy(), X[1, 2, 3])
    np.testing.assert_array_equal(t[..., -1].numpy(), X[..., -1])
    assert isinstance(t[0], Tensor)


def test_indexing_with_a_tensor_of_indices():
    table = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    rows = Tensor([3, 0, 3])
    np.testing.assert_array_equal(table[rows].numpy(), table.numpy()[[3, 0, 3]])


def test_indexing_with_a_boolean_mask():
    t = Tensor([1.0, -2.0, 3.0, -4.0])
    np.testing.assert_array_equal(t[t > 0].numpy(), [1.0, 3.0])


def test_comparisons_give_boolean_tensors():
    a = Tensor([1.0, 2.0, 3.0])
    b = Tensor([3.0, 2.0, 1.0])
    for result, expected in ((a < b, [True, False, False]), (a <= b, [True, True, False]),
                             (a > b, [False, False, True]), (a >= b, [False, True, True]),
                             (a == b, [False, True, False]), (a != b, [True, False, True]),
                             (a > 1.5, [False, True, True])):
        assert isinstance(result, Tensor)
        assert result.dtype == np.bool_
        np.testing.assert_array_equal(result.numpy(), expected)
