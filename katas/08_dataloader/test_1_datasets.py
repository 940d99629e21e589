"""TensorDataset: arrays in memory as a data set, sample by sample and batch by batch."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.data import TensorDataset, collate


def images_and_labels(count: int = 5):
    images = np.arange(count * 2 * 3, dtype=np.float32).reshape(count, 2, 3)
    labels = np.arange(count, dtype=np.int64) * 10
    return images, labels


def test_sample_i_is_row_i_of_every_array():
    images, labels = images_and_labels()
    dataset = TensorDataset(images, labels)
    assert len(dataset) == 5
    sample = dataset[3]
    assert isinstance(sample, tuple) and len(sample) == 2
    np.testing.assert_array_equal(sample[0], images[3])
    assert sample[1] == 30
    assert sample[0].dtype == np.float32 and sample[1].dtype == np.int64


def test_samples_are_views_not_copies():
    images, labels = images_and_labels()
    dataset = TensorDataset(images, labels)
    assert np.shares_memory(dataset[2][0], images), "a sample should be a view into the array"


def test_tensors_and_lists_are_kept_as_numpy_arrays():
    images, _ = images_and_labels()
    dataset = TensorDataset(Tensor(images), [0.5, 1.5, 2.5, 3.5, 4.5], [1, 2, 3, 4, 5])
    assert len(dataset.arrays) == 3
    assert all(isinstance(array, np.ndarray) for array in dataset.arrays)
    assert np.shares_memory(dataset.arrays[0], images), "a Tensor's data is kept, not copied"
    assert dataset.arrays[1].dtype == np.float32, "Python floats follow the Tensor rule"
    assert dataset.arrays[2].dtype == np.int64
    assert dataset[4][1] == pytest.approx(4.5)


def test_a_single_array_gives_one_element_samples():
    dataset = TensorDataset(np.array([7, 8, 9]))
    assert len(dataset) == 3
    assert dataset[1] == (8,)


def test_negative_indices_count_from_the_end():
    images, labels = images_and_labels()
    dataset = TensorDataset(images, labels)
    np.testing.assert_array_equal(dataset[-1][0], images[4])
    assert dataset[-5][1] == 0


@pytest.mark.parametrize("index", [5, 17, -6])
def test_an_index_out_of_range_is_an_index_error(index):
    dataset = TensorDataset(*images_and_labels())
    with pytest.raises(IndexError, match=f"index {index} .*5 samples"):
        dataset[index]


def test_first_dimensions_must_agree_and_the_error_names_every_shape():
    with pytest.raises(ValueError, match=r"same first dimension, got shapes \(100, 3\), \(99,\)"):
        TensorDataset(np.zeros((100, 3)), np.zeros(99))
    with pytest.raises(ValueError, match=r"\(4, 2\), \(4,\), \(5, 1\)"):
        TensorDataset(np.zeros((4, 2)), np.zeros(4), np.zeros((5, 1)))


def test_no_array_or_a_scalar_is_an_error():
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match=r"array 1 is a scalar \(shape \(\)\)"):
        TensorDataset(np.zeros(3), np.float32(2.0))


def test_gather_returns_one_tensor_per_array_in_the_order_asked():
    images, labels = images_and_labels()
    dataset = TensorDataset(images, labels)
    indices = np.array([4, 0, 2, 0])
    batch = dataset.gather(indices)
    assert isinstance(batch, tuple) and len(batch) == 2
    assert all(isinstance(part, Tensor) for part in batch)
    np.testing.assert_array_equal(batch[0].numpy(), images[indices])
    np.testing.assert_array_equal(batch[1].numpy(), [40, 0, 20, 0])
    assert batch[0].shape == (4, 2, 3) and batch[0].dtype == np.float32
    assert batch[1].dtype == np.int64


def test_gather_copies_so_a_batch_can_be_changed_safely():
    images, labels = images_and_labels()
    dataset = TensorDataset(images, labels)
    batch = dataset.gather(np.array([1, 2]))
    batch[0].numpy()[:] = -1
    assert images.min() == 0, "changing a batch must not change the data set"


def test_gather_equals_collating_the_samples_one_by_one():
    rng = np.random.default_rng(0)
    dataset = TensorDataset(rng.integers(0, 256, (20, 3, 4, 4), dtype=np.uint8),
                            rng.integers(0, 10, 20))
    indices = rng.permutation(20)[:7]
    fast = dataset.gather(indices)
    slow = collate([dataset[int(i)] for i in indices])
    for a, b in zip(fast, slow):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy())
