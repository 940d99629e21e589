"""Backward rules of matmul (batched and vectors), reductions, reshaping and indexing."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor

rng = np.random.default_rng(7)
X = rng.standard_normal((2, 3, 4))


def matmul(a, b):
    return a @ b


@pytest.mark.parametrize("left, right", [
    ((3, 4), (4, 2)),
    ((2, 3, 4), (2, 4, 5)),        # a batch of matrix products
    ((2, 3, 4), (4, 5)),           # one weight matrix shared across the batch
    ((4, 3), (2, 3, 5)),           # ... or on the other side
    ((2, 1, 3, 4), (5, 4, 2)),     # batch axes broadcast on both sides
    ((4,), (4, 3)),                # vector @ matrix
    ((3, 4), (4,)),                # matrix @ vector
    ((4,), (2, 4, 3)),             # vector @ batch
    ((2, 3, 4), (4,)),             # batch @ vector
    ((4,), (4,)),                  # dot product
], ids=lambda shape: "x".join(map(str, shape)))
def test_matmul(left, right):
    local = np.random.default_rng(0)
    gradcheck(matmul, local.standard_normal(left), local.standard_normal(right))


def test_matmul_gradients_by_hand():
    a = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)     # (3, 2)
    b = Tensor([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -1.0]], requires_grad=True)  # (2, 4)
    upstream = np.arange(12, dtype=np.float32).reshape(3, 4)
    (a @ b).backward(Tensor(upstream))
    np.testing.assert_allclose(a.grad.numpy(), upstream @ b.numpy().T)
    np.testing.assert_allclose(b.grad.numpy(), a.numpy().T @ upstream)


def test_a_weight_shared_across_a_batch_gets_the_sum_over_the_batch():
    batch = np.random.default_rng(1).standard_normal((5, 3, 4)).astype(np.float32)
    weight = Tensor(np.ones((4, 2), dtype=np.float32), requires_grad=True)
    (Tensor(batch) @ weight).sum().backward()
    expected = sum(batch[i].T @ np.ones((3, 2), dtype=np.float32) for i in range(5))
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims):
    gradcheck(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), X)


def test_reduction_arguments_may_be_positional():
    gradcheck(lambda x: x.sum(1, True) * x.mean(-1, True) + x.max(0), X)


def test_mean_divides_by_the_number_of_elements_averaged():
    x = Tensor(np.zeros((2, 5), dtype=np.float32), requires_grad=True)
    x.mean(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 5), 0.2, dtype=np.float32))


def test_max_sends_the_gradient_to_the_maximum_only():
    x = Tensor([[1.0, 5.0, 2.0], [7.0, -1.0, 0.0]], requires_grad=True)
    x.max(axis=1).backward(Tensor([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 10.0, 0.0], [20.0, 0.0, 0.0]])


def test_max_splits_the_gradient_evenly_among_ties():
    x = Tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.0, 0.5])
    rows = Tensor([[2.0, 2.0, 2.0, 1.0], [0.0, 4.0, 1.0, 4.0]], requires_grad=True)
    rows.max(axis=-1, keepdims=True).sum().backward()
    np.testing.assert_allclose(rows.grad.numpy(), [[1 / 3, 1 / 3, 1 / 3, 0.0], [0.0, 0.5, 0.0, 0.5]])


def test_reshape():
    gradcheck(lambda x: x.reshape(4, 6), X)
    gradcheck(lambda x: x.reshape(-1) * Tensor(np.arange(24.0)), X)
    gradcheck(lambda x: x.reshape((3, 8)).sum(axis=0), X)


def test_transpose():
    gradcheck(lambda x: x.transpose(), X)
    gradcheck(lambda x: x.transpose(0, 2), X)
    gradcheck(lambda x: x.transpose(-3, 1).reshape(3, 8), X)


@pytest.mark.parametrize("index", [0, -1, (1, 2), (slice(None), 1), (Ellipsis, slice(1, 3)),
                                   (slice(None, None, -1), slice(None), 0)],
                         ids=["int", "negative", "pair", "column", "ellipsis", "reversed"])
def test_indexing_and_slicing(index):
    gradcheck(lambda x: x[index], X)


def test_an_index_that_repeats_adds_up_every_use():
    table = Tensor(np.zeros((4, 3), dtype=np.float32), requires_grad=True)
    rows = Tensor([3, 0, 3, 3])
    table[rows].backward(Tensor(np.ones((4, 3), dtype=np.float32)))
    np.testing.assert_array_equal(table.grad.numpy()[:, 0], [1.0, 0.0, 0.0, 3.0])


def test_repeated_indices_with_gradcheck():
    embeddings = np.random.default_rng(2).standard_normal((5, 3))
    gradcheck(lambda table: table[Tensor([1, 4, 1, 1, 0])], embeddings)
    gradcheck(lambda table: table[[0, 0, 2], [1, 1, 2]], embeddings)


def test_boolean_mask():
    values = np.array([1.0, -2.0, 3.0, -4.0, 5.0])
    gradcheck(lambda x: x[Tensor(values > 0)] * 2.0, values)
