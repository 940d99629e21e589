"""The whole pipeline: real digits into kata 07's Trainer, and CIFAR-10 files into augmented batches."""

import numpy as np

from tinytorch.core import ReLU, Tensor
from tinytorch.data import (
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    load_cifar10,
    load_tinydigits,
)
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import SGD
from tinytorch.training import Trainer


def flat_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 digits (N, 28, 28) as float32 rows (N, 784) in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def test_a_data_loader_feeds_the_trainer_epoch_after_epoch():
    x_train, y_train, x_test, y_test = load_tinydigits()
    train = DataLoader(TensorDataset(flat_pixels(x_train), y_train), batch_size=64, shuffle=True,
                       rng=0)
    test = DataLoader(TensorDataset(flat_pixels(x_test), y_test), batch_size=500)
    model = Sequential(Linear(784, 64, rng=0), ReLU(), Linear(64, 10, rng=1))
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9))

    history = trainer.fit(train, epochs=3, val_batches=test)

    # fit() iterates the loader once per epoch: every epoch must deliver the whole data set.
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.88, history


def test_cifar10_files_become_augmented_batches(tiny_cifar10):
    folder, arrays = tiny_cifar10
    x_train, y_train, x_test, _ = load_cifar10(folder, verify=False)
    assert x_train.shape == (40, 3, 32, 32) and x_test.shape == (8, 3, 32, 32)
    mean, std = x_train.mean(axis=(0, 2, 3)), x_train.std(axis=(0, 2, 3))
    augment = Compose([RandomCrop(32, padding=4, rng=0), RandomHorizontalFlip(rng=1),
                       Normalize(mean, std)])
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=16, shuffle=True, rng=2)

    batches = [(augment(images), labels) for images, labels in loader]

    # The same pipeline replayed by hand: the loader's order, then per batch the crop offsets
    # (top, then left) and the flips, each from its own generator.
    order = np.random.default_rng(2).permutation(40)
    crop_rng, flip_rng = np.random.default_rng(0), np.random.default_rng(1)
    assert [len(labels.numpy()) for _, labels in batches] == [16, 16, 8]
    for k, (images, labels) in enumerate(batches):
        ids = order[16 * k:16 * (k + 1)]
        np.testing.assert_array_equal(labels.numpy(), arrays["y_train"][ids])
        padded = np.pad(arrays["x_train"][ids], ((0, 0), (0, 0), (4, 4), (4, 4)))
        top, left = crop_rng.integers(0, 9, size=len(ids)), crop_rng.integers(0, 9, size=len(ids))
        crops = np.stack([p[:, t:t + 32, l:l + 32] for p, t, l in zip(padded, top, left)])
        flip = flip_rng.random(len(ids)) < 0.5
        mirrored = np.where(flip[:, None, None, None], crops[..., ::-1], crops)
        expected = (mirrored - mean[:, None, None]) / std[:, None, None]
        assert isinstance(images, Tensor) and images.dtype == np.float32
        np.testing.assert_allclose(images.numpy(), expected, rtol=1e-4, atol=1e-4)
