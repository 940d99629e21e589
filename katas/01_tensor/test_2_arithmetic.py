"""Element-wise arithmetic with broadcasting, reflected operators and dtype promotion."""

import numpy as np
import pytest

from tinytorch.core import Tensor

A = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
B = [[0.5, -1.0, 2.0], [3.0, 0.25, -4.0]]


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv"])
def test_same_shape_operators_match_numpy(op):
    a, b = np.array(A, dtype=np.float32), np.array(B, dtype=np.float32)
    result = getattr(Tensor(a), f"__{op}__")(Tensor(b))
    assert isinstance(result, Tensor)
    np.testing.assert_allclose(result.numpy(), getattr(np, {"truediv": "divide", "sub": "subtract",
                                                            "mul": "multiply"}.get(op, op))(a, b))
    assert result.dtype == np.float32


def test_broadcasting_a_row_and_a_column():
    row = Tensor([[1.0, 2.0, 3.0]])          # (1, 3)
    column = Tensor([[10.0], [20.0]])        # (2, 1)
    total = row + column
    assert total.shape == (2, 3)
    np.testing.assert_array_equal(total.numpy(), [[11, 12, 13], [21, 22, 23]])


def test_broadcasting_a_bias_over_a_batch():
    batch = Tensor(np.ones((4, 3), dtype=np.float32))
    bias = Tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((batch * bias).numpy(), np.tile([1.0, 2.0, 3.0], (4, 1)))


def test_reflected_operators_put_the_scalar_on_the_left():
    t = Tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose((10 - t).numpy(), [9.0, 8.0, 6.0])
    np.testing.assert_allclose((8 / t).numpy(), [8.0, 4.0, 2.0])
    np.testing.assert_allclose((3 + t).numpy(), [4.0, 5.0, 7.0])
    np.testing.assert_allclose((2 * t).numpy(), [2.0, 4.0, 8.0])


def test_negation_and_power():
    t = Tensor([1.0, -2.0, 3.0])
    np.testing.assert_array_equal((-t).numpy(), [-1.0, 2.0, -3.0])
    np.testing.assert_array_equal((t ** 2).numpy(), [1.0, 4.0, 9.0])
    np.testing.assert_allclose((Tensor([4.0, 9.0]) ** 0.5).numpy(), [2.0, 3.0])


def test_operands_are_not_modified():
    a, b = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    a + b
    a * b
    np.testing.assert_array_equal(a.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b.numpy(), [3.0, 4.0])


def test_python_scalars_keep_float32():
    t = Tensor([1.0, 2.0])
    for result in (t * 2.5, t + 1, 1.5 - t, t / 3):
        assert result.dtype == np.float32


def test_int_and_float_mix_to_the_float_dtype():
    ints = Tensor([1, 2, 3])
    floats = Tensor([0.5, 0.5, 0.5])
    assert (ints + floats).dtype == np.float32
    assert (floats * ints).dtype == np.float32
    np.testing.assert_allclose((ints * floats).numpy(), [0.5, 1.0, 1.5])


def test_float64_operands_stay_float64():
    a = Tensor(np.array([1.0, 2.0]))
    assert (a * a).dtype == np.float64


def test_operations_with_lists_and_arrays():
    t = Tensor([1.0, 2.0])
    np.testing.assert_array_equal((t + [10.0, 20.0]).numpy(), [11.0, 22.0])
    np.testing.assert_array_equal((t * np.array([2.0, 3.0], dtype=np.float32)).numpy(), [2.0, 6.0])


def test_shapes_that_cannot_broadcast_are_named_in_the_error():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        Tensor(A) + Tensor([1.0, 2.0])


def test_broadcast_error_for_multiplication_too():
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        Tensor([1.0, 2.0, 3.0, 4.0]) * Tensor([1.0, 2.0, 3.0])


def test_exp_and_log_are_inverse_elementwise():
    t = Tensor([0.0, 1.0, -2.0])
    np.testing.assert_allclose(t.exp().numpy(), np.exp([0.0, 1.0, -2.0]), rtol=1e-6)
    np.testing.assert_allclose(t.exp().log().numpy(), [0.0, 1.0, -2.0], atol=1e-6)
    assert t.exp().dtype == np.float32


def test_log_of_zero_is_minus_infinity_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Tensor([0.0]).log().item() == -np.inf
