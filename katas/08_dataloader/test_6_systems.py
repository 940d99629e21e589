"""Systems view of the data pipeline: how fast batches come, and how many bytes they weigh.

Every figure is measured on your own loader and transforms and appears in the kata's
metrics table. Times are shown, not asserted: a busy machine moves them. What makes batch
code fast is asserted by counting instead: the lines of your Python a call runs
(``python_lines``) stay the same whatever the batch size, where a loop over the samples
runs its body once per sample.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, python_lines, seconds, time_ratio
from tinytorch.data import (
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    collate,
    crop_batch,
    flip_batch,
    load_tinydigits,
)

BATCH = 64
CIFAR_BATCH = 128
CIFAR_TRAIN = 50_000
CIFAR_MEAN, CIFAR_STD = [125.3, 123.0, 113.9], [63.0, 62.1, 66.7]


def tinydigits() -> TensorDataset:
    """TinyDigits' 5,000 training images as float32 (N, 1, 28, 28) in [0, 1], with labels."""
    x_train, y_train, _, _ = load_tinydigits()
    return TensorDataset(x_train.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0, y_train)


class OneByOne:
    """The same samples behind a plain data set, so the loader must read them one by one."""

    def __init__(self, dataset: TensorDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.dataset[index]


def cifar_like_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)


def test_loader_throughput_on_tinydigits(metrics):
    dataset = tinydigits()
    fast = DataLoader(dataset, batch_size=BATCH, shuffle=True, rng=0)
    slow = DataLoader(OneByOne(dataset), batch_size=BATCH, shuffle=True, rng=0)
    assert sum(len(labels.numpy()) for _, labels in fast) == len(dataset) == 5000

    fast_seconds = seconds(lambda: list(fast), repeat=5)
    slow_seconds = seconds(lambda: list(slow), repeat=3)

    metrics.record("loader throughput, TinyDigits, batch 64 (gather)", len(dataset) / fast_seconds,
                   "samples/s")
    metrics.record("loader throughput, TinyDigits, batch 64 (one by one)",
                   len(dataset) / slow_seconds, "samples/s")


def assert_no_loop_over_samples(name, run, sizes):
    """``run(n)`` on batches of each size in ``sizes`` runs the same lines of your Python."""
    lines = {size: python_lines(lambda size=size: run(size))[1] for size in sizes}
    counts = ", ".join(f"{count:,} lines of your Python for {size:,} samples" for size, count in lines.items())
    assert len(set(lines.values())) == 1, (
        f"{name} ran {counts}: a loop over the samples runs once per sample; index all of them at once")
    return lines


def test_gathering_a_batch_runs_no_python_per_sample(metrics):
    dataset = tinydigits()
    order = np.random.default_rng(0).permutation(len(dataset))
    indices = order[:BATCH]
    gathered = dataset.gather(indices)
    collated = collate([dataset[int(i)] for i in indices])
    for a, b in zip(gathered, collated):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    lines = assert_no_loop_over_samples("gather", lambda size: dataset.gather(order[:size]),
                                        (BATCH, 10 * BATCH))
    # shown, not asserted: about 30x on one idle core
    ratio = time_ratio(lambda: collate([dataset[int(i)] for i in indices]),
                       lambda: dataset.gather(indices))
    metrics.record("lines of Python to gather a batch, any size", lines[BATCH], "count")
    metrics.record("collate 64 samples / gather one batch, time", ratio, "ratio")


def test_bytes_of_a_digits_batch(metrics):
    dataset = tinydigits()
    images, labels = next(iter(DataLoader(dataset, batch_size=BATCH)))
    assert images.shape == (BATCH, 1, 28, 28) and images.dtype == np.float32
    assert images.nbytes == BATCH * 28 * 28 * 4 == 200_704

    indices = np.arange(BATCH)
    _, peak = peak_bytes(lambda: dataset.gather(indices))

    # Gathering allocates the batch itself and nothing of its size besides.
    batch_bytes = images.nbytes + labels.nbytes
    assert batch_bytes <= peak < 1.25 * batch_bytes, f"gathering one batch peaked at {peak:,} bytes"
    metrics.record("batch (64, 1, 28, 28) float32", images.nbytes, "bytes")
    metrics.record("peak of gathering that batch with its labels", peak, "bytes")


def test_bytes_of_a_cifar_batch_and_of_the_whole_set(metrics):
    images = cifar_like_images(256)
    loader = DataLoader(TensorDataset(images, np.zeros(256, dtype=np.int64)), batch_size=BATCH)
    batch, _ = next(iter(loader))
    normalized = Normalize(CIFAR_MEAN, CIFAR_STD)(batch)
    assert batch.dtype == np.uint8 and batch.nbytes == BATCH * 3 * 32 * 32 == 196_608
    assert normalized.dtype == np.float32 and normalized.nbytes == 4 * batch.nbytes

    metrics.record("CIFAR-10 batch (64, 3, 32, 32), uint8", batch.nbytes, "bytes")
    metrics.record("CIFAR-10 batch (64, 3, 32, 32), float32 after Normalize", normalized.nbytes,
                   "bytes")
    # Keeping the data set as uint8 and converting batch by batch saves three quarters.
    metrics.record("CIFAR-10 train set, uint8", CIFAR_TRAIN * batch.nbytes // BATCH, "bytes")
    metrics.record("CIFAR-10 train set, float32", CIFAR_TRAIN * normalized.nbytes // BATCH, "bytes")


def crop_and_flip_one_by_one(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The per-sample way: pad, crop and maybe flip each image in a Python loop."""
    out = np.empty_like(images)
    for n, image in enumerate(images):
        padded = np.pad(image, ((0, 0), (4, 4), (4, 4)))
        top, left = rng.integers(0, 9, size=2)
        crop = padded[:, top:top + 32, left:left + 32]
        out[n] = crop[:, :, ::-1] if rng.random() < 0.5 else crop
    return out


def test_batch_augmentation_runs_no_python_per_image(metrics):
    images = cifar_like_images(CIFAR_BATCH)
    augment = Compose([RandomCrop(32, padding=4, rng=0), RandomHorizontalFlip(rng=1)])
    loop_rng = np.random.default_rng(2)
    assert augment(images).shape == crop_and_flip_one_by_one(images, loop_rng).shape

    assert_no_loop_over_samples("RandomCrop then RandomHorizontalFlip",
                                lambda size: augment(images[:size]), (CIFAR_BATCH // 4, CIFAR_BATCH))
    # shown, not asserted: about 10 to 17x on one idle core
    ratio = time_ratio(lambda: crop_and_flip_one_by_one(images, loop_rng), lambda: augment(images))
    metrics.record("per-sample loop / batch crop+flip time, CIFAR batch of 128", ratio, "ratio")


def test_crop_and_flip_do_not_loop_over_the_samples(metrics):
    # Many tiny images: a Python loop pays its overhead once per image and cannot hide.
    rng = np.random.default_rng(0)
    images = rng.random((8192, 1, 6, 6), dtype=np.float32)
    top, left = rng.integers(0, 3, size=8192), rng.integers(0, 3, size=8192)
    flip = rng.random(8192) < 0.5

    def crop_loop():
        return np.stack([image[:, t:t + 4, l:l + 4] for image, t, l in zip(images, top, left)])

    def flip_loop():
        out = images.copy()
        for n in np.flatnonzero(flip):
            out[n] = images[n, :, :, ::-1]
        return out

    np.testing.assert_array_equal(crop_batch(images, top, left, 4), crop_loop())
    np.testing.assert_array_equal(flip_batch(images, flip), flip_loop())
    sizes = (1024, 8192)
    assert_no_loop_over_samples("crop_batch", lambda n: crop_batch(images[:n], top[:n], left[:n], 4), sizes)
    assert_no_loop_over_samples("flip_batch", lambda n: flip_batch(images[:n], flip[:n]), sizes)
    # shown, not asserted: about 20x and 8x on one idle core
    crop_ratio = time_ratio(crop_loop, lambda: crop_batch(images, top, left, 4))
    flip_ratio = time_ratio(flip_loop, lambda: flip_batch(images, flip))
    metrics.record("per-image loop / crop_batch time, 8192 images", crop_ratio, "ratio")
    metrics.record("per-image loop / flip_batch time, 8192 images", flip_ratio, "ratio")


def test_peak_memory_of_augmenting_a_cifar_batch(metrics):
    images = cifar_like_images(CIFAR_BATCH)
    augment = Compose([RandomCrop(32, padding=4, rng=0), RandomHorizontalFlip(rng=1),
                       Normalize(CIFAR_MEAN, CIFAR_STD)])

    out, peak = peak_bytes(lambda: augment(images))

    # The float32 output is 4x the uint8 input; padding, cropping and flipping add a few
    # uint8 copies of the batch, and Normalize one float32 temporary.
    assert out.nbytes == 4 * images.nbytes
    assert out.nbytes <= peak < 3 * out.nbytes, f"augmenting peaked at {peak:,} bytes"
    metrics.record("augmentation peak, CIFAR batch of 128 (uint8 in, float32 out)", peak, "bytes")
    metrics.record("augmentation peak / output bytes", peak / out.nbytes, "ratio")
