"""DataLoader: batches of the right sizes, a reproducible new order every epoch, and the fast path."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.data import DataLoader, TensorDataset


def numbered(count: int) -> TensorDataset:
    """Sample i is (i, 10 * i): a batch shows which samples it holds, and that they match."""
    return TensorDataset(np.arange(count), np.arange(count) * 10)


def epoch_order(loader: DataLoader) -> np.ndarray:
    """The samples of one epoch, in the order the loader delivered them."""
    return np.concatenate([ids.numpy() for ids, _ in loader])


class Squares:
    """A data set of our own (not a TensorDataset): sample i is (a 2x2 array, a label)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reads = 0

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        self.reads += 1
        return np.full((2, 2), index, dtype=np.float32), index % 3


@pytest.mark.parametrize("count, batch_size, batches, batches_drop_last", [
    (10, 3, 4, 3),      # 3 + 3 + 3 + 1
    (9, 3, 3, 3),       # an exact multiple: drop_last drops nothing
    (2, 5, 1, 0),       # fewer samples than one batch
    (1, 1, 1, 1),
    (0, 4, 0, 0),
    (1000, 64, 16, 15),
])
def test_len_is_the_number_of_batches(count, batch_size, batches, batches_drop_last):
    assert len(DataLoader(numbered(count), batch_size)) == batches
    assert len(DataLoader(numbered(count), batch_size, drop_last=True)) == batches_drop_last


def test_without_shuffle_batches_come_in_order_and_the_last_one_is_short():
    batches = list(DataLoader(numbered(10), batch_size=4))
    assert len(batches) == 3
    assert [ids.numpy().tolist() for ids, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    ids, tens = batches[2]
    assert isinstance(ids, Tensor) and isinstance(tens, Tensor)
    np.testing.assert_array_equal(tens.numpy(), [80, 90])


def test_drop_last_drops_only_the_short_last_batch():
    batches = list(DataLoader(numbered(10), batch_size=4, drop_last=True))
    assert [ids.numpy().tolist() for ids, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(list(DataLoader(numbered(8), batch_size=4, drop_last=True))) == 2


def test_the_default_batch_size_is_one():
    batches = list(DataLoader(numbered(3)))
    assert [ids.numpy().tolist() for ids, _ in batches] == [[0], [1], [2]]


def test_shuffled_epochs_are_consecutive_permutations_of_one_generator():
    loader = DataLoader(numbered(12), batch_size=5, shuffle=True, rng=7)
    reference = np.random.default_rng(7)
    first, second = epoch_order(loader), epoch_order(loader)
    np.testing.assert_array_equal(first, reference.permutation(12))
    np.testing.assert_array_equal(second, reference.permutation(12))
    assert not np.array_equal(first, second), "every epoch needs a new order"


def test_the_same_seed_gives_the_same_epochs():
    a = DataLoader(numbered(50), batch_size=8, shuffle=True, rng=3)
    b = DataLoader(numbered(50), batch_size=8, shuffle=True, rng=3)
    for _ in range(3):
        np.testing.assert_array_equal(epoch_order(a), epoch_order(b))
    c = DataLoader(numbered(50), batch_size=8, shuffle=True, rng=4)
    assert not np.array_equal(epoch_order(DataLoader(numbered(50), 8, shuffle=True, rng=3)),
                              epoch_order(c))


def test_a_generator_can_be_passed_and_is_used_directly():
    generator = np.random.default_rng(11)
    loader = DataLoader(numbered(6), batch_size=6, shuffle=True, rng=generator)
    assert loader.rng is generator
    expected = np.random.default_rng(11).permutation(6)
    np.testing.assert_array_equal(epoch_order(loader), expected)


def test_no_sample_is_lost_or_repeated_in_a_shuffled_epoch():
    loader = DataLoader(numbered(103), batch_size=10, shuffle=True, rng=0)
    for _ in range(3):
        order = epoch_order(loader)
        assert len(order) == 103
        np.testing.assert_array_equal(np.sort(order), np.arange(103))


def test_drop_last_with_shuffle_keeps_full_batches_of_distinct_samples():
    loader = DataLoader(numbered(103), batch_size=10, shuffle=True, drop_last=True, rng=0)
    batches = list(loader)
    assert [len(ids.numpy()) for ids, _ in batches] == [10] * 10
    order = np.concatenate([ids.numpy() for ids, _ in batches])
    assert len(np.unique(order)) == 100, "a sample appeared twice in one epoch"


def test_shuffling_keeps_every_label_with_its_sample():
    for ids, tens in DataLoader(numbered(40), batch_size=7, shuffle=True, rng=1):
        np.testing.assert_array_equal(tens.numpy(), 10 * ids.numpy())


def test_batch_indices_cut_the_epoch_into_pieces():
    loader = DataLoader(numbered(7), batch_size=3)
    pieces = loader.batch_indices()
    assert [piece.tolist() for piece in pieces] == [[0, 1, 2], [3, 4, 5], [6]]
    shuffled = DataLoader(numbered(7), batch_size=3, shuffle=True, drop_last=True, rng=5)
    expected = np.random.default_rng(5).permutation(7)
    assert [piece.tolist() for piece in shuffled.batch_indices()] == [expected[:3].tolist(),
                                                                       expected[3:6].tolist()]


class GatherOnly(TensorDataset):
    """A TensorDataset that counts gathers and refuses to be read sample by sample."""

    gathers = 0

    def __getitem__(self, index):
        raise AssertionError("the fast path must not read a TensorDataset sample by sample")

    def gather(self, indices):
        self.gathers += 1
        return super().gather(indices)


def test_a_tensor_dataset_is_gathered_with_one_call_per_batch():
    dataset = GatherOnly(np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10))
    loader = DataLoader(dataset, batch_size=4, shuffle=True, rng=0)
    batches = list(loader)
    assert dataset.gathers == len(loader) == 3
    assert batches[0][0].shape == (4, 2) and batches[-1][0].shape == (2, 2)


def test_any_other_data_set_is_read_sample_by_sample_and_collated():
    dataset = Squares(7)
    batches = list(DataLoader(dataset, batch_size=3))
    assert dataset.reads == 7
    images, labels = batches[1]
    assert images.shape == (3, 2, 2) and images.dtype == np.float32
    np.testing.assert_array_equal(images.numpy()[:, 0, 0], [3, 4, 5])
    np.testing.assert_array_equal(labels.numpy(), [0, 1, 2])
    assert labels.dtype == np.int64


def test_a_list_of_dict_samples_is_a_data_set():
    samples = [{"x": np.array([i, -i], dtype=np.float32), "y": i} for i in range(5)]
    batches = list(DataLoader(samples, batch_size=2, shuffle=True, rng=2))
    order = np.random.default_rng(2).permutation(5)
    np.testing.assert_array_equal(batches[0]["y"].numpy(), order[:2])
    np.testing.assert_array_equal(batches[0]["x"].numpy()[:, 1], -order[:2])


@pytest.mark.parametrize("batch_size", [0, -2, 2.5, True])
def test_batch_size_must_be_a_positive_int(batch_size):
    with pytest.raises(ValueError, match=f"batch_size={batch_size!r}"):
        DataLoader(numbered(4), batch_size=batch_size)


def test_a_data_set_needs_len_and_getitem():
    with pytest.raises(TypeError, match="__len__ and __getitem__, got a int"):
        DataLoader(5, batch_size=2)
