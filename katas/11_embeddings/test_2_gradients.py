"""The gradient of a lookup: every use of a row adds into that row."""

import numpy as np

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import Embedding, Linear, embedding_lookup

IDS = np.array([[1, 3, 1], [0, 1, 3]])   # row 1 three times, row 3 twice, rows 2 and 4 never


def test_gradcheck_with_repeated_ids():
    gradcheck(lambda table: embedding_lookup(table, IDS), np.random.default_rng(0).standard_normal((5, 4)))


def test_repeated_ids_accumulate_every_contribution():
    table = Tensor(np.zeros((5, 2), dtype=np.float32), requires_grad=True)
    upstream = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    embedding_lookup(table, IDS).backward(Tensor(upstream))
    expected = np.zeros((5, 2), dtype=np.float32)
    for b in range(2):
        for t in range(3):
            expected[IDS[b, t]] += upstream[b, t]
    np.testing.assert_array_equal(table.grad.numpy(), expected)
    np.testing.assert_array_equal(table.grad.numpy()[1], upstream[0, 0] + upstream[0, 2] + upstream[1, 1])


def test_rows_nobody_looked_up_get_zero_gradient():
    emb = Embedding(5, 3, rng=0)
    emb(Tensor(IDS)).sum().backward()
    grad = emb.weight.grad.numpy()
    assert grad.shape == (5, 3) and grad.dtype == np.float32
    np.testing.assert_array_equal(grad[:, 0], [1.0, 3.0, 0.0, 2.0, 0.0])   # how often each row was used


def test_gradients_reach_the_table_through_a_model():
    emb, head = Embedding(6, 4, rng=0), Linear(4, 2, rng=1)
    ids = np.array([2, 5, 2])
    (head(emb(Tensor(ids))) * Tensor([[1.0, -1.0]])).sum().backward()
    # d/d row r = (number of uses of r) * head.weight @ [1, -1]
    per_use = head.weight.numpy() @ np.array([1.0, -1.0], dtype=np.float32)
    np.testing.assert_allclose(emb.weight.grad.numpy()[2], 2 * per_use, rtol=1e-6)
    np.testing.assert_allclose(emb.weight.grad.numpy()[5], per_use, rtol=1e-6)
    np.testing.assert_array_equal(emb.weight.grad.numpy()[[0, 1, 3, 4]], 0.0)
