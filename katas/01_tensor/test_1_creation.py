"""Building tensors: data in, the right dtype out, and clear errors for bad data."""

import numpy as np
import pytest

from tinytorch.core import Tensor


def test_from_nested_list_has_shape_ndim_size():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3)
    assert t.ndim == 2
    assert t.size == 6
    np.testing.assert_array_equal(t.numpy(), [[1, 2, 3], [4, 5, 6]])


def test_scalar_is_a_zero_dimensional_tensor():
    t = Tensor(3.5)
    assert t.shape == ()
    assert t.ndim == 0
    assert t.size == 1
    assert t.item() == 3.5


def test_python_floats_become_float32():
    assert Tensor([0.5, 1.5]).dtype == np.float32
    assert Tensor(2.0).dtype == np.float32


def test_python_ints_become_int64_and_bools_stay_bool():
    assert Tensor([1, 2, 3]).dtype == np.int64
    assert Tensor([True, False]).dtype == np.bool_


def test_numpy_arrays_keep_their_dtype():
    assert Tensor(np.zeros(3)).dtype == np.float64
    assert Tensor(np.zeros(3, dtype=np.uint8)).dtype == np.uint8
    assert Tensor(np.arange(4, dtype=np.int32)).dtype == np.int32


def test_explicit_dtype_wins():
    t = Tensor([1, 2, 3], dtype=np.float32)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    assert Tensor(np.zeros(2), dtype="float32").dtype == np.float32


def test_from_another_tensor_copies_its_values():
    a = Tensor([1.0, 2.0])
    b = Tensor(a)
    np.testing.assert_array_equal(b.numpy(), [1.0, 2.0])
    assert b.dtype == np.float32


def test_numpy_returns_the_data_without_copying():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor(array)
    assert np.shares_memory(t.numpy(), array)


def test_item_of_a_larger_tensor_is_an_error_naming_the_shape():
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        Tensor([[1.0, 2.0], [3.0, 4.0]]).item()


def test_ragged_lists_are_rejected_with_the_data_shown():
    with pytest.raises(ValueError, match="ragged"):
        Tensor([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("bad", ["hello", [1.0, "two"], None, [None, 1.0], {"a": 1}])
def test_non_numeric_data_is_a_type_error(bad):
    with pytest.raises(TypeError, match="number"):
        Tensor(bad)


@pytest.mark.parametrize("dtype", [np.complex64, "complex128"])
def test_unsupported_dtypes_are_named_in_the_error(dtype):
    with pytest.raises(TypeError, match="complex"):
        Tensor([1.0, 2.0], dtype=dtype)


def test_complex_data_is_rejected():
    with pytest.raises(TypeError, match="complex"):
        Tensor(np.array([1 + 2j]))
