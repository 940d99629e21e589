"""Milestone 4 (1998): a convolutional network sees what a multi-layer perceptron cannot.

In 1998 Yann LeCun, Leon Bottou, Yoshua Bengio and Patrick Haffner published
"Gradient-Based Learning Applied to Document Recognition". Their LeNet-5 read handwritten
digits with convolutions: small filters that slide over the image, the same few weights at
every position, each layer seeing a larger neighbourhood than the last, with subsampling
(pooling) in between. Such networks were reading millions of bank cheques a day. Fourteen
years later AlexNet, a bigger network of the same kind trained on GPUs, won ImageNet, and
convolutional networks took over computer vision.

This script trains an MLP and a CNN on the SAME data, with the same augmentation, schedule
and number of epochs, and prints both, so the gain of the architecture is measured rather
than claimed. Everything runs on your code: Conv2d, BatchNorm2d, MaxPool2d and Flatten
(kata 09), the DataLoader and its batch transforms (kata 08), your autograd, optimizers and
Trainer.

- ``--data tinydigits`` (the default, offline): the 5,000 + 1,000 MNIST digits of
  TinyDigits, shifted by up to 2 pixels at random every epoch. Success: the CNN gets at
  least 97% of the 1,000 test digits right.
- ``--data cifar10``: 50,000 colour photographs of 32x32 pixels in 10 classes (Krizhevsky,
  2009), with random crops (4 pixels of padding) and mirror images. Success: the CNN gets
  at least 75% of the 10,000 test images right; the budget is 30 minutes on 2 cores (pass
  ``--threads 2``). CIFAR-10 is not shipped (163 MB): download it first with
  ``python -m tinytorch.data.cifar10 download``, or point ``--cifar-dir`` at a copy.
  ``--skip-checksum`` reads a copy that is not byte-identical to the official files, and
  ``--exact-test FILE`` also scores the CNN on images stored in an .npz (``images``
  (N, 3072) uint8 in CIFAR's R, G, B plane layout, ``labels``).

The seed is fixed and every setting is chosen in advance: the test accuracy printed after
each epoch is watched, never used to choose anything.

    python milestones/04_cnn_1998.py [--impl reference] [--smoke] [--out PATH] [--plot PNG]
        [--save-model NPZ]
    python milestones/04_cnn_1998.py --data cifar10 --threads 2 [--cifar-dir DIR]
        [--skip-checksum] [--exact-test FILE] [--accelerate]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import common


def milestone_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This milestone's own options; the rest of ``argv`` is the common command line."""
    parser = common.options_parser(__file__)
    parser.add_argument("--data", choices=("tinydigits", "cifar10"), default="tinydigits",
                        help="the images to learn: TinyDigits (shipped, default) or CIFAR-10")
    parser.add_argument("--cifar-dir", type=Path, default=None, metavar="DIR",
                        help="folder holding cifar-10-batches-py (default: where "
                             "`python -m tinytorch.data.cifar10 download` puts it)")
    parser.add_argument("--skip-checksum", action="store_true",
                        help="read CIFAR-10 files whose md5 is not the official one (a "
                             "re-encoded copy); figures on such a copy are not CIFAR-10's own")
    parser.add_argument("--exact-test", type=Path, default=None, metavar="NPZ",
                        help="also report the CNN's accuracy on the images of this .npz "
                             "(images (N, 3072) uint8, labels (N,)); CIFAR-10 only")
    parser.add_argument("--save-model", type=Path, default=None, metavar="NPZ",
                        help="save the trained CNN as a checkpoint (with the recipe and the "
                             "normalization it needs); the 2018 milestone optimizes it")
    parser.add_argument("--accelerate", action="store_true",
                        help="switch on the kata-18 kernels (enable_acceleration()) before "
                             "training; needs kata 18")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="BLAS threads (default: the environment's, else 1); the CIFAR-10 "
                             "budget of 30 minutes is for --threads 2")
    return common.split_options(parser, argv)


OPTIONS, COMMON_ARGUMENTS = milestone_options(sys.argv[1:])
if OPTIONS.threads is not None:
    # NumPy is not imported yet: BLAS reads these when it loads.
    for variable in common.BLAS_THREAD_VARIABLES:
        os.environ[variable] = str(OPTIONS.threads)
RUN = common.start(__file__, __doc__, COMMON_ARGUMENTS, variant=OPTIONS.data)

# Imported only now: NumPy after the BLAS threads are set, tinytorch after common.start chose
# whose tinytorch (yours or the reference) it is.
import numpy as np
from convnets import RECIPES, Recipe, build_cnn, build_mlp, make_optimizer

from tinytorch.core import Tensor, no_grad
from tinytorch.data import (
    ChecksumError,
    Compose,
    DataLoader,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    load_cifar10,
    load_tinydigits,
    read_label_names,
)
from tinytorch.nn import CrossEntropyLoss, Module
from tinytorch.training import Trainer, WarmupCosineLR, save_checkpoint

SEED = 1998
EXIT_NO_DATA = 3
EVAL_BATCH_SIZE = 500
SMOKE_EPOCHS = 2  # one of warm-up, one of cosine decay
SMOKE_TRAIN_IMAGES = 128
SMOKE_TEST_IMAGES = 100


@dataclass
class Images:
    """A data set as uint8 images (N, C, H, W) and int64 labels, with its class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    name: str


class MissingData(Exception):
    """The data set is not on disk (or not the expected files): the message says what to do."""


def load_images(data: str) -> Images:
    if data == "tinydigits":
        x_train, y_train, x_test, y_test = load_tinydigits()
        return Images(x_train[:, None], y_train, x_test[:, None], y_test,
                      [str(digit) for digit in range(10)], "TinyDigits")
    download = ("python -m tinytorch.data.cifar10 download"
                + (f" --dir {OPTIONS.cifar_dir}" if OPTIONS.cifar_dir else ""))
    try:
        x_train, y_train, x_test, y_test = load_cifar10(OPTIONS.cifar_dir,
                                                        verify=not OPTIONS.skip_checksum)
        classes = read_label_names(OPTIONS.cifar_dir)
    except FileNotFoundError as error:
        raise MissingData(f"CIFAR-10 is not on disk: {error}\nDownload it (163 MB, md5-checked) "
                          f"with:\n    {download}\nthen run this milestone again"
                          f"{' with the same --cifar-dir' if OPTIONS.cifar_dir else ''}.") from None
    except ChecksumError as error:
        raise MissingData(f"{error}\nFor a copy that is not the official file set (such as a "
                          f"re-encoded stand-in), add --skip-checksum; figures measured on it "
                          f"are not CIFAR-10's own.") from None
    name = "CIFAR-10 (not verified: --skip-checksum)" if OPTIONS.skip_checksum else "CIFAR-10"
    return Images(x_train, y_train, x_test, y_test, classes, name)


def channel_statistics(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of each channel of uint8 images (N, C, H, W), in pixels.

    Counted per channel from the 256 possible values (``np.bincount``): exact, and without a
    float copy of the whole training set.
    """
    values = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for channel in range(images.shape[1]):
        counts = np.bincount(images[:, channel].ravel(), minlength=256)
        mean = counts @ values / counts.sum()
        means.append(float(mean))
        stds.append(float(np.sqrt(counts @ (values - mean) ** 2 / counts.sum())))
    return means, stds


def test_batches(images: np.ndarray, labels: np.ndarray,
                 normalize: Normalize) -> Iterator[tuple[Tensor, Tensor]]:
    """The test set in order, normalized, one batch at a time."""
    loader = DataLoader(TensorDataset(images, labels), batch_size=EVAL_BATCH_SIZE)
    for x, y in loader:
        yield normalize(x), y


def predict(model: Module, images: np.ndarray, normalize: Normalize) -> np.ndarray:
    """Predicted classes of uint8 images, in eval mode (batch norm uses running statistics)."""
    model.eval()
    predictions = []
    with no_grad():
        for x, _ in test_batches(images, np.zeros(len(images), dtype=np.int64), normalize):
            predictions.append(model(x).numpy().argmax(axis=1))
    return np.concatenate(predictions)


def train_model(label: str, model: Module, recipe: Recipe, data: Images, epochs: int,
                normalize: Normalize) -> dict:
    """Train ``model`` with ``recipe``; return its history, timings and test accuracy.

    Both models get the same seed for the data loader and the augmentation, so they see the
    same images, in the same order, shifted and mirrored the same way.
    """
    rng = np.random.default_rng(SEED)
    augment = [RandomCrop(data.x_train.shape[-1], padding=recipe.crop_padding, rng=rng)]
    if recipe.flip:
        augment.append(RandomHorizontalFlip(rng=rng))
    transform = Compose([*augment, normalize])
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=recipe.batch_size,
                        shuffle=True, rng=rng)
    optimizer = make_optimizer(recipe, model)
    schedule = WarmupCosineLR(optimizer, warmup_steps=recipe.warmup_epochs * len(loader),
                              total_steps=epochs * len(loader))
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, scheduler=schedule)
    history: list[dict[str, float]] = []
    parameters = sum(parameter.size for parameter in model.parameters())
    print(f"\n{label}: {parameters:,} parameters, {epochs} epochs of {len(loader)} batches",
          flush=True)

    def train() -> None:
        for epoch in range(1, epochs + 1):
            began, cpu = time.perf_counter(), time.process_time()
            seen = trainer.train_epoch((transform(x), y) for x, y in loader)
            seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
            tested = trainer.evaluate(test_batches(data.x_test, data.y_test, normalize))
            history.append({"epoch": epoch, "train_loss": seen["loss"],
                            "train_accuracy": seen["accuracy"], "test_loss": tested["loss"],
                            "test_accuracy": tested["accuracy"], "lr": optimizer.lr,
                            "epoch_seconds": seconds, "epoch_cpu_seconds": cpu_seconds})
            RUN.progress(epoch, epochs, f"loss {seen['loss']:.4f}",
                         f"train {seen['accuracy']:6.2%}", f"test {tested['accuracy']:6.2%}",
                         f"({seconds:.0f} s, {cpu_seconds:.0f} s of CPU)", label=label)

    before = RUN.train_seconds
    RUN.measure(train)
    seconds = RUN.train_seconds - before
    predictions = predict(model, data.x_test, normalize)
    return {"parameters": parameters, "test_accuracy": float((predictions == data.y_test).mean()),
            "train_seconds": seconds,
            "train_cpu_seconds": sum(row["epoch_cpu_seconds"] for row in history),
            "images_per_second": epochs * len(data.x_train) / seconds,
            "history": history, "predictions": predictions}


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """``matrix[true class, predicted class]`` = how many test images fall in that cell."""
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def print_confusion(matrix: np.ndarray, classes: list[str]) -> None:
    names = [name[:5] for name in classes]
    print("\nCNN confusion matrix (rows: true class, columns: predicted class)")
    print(" " * 11 + "".join(f"{name:>6}" for name in names) + "  accuracy")
    for name, row in zip(classes, matrix):
        print(f"{name[:10]:>10} " + "".join(f"{count:>6}" for count in row) +
              f"  {row[classes.index(name)] / row.sum():7.1%}")


def exact_test_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) and labels from an .npz of CIFAR-format rows."""
    with np.load(path, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"].astype(np.int64)
    return images.reshape(-1, 3, 32, 32), labels


def run_milestone() -> int:
    if OPTIONS.accelerate:
        from tinytorch.systems.acceleration import enable_acceleration

        enable_acceleration()
    recipe = RECIPES[OPTIONS.data]
    try:
        data = load_images(OPTIONS.data)
    except MissingData as error:
        print(f"\n{error}", file=sys.stderr)
        return EXIT_NO_DATA
    epochs = recipe.epochs
    if RUN.smoke:
        data.x_train, data.y_train = data.x_train[:SMOKE_TRAIN_IMAGES], data.y_train[:SMOKE_TRAIN_IMAGES]
        data.x_test, data.y_test = data.x_test[:SMOKE_TEST_IMAGES], data.y_test[:SMOKE_TEST_IMAGES]
        epochs = SMOKE_EPOCHS
    count, channels, side, _ = data.x_train.shape
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    print(f"{data.name}: {count:,} training and {len(data.x_test):,} test images of "
          f"{channels}x{side}x{side}; {epochs} epochs, batches of {recipe.batch_size}; "
          f"BLAS threads: {threads}; kata-18 kernels: {'on' if OPTIONS.accelerate else 'off'}")
    normalize = Normalize(*channel_statistics(data.x_train))

    rng = np.random.default_rng(SEED)
    cnn_model = build_cnn(recipe, channels, side, rng)
    cnn = train_model("CNN", cnn_model, recipe, data, epochs, normalize)
    mlp = train_model("MLP", build_mlp(recipe, channels * side * side, rng), recipe, data,
                      epochs, normalize)
    if OPTIONS.save_model is not None:
        OPTIONS.save_model.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(OPTIONS.save_model, cnn_model, data=OPTIONS.data, channels=channels,
                        side=side, normalize={"mean": normalize.mean.tolist(), "std": normalize.std.tolist()},
                        test_accuracy=cnn["test_accuracy"], smoke=RUN.smoke)
        print(f"\nCNN saved to {OPTIONS.save_model}")
    matrix = confusion_matrix(data.y_test, cnn["predictions"])
    print_confusion(matrix, data.classes)

    exact = None
    if OPTIONS.exact_test is not None and OPTIONS.data == "cifar10":
        images, labels = exact_test_images(OPTIONS.exact_test)
        if RUN.smoke:
            images, labels = images[:SMOKE_TEST_IMAGES], labels[:SMOKE_TEST_IMAGES]
        exact_predictions = predict(cnn_model, images, normalize)
        exact = {"file": str(OPTIONS.exact_test), "images": len(labels),
                 "cnn_accuracy": float((exact_predictions == labels).mean())}

    print(f"\nResults on the {len(data.y_test):,} {data.name} test images:")
    for label, result in (("MLP", mlp), ("CNN", cnn)):
        print(f"  {label}: {result['test_accuracy']:6.2%}  ({result['parameters']:,} parameters, "
              f"training {result['train_seconds']:.0f} s, of which "
              f"{result['train_cpu_seconds']:.0f} s of CPU in the training epochs, "
              f"{result['images_per_second']:,.0f} images/s)")
    gain = cnn["test_accuracy"] - mlp["test_accuracy"]
    print(f"  The convolutions gain {100 * gain:+.1f} points.")
    if exact is not None:
        print(f"  CNN on the {exact['images']:,} images of {OPTIONS.exact_test.name}: "
              f"{exact['cnn_accuracy']:.2%}")
    if cnn["train_seconds"] > recipe.time_budget_seconds:
        print(f"Note: the CNN trained for longer than the {recipe.time_budget_seconds:.0f} s "
              f"this milestone budgets: profile your convolution (kata 14).")

    results = {
        "data": data.name, "seed": SEED, "recipe": {**asdict(recipe), "epochs": epochs},
        "blas_threads": threads, "accelerated": OPTIONS.accelerate, "train_images": count, "test_images": len(data.y_test),
        "mlp": {key: value for key, value in mlp.items() if key != "predictions"},
        "cnn": {key: value for key, value in cnn.items() if key != "predictions"},
        "gain_points": 100 * gain,
        "cnn_confusion_matrix": matrix.tolist(),
        "cnn_per_class_accuracy": dict(zip(data.classes,
                                           (matrix.diagonal() / matrix.sum(axis=1)).tolist())),
        "cnn_within_time_budget": cnn["train_seconds"] <= recipe.time_budget_seconds,
        "exact_test": exact,
    }
    criteria = [common.Criterion(f"CNN test accuracy on {data.name}", cnn["test_accuracy"],
                                 recipe.required_accuracy)]
    curves = {f"{label} {name}": [row[name] for row in result["history"]]
              for label, result in (("MLP", mlp), ("CNN", cnn))
              for name in ("train_accuracy", "test_accuracy")}
    return RUN.finish(results, criteria, curves)


if __name__ == "__main__":
    common.main(run_milestone)
