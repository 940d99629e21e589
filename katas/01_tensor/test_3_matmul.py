"""Matrix multiplication: the operation that dominates the cost of neural networks."""

import numpy as np
import pytest

from tinytorch.core import Tensor


def test_matmul_of_two_matrices():
    a = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])   # (3, 2)
    b = Tensor([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])    # (2, 3)
    c = a @ b
    assert c.shape == (3, 3)
    np.testing.assert_allclose(c.numpy(), np.array(a.numpy()) @ np.array(b.numpy()))


def test_matmul_is_not_elementwise():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal((a @ a).numpy(), [[7.0, 10.0], [15.0, 22.0]])


def test_matmul_method_and_operator_agree():
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((4, 5), dtype=np.float32))
    b = Tensor(rng.standard_normal((5, 2), dtype=np.float32))
    np.testing.assert_allclose(a.matmul(b).numpy(), (a @ b).numpy())


def test_batched_matmul_over_leading_dimensions():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4, 5), dtype=np.float32)
    b = rng.standard_normal((2, 3, 5, 6), dtype=np.float32)
    c = Tensor(a) @ Tensor(b)
    assert c.shape == (2, 3, 4, 6)
    np.testing.assert_allclose(c.numpy(), a @ b, rtol=1e-5, atol=1e-5)


def test_matrix_times_vector():
    m = Tensor([[1.0, 2.0], [3.0, 4.0]])
    v = Tensor([1.0, -1.0])
    np.testing.assert_array_equal((m @ v).numpy(), [-1.0, -1.0])


def test_mismatched_inner_dimensions_name_both_shapes():
    with pytest.raises(ValueError) as error:
        Tensor(np.ones((2, 3), dtype=np.float32)) @ Tensor(np.ones((4, 5), dtype=np.float32))
    assert "(2, 3)" in str(error.value) and "(4, 5)" in str(error.value)


def test_matmul_with_a_scalar_is_an_error():
    with pytest.raises(ValueError, match="dimension"):
        Tensor([[1.0]]) @ Tensor(2.0)
