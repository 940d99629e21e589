"""Indexing with Tensors anywhere NumPy takes an array, and bad arguments named in errors."""

import numpy as np
import pytest

from tinytorch.core import Tensor

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5
TABLE = np.arange(20, dtype=np.float32).reshape(4, 5)


# -- indexing ---------------------------------------------------------------------------------

def test_a_tuple_of_index_tensors_picks_single_elements():
    rows, cols = [3, 0, 3, 1], [4, 0, 1, 1]
    picked = Tensor(TABLE)[Tensor(rows), Tensor(cols)]
    assert isinstance(picked, Tensor) and picked.shape == (4,)
    np.testing.assert_array_equal(picked.numpy(), TABLE[rows, cols])    # not TABLE[rows][:, cols]


def test_index_tensors_in_three_dimensions():
    picked = Tensor(X)[Tensor([1, 0]), Tensor([2, 2]), Tensor([3, 0])]
    np.testing.assert_array_equal(picked.numpy(), X[[1, 0], [2, 2], [3, 0]])
    np.testing.assert_array_equal(Tensor(X)[Tensor([1, 0]), :, Tensor([3, 0])].numpy(),
                                  X[[1, 0], :, [3, 0]])


def test_index_tensors_mixed_with_ints_and_slices():
    t, rows = Tensor(TABLE), [2, 0]
    np.testing.assert_array_equal(t[Tensor(rows), 1:].numpy(), TABLE[rows, 1:])
    np.testing.assert_array_equal(t[:, Tensor([4, 0])].numpy(), TABLE[:, [4, 0]])
    np.testing.assert_array_equal(t[1, Tensor([0, 3, 3])].numpy(), TABLE[1, [0, 3, 3]])
    np.testing.assert_array_equal(t[Tensor(rows), 2].numpy(), TABLE[rows, 2])
    np.testing.assert_array_equal(Tensor(X)[..., Tensor([0, 2])].numpy(), X[..., [0, 2]])


def test_index_tensors_of_any_integer_dtype_and_shape():
    t = Tensor(TABLE)
    np.testing.assert_array_equal(t[Tensor(np.array([3, 1], dtype=np.int32))].numpy(), TABLE[[3, 1]])
    grid = Tensor([[0, 1], [3, 2]])
    np.testing.assert_array_equal(t[grid, Tensor([[4], [0]])].numpy(), TABLE[[[0, 1], [3, 2]], [[4], [0]]])
    assert t[Tensor(2)].shape == (5,)                                 # a 0-d index Tensor


def test_boolean_mask_tensors():
    t = Tensor(TABLE)
    np.testing.assert_array_equal(t[t > 12].numpy(), TABLE[TABLE > 12])
    keep = [True, False, False, True]
    np.testing.assert_array_equal(t[Tensor(keep)].numpy(), TABLE[keep])
    np.testing.assert_array_equal(t[Tensor(keep), 0].numpy(), TABLE[keep, 0])
    np.testing.assert_array_equal(t[1:, Tensor([True, False, True, False, False])].numpy(),
                                  TABLE[1:, [True, False, True, False, False]])


def test_an_index_tensor_of_floats_is_an_index_error_naming_its_dtype():
    with pytest.raises(IndexError, match="float32"):
        Tensor(TABLE)[Tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="float64"):
        Tensor(TABLE)[0, Tensor(np.array([1.0]))]


def test_indexing_keeps_the_dtype():
    assert Tensor(np.arange(6, dtype=np.int32))[Tensor([5, 0])].dtype == np.int32


# -- bad axes, shapes and dimensions ----------------------------------------------------------

@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [3, -4, (0, 3)])
def test_an_axis_out_of_range_names_the_axis_and_the_shape(name, axis):
    with pytest.raises(ValueError, match=r"axis.*\(2, 3, 4\)") as error:
        getattr(Tensor(X), name)(axis=axis)
    assert str(axis if isinstance(axis, int) else 3) in str(error.value)


@pytest.mark.parametrize("axis", [1.0, "0", [0, 1]])
def test_an_axis_that_is_not_an_integer_is_a_type_error(axis):
    with pytest.raises(TypeError, match="axis"):
        Tensor(X).sum(axis=axis)


def test_transpose_of_dimensions_the_tensor_does_not_have():
    with pytest.raises(ValueError, match=r"5.*\(2, 3, 4\)"):
        Tensor(X).transpose(0, 5)
    with pytest.raises(ValueError, match=r"-4"):
        Tensor(X).transpose(-4, 1)
    with pytest.raises(TypeError, match="1.5"):
        Tensor(X).transpose(1.5, 0)


@pytest.mark.parametrize("shape, error", [(("a",), TypeError), ((2.5, 2), TypeError),
                                          ((None,), TypeError), ((-2, -12), ValueError),
                                          ((-1, -1, 6), ValueError)])
def test_bad_reshape_arguments_name_the_shape_asked_for(shape, error):
    with pytest.raises(error, match=r"reshape"):
        Tensor(X).reshape(*shape)


def test_a_batch_mismatch_in_matmul_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(5, 4, 2\)"):
        Tensor(X) @ Tensor(np.ones((5, 4, 2), dtype=np.float32))
    assert (Tensor(X) @ Tensor(np.ones((1, 4, 2), dtype=np.float32))).shape == (2, 3, 2)


# -- comparing with things that are not numbers ---------------------------------------------

def test_equality_with_none_is_false_as_in_python_and_pytorch():
    t = Tensor([1.0, 2.0])
    assert (t == None) is False
    assert (t != None) is True
    assert (t == "two") is False
    assert t not in [None, "two"]
    np.testing.assert_array_equal((t == Tensor([1.0, 3.0])).numpy(), [True, False])
