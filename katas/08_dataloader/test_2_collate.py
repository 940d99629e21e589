"""collate: a list of samples becomes one batch with the structure of a sample."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.data import collate


def test_arrays_are_stacked_along_a_new_first_axis():
    samples = [np.full((2, 3), i, dtype=np.float32) for i in range(4)]
    batch = collate(samples)
    assert isinstance(batch, Tensor)
    assert batch.shape == (4, 2, 3), "stack adds a batch axis; concatenate would give (8, 3)"
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch.numpy(), np.stack(samples))


def test_tuples_give_a_tuple_of_batches():
    samples = [(np.full(3, i, dtype=np.uint8), i % 2) for i in range(5)]
    images, labels = collate(samples)
    assert images.shape == (5, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.numpy()[:, 0], [0, 1, 2, 3, 4])
    assert labels.shape == (5,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels.numpy(), [0, 1, 0, 1, 0])


def test_lists_are_collated_like_tuples():
    batch = collate([[1, 2.0], [3, 4.0]])
    assert isinstance(batch, tuple) and len(batch) == 2
    np.testing.assert_array_equal(batch[0].numpy(), [1, 3])


def test_python_numbers_follow_the_tensor_dtype_rules():
    floats = collate([0.5, 1.5, 2.5])
    assert floats.dtype == np.float32, "Python floats become float32, as in Tensor([...])"
    ints = collate([3, 1, 2])
    assert ints.dtype == np.int64
    bools = collate([True, False])
    assert bools.dtype == np.bool_
    np.testing.assert_array_equal(floats.numpy(), np.array([0.5, 1.5, 2.5], dtype=np.float32))


def test_numpy_scalars_and_tensors_keep_their_dtype():
    assert collate([np.float64(1.0), np.float64(2.0)]).dtype == np.float64
    assert collate([np.uint8(3), np.uint8(4)]).dtype == np.uint8
    batch = collate([Tensor(np.ones((2, 2), dtype=np.float16)), Tensor(np.zeros((2, 2), dtype=np.float16))])
    assert batch.shape == (2, 2, 2) and batch.dtype == np.float16
    np.testing.assert_array_equal(batch.numpy()[0], np.ones((2, 2)))


def test_dicts_keep_their_keys_in_order():
    samples = [{"label": i, "image": np.full((1, 2, 2), i, dtype=np.float32), "weight": 0.5 * i}
               for i in range(3)]
    batch = collate(samples)
    assert isinstance(batch, dict)
    assert list(batch) == ["label", "image", "weight"]
    assert batch["image"].shape == (3, 1, 2, 2)
    np.testing.assert_array_equal(batch["label"].numpy(), [0, 1, 2])
    np.testing.assert_allclose(batch["weight"].numpy(), [0.0, 0.5, 1.0])


def test_nested_structures_are_collated_at_every_level():
    samples = [{"pair": (np.array([i, i + 1]), i * 10), "id": i} for i in range(3)]
    batch = collate(samples)
    pair = batch["pair"]
    assert isinstance(pair, tuple) and len(pair) == 2
    np.testing.assert_array_equal(pair[0].numpy(), [[0, 1], [1, 2], [2, 3]])
    np.testing.assert_array_equal(pair[1].numpy(), [0, 10, 20])
    np.testing.assert_array_equal(batch["id"].numpy(), [0, 1, 2])


def test_ragged_samples_name_both_shapes():
    samples = [np.zeros((3, 32, 32))] * 5 + [np.zeros((3, 28, 28))]
    with pytest.raises(ValueError, match=r"sample 0 has shape \(3, 32, 32\) but sample 5 has "
                                         r"shape \(3, 28, 28\)"):
        collate(samples)


def test_ragged_samples_inside_tuples_are_caught_too():
    samples = [(np.zeros(4), 0), (np.zeros(5), 1)]
    with pytest.raises(ValueError, match=r"\(4,\).*\(5,\)"):
        collate(samples)


def test_tuples_of_different_lengths_are_an_error():
    with pytest.raises(ValueError, match="sample 0 has 2 elements but sample 2 has 3"):
        collate([(1, 2), (3, 4), (5, 6, 7)])


def test_dicts_with_different_keys_name_both_key_lists():
    with pytest.raises(ValueError, match=r"\['x', 'y'\].*sample 1 has keys \['x'\]"):
        collate([{"x": 1, "y": 2}, {"x": 3}])


def test_an_empty_list_is_an_error():
    with pytest.raises(ValueError, match="at least one sample"):
        collate([])


def test_samples_of_different_kinds_are_a_type_error():
    with pytest.raises(TypeError, match="sample 1, a dict"):
        collate([(1, 2), {"a": 1}])


@pytest.mark.parametrize("leaf", ["cat", None])
def test_a_leaf_that_is_not_a_number_is_a_type_error(leaf):
    with pytest.raises(TypeError, match=f"sample 0, a {type(leaf).__name__}"):
        collate([leaf, leaf])
