"""Milestone 3 (1986): backpropagation trains a multi-layer network to read handwritten digits.

In 1986 David Rumelhart, Geoffrey Hinton and Ronald Williams published "Learning
representations by back-propagating errors" in Nature. The idea (worked out before, in
several forms, by others) was to use the chain rule to send each output error backwards
through the network, so every weight, hidden ones included, learns how it should change.
Their experiments showed hidden units discovering useful features of the data on their own,
and it answered the question that had stalled the field since 1969: hidden layers CAN be
trained. Three years later Yann LeCun's group was reading handwritten ZIP codes with
backpropagation; the MNIST digits (1998) grew out of that line of work.

This script trains a multi-layer perceptron, 784 -> 512 -> 256 -> 10 with ReLU, on
TinyDigits (5,000 MNIST training digits, 1,000 test digits) with everything you built: your
Tensor, activations, layers and loss, your autograd computing every gradient, Adam and a
warm-up + cosine learning-rate schedule, driven by your Trainer (kata 07).

A plain MLP trained on 5,000 digits reaches about 94% on the test digits: it learns the
exact pixels of the training images. Two things take it past 95%:

- data augmentation: every epoch, each training image is moved by up to 2 pixels, turned by
  up to 12 degrees and scaled by up to 10% (NumPy, on the uint8 images), so the network
  never sees exactly the same image twice and has to learn the shapes, not the pixels;
- a learning rate that warms up for one epoch, then decays along a cosine to zero, so the
  last epochs settle into a minimum instead of bouncing around it.

Success means at least 95% accuracy on the 1,000 test digits. The seed is fixed and every
setting is chosen in advance: the test accuracy printed each epoch is watched, never used to
choose anything. The script also prints the confusion matrix and the accuracy of each digit,
and reports the training time (budget: 3 minutes on one core) and peak memory.

``--data mnist`` trains the same network with the same recipe on the whole of MNIST (60,000
training and 10,000 test digits) for 15 epochs instead of 40 (each epoch holds twelve times
as many images). Success: at least 97% of the 10,000 test digits; budget: 10 minutes on one
core. MNIST is not shipped: the script reads it from ``--mnist-dir`` (default: where
``python -m tinytorch.data.mnist download`` puts it) and never downloads anything itself;
without the files it says how to get them and exits with code 3. Each file's md5 must be
the official one unless ``--skip-checksum`` is given (your own digits in MNIST's format).

    python milestones/03_mlp_1986.py [--impl reference] [--smoke] [--out PATH]
    python milestones/03_mlp_1986.py --data mnist [--mnist-dir DIR] [--skip-checksum]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import common


def milestone_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This milestone's own options; the rest of ``argv`` is the common command line."""
    parser = common.options_parser(__file__)
    parser.add_argument("--data", choices=("tinydigits", "mnist"), default="tinydigits",
                        help="the digits to learn: TinyDigits (shipped, default) or the full MNIST")
    parser.add_argument("--mnist-dir", type=Path, default=None, metavar="DIR",
                        help="folder holding MNIST's four IDX files, raw or gzipped (default: "
                             "where `python -m tinytorch.data.mnist download` puts them)")
    parser.add_argument("--skip-checksum", action="store_true",
                        help="read MNIST files whose md5 is not the official one (digits of "
                             "your own in MNIST's format); the results then say so")
    return common.split_options(parser, argv)


OPTIONS, COMMON_ARGUMENTS = milestone_options(sys.argv[1:])
RUN = common.start(__file__, __doc__, COMMON_ARGUMENTS, variant=OPTIONS.data)

# Imported only now: NumPy after common pinned BLAS to one thread, tinytorch after
# common.start chose whose tinytorch (yours or the reference) it is.
import numpy as np

from tinytorch.core import ReLU, Tensor, no_grad
from tinytorch.data import ChecksumError, IdxFormatError, load_mnist, load_tinydigits
from tinytorch.nn import CrossEntropyLoss, Linear, Module, Sequential
from tinytorch.optim import Adam
from tinytorch.training import Trainer, WarmupCosineLR

SEED = 1986
BATCH_SIZE = 128
LEARNING_RATE = 2e-3
WARMUP_EPOCHS = 1
HIDDEN_SIZES = (512, 256)
SIDE = 28
CLASSES = 10

MAX_SHIFT_PIXELS = 2.0
MAX_ROTATION_DEGREES = 12.0
MAX_SCALE_CHANGE = 0.10

SMOKE_EPOCHS = 2  # one of warm-up, one of cosine decay
SMOKE_TRAIN_IMAGES = 512
SMOKE_TEST_IMAGES = 200

EXIT_NO_DATA = 3


@dataclass(frozen=True)
class DigitData:
    """A data set's images (N, 28, 28) uint8 and labels, with what success means on it."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    epochs: int
    required_test_accuracy: float
    time_budget_seconds: float


class MissingData(Exception):
    """MNIST is not on disk (or not the official files): the message says what to do."""


def load_digits(data: str) -> DigitData:
    """TinyDigits, or MNIST from ``--mnist-dir``; never downloads (``MissingData`` instead)."""
    if data == "tinydigits":
        return DigitData("TinyDigits", *load_tinydigits(), epochs=40,
                         required_test_accuracy=0.95, time_budget_seconds=180.0)
    download = ("python -m tinytorch.data.mnist download"
                + (f" --dir {OPTIONS.mnist_dir}" if OPTIONS.mnist_dir else ""))
    try:
        arrays = load_mnist(OPTIONS.mnist_dir, verify=not OPTIONS.skip_checksum)
    except FileNotFoundError as error:
        raise MissingData(f"MNIST is not on disk: {error}\nDownload it (11 MB, md5-checked) "
                          f"with:\n    {download}\nthen run this milestone again"
                          f"{' with the same --mnist-dir' if OPTIONS.mnist_dir else ''}.") from None
    except ChecksumError as error:
        raise MissingData(f"{error}\nFor digits that are not the official MNIST files, add "
                          f"--skip-checksum; figures measured on them are not MNIST's own.") from None
    except IdxFormatError as error:
        raise MissingData(f"{error}\nReplace the file (or download MNIST again with: "
                          f"{download}).") from None
    name = "MNIST (not verified: --skip-checksum)" if OPTIONS.skip_checksum else "MNIST"
    return DigitData(name, *arrays, epochs=15, required_test_accuracy=0.97,
                     time_budget_seconds=600.0)


def jitter(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image shifted, rotated and scaled at random about its centre (uint8 in and out).

    For every pixel of the new image we ask where it comes from in the old one: undo the
    shift, the scaling and the rotation, and take the nearest old pixel (background, 0, for
    positions outside the image). One vectorised gather does all images at once.
    """
    count = len(images)
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, count))
    scale = rng.uniform(1 - MAX_SCALE_CHANGE, 1 + MAX_SCALE_CHANGE, count)
    shift = rng.uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS, (2, count))
    centre = (SIDE - 1) / 2
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    dy = rows[None] - centre - shift[0][:, None, None]
    dx = cols[None] - centre - shift[1][:, None, None]
    cos = (np.cos(angle) / scale)[:, None, None]
    sin = (np.sin(angle) / scale)[:, None, None]
    source_rows = np.rint(cos * dy - sin * dx + centre).astype(np.intp)
    source_cols = np.rint(sin * dy + cos * dx + centre).astype(np.intp)
    inside = (source_rows >= 0) & (source_rows < SIDE) & (source_cols >= 0) & (source_cols < SIDE)
    picked = images[np.arange(count)[:, None, None], source_rows.clip(0, SIDE - 1),
                    source_cols.clip(0, SIDE - 1)]
    return np.where(inside, picked, 0).astype(np.uint8)


class Standardise:
    """Pixels to float32 inputs with mean 0 and standard deviation 1, measured on training data."""

    def __init__(self, train_images: np.ndarray) -> None:
        # A uint8 pixel takes one of 256 values: from how often each occurs, the mean and the
        # standard deviation are exact, without a float copy of the 4 million pixels.
        counts = np.bincount(train_images.ravel(), minlength=256)
        values = np.arange(256) / 255.0
        self.mean = float(counts @ values / counts.sum())
        self.std = float(np.sqrt(counts @ (values - self.mean) ** 2 / counts.sum()))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1) / 255.0
        return ((flat - self.mean) / self.std).astype(np.float32)


def batch_count(examples: int) -> int:
    """How many batches of at most ``BATCH_SIZE`` hold ``examples`` (at least one)."""
    return max(1, -(-examples // BATCH_SIZE))


def batches(images: np.ndarray, labels: np.ndarray, prepare: Callable[[np.ndarray], np.ndarray],
            order: np.ndarray) -> Iterator[tuple[Tensor, Tensor]]:
    """``(inputs, labels)`` Tensor pairs taking the examples in ``order``, made one at a time.

    ``order`` is split into ``batch_count`` batches of (nearly) equal size, at most
    ``BATCH_SIZE``: no tiny last batch. ``prepare`` turns a batch of uint8 images into float32
    inputs; since it runs batch by batch, only one batch of prepared images exists at once.
    """
    for chunk in np.array_split(order, batch_count(len(order))):
        yield Tensor(prepare(images[chunk])), Tensor(labels[chunk])


def build_model(rng: np.random.Generator) -> Module:
    sizes = (SIDE * SIDE, *HIDDEN_SIZES)
    layers: list = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [Linear(fan_in, fan_out, rng=rng), ReLU()]
    return Sequential(*layers, Linear(sizes[-1], CLASSES, rng=rng))


def predict(model: Module, inputs: np.ndarray) -> np.ndarray:
    model.eval()
    with no_grad():
        return model(Tensor(inputs)).numpy().argmax(axis=1)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """``matrix[true digit, predicted digit]`` = how many test images fall in that cell."""
    matrix = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Each digit's share of its test images classified right; NaN for a digit with none
    (possible only in a smoke run or on digits of your own)."""
    totals = matrix.sum(axis=1)
    return np.divide(matrix.diagonal(), totals, out=np.full(CLASSES, np.nan), where=totals > 0)


def print_confusion(matrix: np.ndarray) -> None:
    per_class = per_class_accuracy(matrix)
    print("\nConfusion matrix (rows: true digit, columns: predicted digit)")
    print("true\\pred " + "".join(f"{digit:>5}" for digit in range(CLASSES)) + "   accuracy")
    for digit, row in enumerate(matrix):
        print(f"{digit:>9} " + "".join(f"{count:>5}" for count in row) +
              f"   {per_class[digit]:7.1%}")


def run_milestone() -> int:
    rng = np.random.default_rng(SEED)
    try:
        digits = load_digits(OPTIONS.data)
    except MissingData as error:
        print(f"\n{error}", file=sys.stderr)
        return EXIT_NO_DATA
    x_train, y_train, x_test, y_test = digits.x_train, digits.y_train, digits.x_test, digits.y_test
    epochs = digits.epochs
    if RUN.smoke:
        x_train, y_train = x_train[:SMOKE_TRAIN_IMAGES], y_train[:SMOKE_TRAIN_IMAGES]
        x_test, y_test = x_test[:SMOKE_TEST_IMAGES], y_test[:SMOKE_TEST_IMAGES]
        epochs = SMOKE_EPOCHS
    standardise = Standardise(x_train)
    test_batches = list(batches(x_test, y_test, standardise, np.arange(len(x_test))))
    print(f"{digits.name}: {len(x_train):,} training and {len(x_test):,} test images; "
          f"{epochs} epochs of {len(x_train):,} freshly jittered images in batches of {BATCH_SIZE}")

    model = build_model(rng)
    optimizer = Adam(model.parameters(), lr=LEARNING_RATE)
    steps_per_epoch = batch_count(len(x_train))
    schedule = WarmupCosineLR(optimizer, warmup_steps=WARMUP_EPOCHS * steps_per_epoch,
                              total_steps=epochs * steps_per_epoch)
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, scheduler=schedule)
    history: list[dict[str, float]] = []

    def train() -> None:
        for epoch in range(1, epochs + 1):
            seen = trainer.train_epoch(batches(x_train, y_train,
                                               lambda images: standardise(jitter(images, rng)),
                                               rng.permutation(len(x_train))))
            tested = trainer.evaluate(test_batches)
            history.append({"epoch": epoch, "train_loss": seen["loss"],
                            "train_accuracy": seen["accuracy"], "test_loss": tested["loss"],
                            "test_accuracy": tested["accuracy"], "lr": optimizer.lr})
            RUN.progress(epoch, epochs, f"loss {seen['loss']:.4f}",
                         f"train {seen['accuracy']:6.2%}", f"test {tested['accuracy']:6.2%}",
                         f"test loss {tested['loss']:.4f}")

    RUN.measure(train)
    predictions = predict(model, standardise(x_test))
    matrix = confusion_matrix(y_test, predictions)
    print_confusion(matrix)
    test_accuracy = float((predictions == y_test).mean())
    parameters = sum(parameter.size for parameter in model.parameters())
    images_per_second = epochs * len(x_train) / RUN.train_seconds
    print(f"\nResults: {test_accuracy:.2%} of the {len(x_test):,} test digits right "
          f"({int((predictions != y_test).sum())} wrong); {parameters:,} parameters; "
          f"training {RUN.train_seconds:.1f} s ({images_per_second:,.0f} images/s)")
    if RUN.train_seconds > digits.time_budget_seconds:
        print(f"Note: training took longer than the {digits.time_budget_seconds:.0f} s this "
              f"milestone budgets for one core: profile your Tensor operations (kata 14).")
    results = {
        "data": digits.name, "seed": SEED, "epochs": epochs, "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "warmup_epochs": WARMUP_EPOCHS, "hidden_sizes": list(HIDDEN_SIZES),
        "augmentation": {"max_shift_pixels": MAX_SHIFT_PIXELS,
                         "max_rotation_degrees": MAX_ROTATION_DEGREES,
                         "max_scale_change": MAX_SCALE_CHANGE},
        "train_images": len(x_train), "test_images": len(x_test), "parameters": parameters,
        "test_accuracy": test_accuracy,
        "per_class_accuracy": per_class_accuracy(matrix).tolist(),
        "confusion_matrix": matrix.tolist(),
        "images_per_second": images_per_second,
        "time_budget_seconds": digits.time_budget_seconds,
        "within_time_budget": RUN.train_seconds <= digits.time_budget_seconds,
        "history": history,
    }
    criteria = [common.Criterion(f"test accuracy on {digits.name}", test_accuracy,
                                 digits.required_test_accuracy)]
    curves = {name: [row[name] for row in history]
              for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy")}
    return RUN.finish(results, criteria, curves)


if __name__ == "__main__":
    common.main(run_milestone)
