"""Embedding: a learned table, and looking rows up by integer ids of any shape."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Embedding, embedding_lookup


def counting_table(rows: int, dim: int) -> np.ndarray:
    """Row r holds r * 10 + column: every looked-up value says where it came from."""
    return (np.arange(rows)[:, None] * 10 + np.arange(dim)).astype(np.float32)


def test_the_table_is_one_float32_parameter():
    emb = Embedding(10, 4, rng=0)
    assert [name for name, _ in emb.named_parameters()] == ["weight"]
    assert emb.weight.shape == (10, 4)
    assert emb.weight.dtype == np.float32
    assert emb.weight.requires_grad


def test_initialisation_is_standard_normal_and_seeded():
    first, again, other = Embedding(500, 64, rng=1), Embedding(500, 64, rng=1), Embedding(500, 64, rng=2)
    np.testing.assert_array_equal(first.weight.numpy(), again.weight.numpy())
    assert not np.array_equal(first.weight.numpy(), other.weight.numpy())
    values = first.weight.numpy()
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1.0) < 0.02


def test_lookup_returns_the_rows_the_ids_name():
    table = counting_table(10, 4)
    ids = np.array([[3, 0, 3], [9, 1, 2]])
    out = embedding_lookup(Tensor(table), Tensor(ids))
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy()[0, 0], [30, 31, 32, 33])
    np.testing.assert_array_equal(out.numpy()[1, 0], [90, 91, 92, 93])
    np.testing.assert_array_equal(out.numpy(), table[ids])


@pytest.mark.parametrize("ids, shape", [
    (7, (5,)),
    ([2, 2, 7], (3, 5)),
    (np.arange(24).reshape(2, 3, 4) % 8, (2, 3, 4, 5)),
    (np.zeros((0,), dtype=np.int64), (0, 5)),
], ids=["scalar", "list", "3-D", "empty"])
def test_any_index_shape_gets_a_vector_per_id(ids, shape):
    emb = Embedding(8, 5, rng=0)
    out = emb(Tensor(np.asarray(ids)))
    assert out.shape == shape
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[np.asarray(ids)])


def test_ids_may_be_a_tensor_an_array_or_a_list_of_any_integer_dtype():
    emb = Embedding(6, 3, rng=0)
    expected = emb.weight.numpy()[[5, 0, 5]]
    for ids in (Tensor([5, 0, 5]), np.array([5, 0, 5], dtype=np.uint8), [5, 0, 5],
                np.array([5, 0, 5], dtype=np.int32)):
        out = emb(ids)
        np.testing.assert_array_equal(out.numpy(), expected)
        assert out.dtype == np.float32


def test_an_id_past_the_end_is_an_index_error_naming_it():
    emb = Embedding(10, 3, rng=0)
    with pytest.raises(IndexError, match="37"):
        emb(Tensor([[1, 37, 2]]))
    with pytest.raises(IndexError, match="10"):
        emb(Tensor([10]))


def test_a_negative_id_is_refused_not_counted_from_the_end():
    emb = Embedding(10, 3, rng=0)
    with pytest.raises(IndexError, match="-1"):
        emb(Tensor([0, -1]))


@pytest.mark.parametrize("ids", [np.array([1.0, 2.0]), np.array([0.5]), np.array([True, False])],
                         ids=["integral floats", "fraction", "bools"])
def test_non_integer_ids_are_a_type_error_naming_the_dtype(ids):
    emb = Embedding(10, 3, rng=0)
    with pytest.raises(TypeError, match=str(ids.dtype)):
        emb(Tensor(ids))
