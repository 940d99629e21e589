"""Dtype rules, one test per rule: PyTorch's, the same whatever NumPy is installed.

NumPy alone gives other answers (``int64 / 2`` is float64, ``int64 @ float32`` is float64,
and NumPy 1 and 2 disagree about ``float32 * np.float64(2.5)``), so each rule is checked
with operands where NumPy's answer differs from PyTorch's.
"""

import numpy as np
import pytest

from tinytorch.core import Tensor

INTS = [1, 2, 3]


def array_tensor(values, dtype):
    return Tensor(np.array(values, dtype=dtype))


# -- rule 1: the highest category wins (bool < integer < float) ------------------------------

def test_an_int_tensor_times_a_python_float_is_float32():
    ints = Tensor(INTS)
    for result in (ints * 2.5, 2.5 * ints, ints + 0.5, 0.5 - ints, ints ** 0.5):
        assert result.dtype == np.float32
    np.testing.assert_allclose((ints * 2.5).numpy(), [2.5, 5.0, 7.5])


def test_an_int_tensor_with_a_float64_tensor_is_float64():
    ints, floats = Tensor(INTS), array_tensor([0.5, 0.25, 2.0], np.float64)
    assert (ints + floats).dtype == np.float64
    assert (floats * ints).dtype == np.float64
    assert (array_tensor(INTS, np.int8) - floats).dtype == np.float64
    np.testing.assert_array_equal((ints * floats).numpy(), [0.5, 0.5, 6.0])


def test_int64_matmul_float32_is_float32():
    ints = Tensor([[1, 2], [3, 4]])
    floats = array_tensor([[0.5], [0.25]], np.float32)
    assert (ints @ floats).dtype == np.float32                      # NumPy: float64
    assert (array_tensor([[1.0, 2.0]], np.float32) @ ints).dtype == np.float32
    np.testing.assert_array_equal((ints @ floats).numpy(), [[1.0], [2.5]])


def test_bool_tensors_join_the_category_of_the_other_operand():
    flags = Tensor([True, False])
    assert (flags + 1).dtype == np.int64
    assert (flags * 1.5).dtype == np.float32
    assert (flags * array_tensor([2.0, 3.0], np.float64)).dtype == np.float64
    assert (flags + array_tensor([1, 1], np.uint8)).dtype == np.uint8
    np.testing.assert_array_equal((flags + 1).numpy(), [2, 1])


# -- rule 2: within a category, dimensioned tensors beat 0-d tensors, which beat scalars -----

def test_numpy_scalars_adapt_like_python_numbers():
    floats = array_tensor([1.0, 2.0], np.float32)
    assert (floats * np.float64(2.5)).dtype == np.float32            # NumPy 2: float64
    assert (np.float64(2.5) * floats).dtype == np.float32
    assert (array_tensor([1.0], np.float16) * np.float32(2.0)).dtype == np.float16
    assert (array_tensor([1, 2], np.int8) + np.int64(3)).dtype == np.int8
    assert (Tensor(INTS) * np.float32(0.5)).dtype == np.float32
    np.testing.assert_array_equal((floats * np.float64(2.5)).numpy(), [2.5, 5.0])


def test_a_0d_tensor_does_not_widen_a_dimensioned_one_of_its_category():
    floats = array_tensor([1.0, 2.0], np.float32)
    assert (floats + Tensor(np.float64(1.0))).dtype == np.float32   # NumPy 2: float64
    assert (Tensor(np.array(3.0)) * floats).dtype == np.float32
    assert (array_tensor([1, 2], np.int8) + Tensor(np.int64(3))).dtype == np.int8
    np.testing.assert_array_equal((floats + Tensor(np.float64(1.0))).numpy(), [2.0, 3.0])


def test_a_0d_tensor_of_a_higher_category_decides():
    ints = Tensor(INTS)
    assert (ints + Tensor(np.float64(0.5))).dtype == np.float64
    assert (ints * Tensor(2.5)).dtype == np.float32                 # a 0-d float32
    assert (Tensor(np.float16(1.0)) + Tensor(INTS)).dtype == np.float16


def test_a_0d_tensor_beats_a_scalar():
    half = Tensor(np.float16(1.5))
    assert (half * 2.5).dtype == np.float16                          # not float32
    assert (Tensor(np.int8(3)) + 1).dtype == np.int8
    assert (Tensor(3) * 2.5).dtype == np.float32                     # int64 0-d, float scalar


# -- rule 3: operands of the same standing promote together -------------------------------

def test_same_standing_promotes_within_the_category():
    assert (array_tensor([1.0], np.float16) + array_tensor([1.0], np.float32)).dtype == np.float32
    assert (array_tensor([1], np.uint8) + array_tensor([1], np.int8)).dtype == np.int16
    assert (array_tensor([1], np.int32) * Tensor([2])).dtype == np.int64
    assert (array_tensor([1.0], np.float32) - array_tensor([1.0], np.float64)).dtype == np.float64


# -- rule 4: scalars alone give their category's default ------------------------------------

def test_scalars_on_a_bool_tensor_give_the_default_dtypes():
    flags = Tensor([True, False])
    assert (flags + np.int8(1)).dtype == np.int64
    assert (flags * np.float64(2.0)).dtype == np.float32
    assert (Tensor(True) + 1.5).dtype == np.float32
    assert (flags + True).dtype == np.bool_


# -- rule 5: true division gives a float -----------------------------------------------------

def test_true_division_of_integers_is_float32():
    ints = Tensor([1, 2, 3])
    for result in (ints / 2, ints / ints, 6 / ints, array_tensor([1, 2], np.uint8) / np.int64(4)):
        assert result.dtype == np.float32                            # NumPy: float64
    np.testing.assert_allclose((ints / 2).numpy(), [0.5, 1.0, 1.5])
    np.testing.assert_allclose((6 / ints).numpy(), [6.0, 3.0, 2.0])
    assert (array_tensor([3.0], np.float64) / 2).dtype == np.float64


def test_comparisons_compare_in_the_promoted_dtype():
    ints = Tensor([1, 2, 3])
    np.testing.assert_array_equal((ints > 1.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((ints == 2.5).numpy(), [False, False, False])
    np.testing.assert_array_equal((array_tensor([1, 2], np.int8) < Tensor([1.5, 1.5])).numpy(),
                                  [True, False])


# -- values that do not fit ------------------------------------------------------------------

def test_a_scalar_that_does_not_fit_the_result_is_an_overflow_error():
    small = array_tensor([1, 2], np.int8)
    assert (small + 100).dtype == np.int8
    with pytest.raises(OverflowError, match=r"300.*int8"):
        small + 300                                                  # NumPy 1: int16, NumPy 2: error
    with pytest.raises(OverflowError, match=r"-1.*uint8"):
        array_tensor([1], np.uint8) * -1


@pytest.mark.parametrize("data, dtype, value", [
    ([2 ** 63], None, "9223372036854775808"),
    ([2 ** 70], None, "1180591620717411303424"),
    (np.array([300]), np.int8, "300"),
    (np.array([-1]), np.uint8, "-1"),
    (np.array([1e20]), np.int64, "1e\\+20"),
    (np.array([np.inf, 1.0]), np.int64, "inf"),
])
def test_integers_that_do_not_fit_are_refused_at_construction(data, dtype, value):
    with pytest.raises(OverflowError, match=value) as error:
        Tensor(data, dtype=dtype)
    assert str(np.dtype(dtype or np.int64)) in str(error.value)


def test_nan_has_no_integer_value():
    with pytest.raises(ValueError, match=r"nan.*int64"):
        Tensor(np.array([1.0, np.nan]), dtype=np.int64)


def test_values_that_fit_convert_as_numpy_does():
    np.testing.assert_array_equal(Tensor(np.array([127.9, -128.5, 3.2]), dtype=np.int8).numpy(),
                                  [127, -128, 3])
    assert Tensor([2 ** 63 - 1]).item() == 2 ** 63 - 1
    assert Tensor(np.array([255]), dtype=np.uint8).item() == 255


def test_an_integer_to_a_negative_power_is_an_error():
    ints = Tensor([1, 2, 4])
    with pytest.raises(ValueError, match="-1"):
        ints ** -1
    with pytest.raises(ValueError, match="negative"):
        ints ** Tensor([1, -2, 0])
    assert (ints ** 2).dtype == np.int64
    np.testing.assert_allclose((ints ** -1.0).numpy(), [1.0, 0.5, 0.25])
    np.testing.assert_allclose((array_tensor([2.0], np.float32) ** -1).numpy(), [0.5])
