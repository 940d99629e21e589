"""The convolutional and multi-layer networks of the 1998 milestone, and how each is trained.

Shared by ``04_cnn_1998.py``, which trains them, ``06_mlperf_2018.py``, which optimizes
the trained CNN (both must build exactly the same architecture for a checkpoint to load),
and ``bench_vs_pytorch.py``, which times one training step of the CIFAR-10 CNN.
Import it after ``common.start`` (it imports ``tinytorch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.core import ReLU
from tinytorch.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, Sequential
from tinytorch.optim import SGD, Adam, Optimizer


@dataclass(frozen=True)
class Recipe:
    """Everything that is chosen for one data set, in advance."""

    epochs: int
    batch_size: int
    optimizer: str            # "adam" or "sgd" (with Nesterov momentum 0.9)
    learning_rate: float
    weight_decay: float
    warmup_epochs: int
    crop_padding: int         # random crop of the original size after this much padding
    flip: bool                # mirror half of the images left-right
    cnn_widths: tuple[int, ...]   # channels of each stage: conv-bn-relu x convs_per_stage, pool
    convs_per_stage: int
    mlp_hidden: tuple[int, ...]
    required_accuracy: float
    time_budget_seconds: float


RECIPES = {
    # Digits are not mirror images of each other: shifts only.
    "tinydigits": Recipe(epochs=15, batch_size=64, optimizer="adam", learning_rate=2e-3,
                         weight_decay=0.0, warmup_epochs=1, crop_padding=2, flip=False,
                         cnn_widths=(16, 32), convs_per_stage=1, mlp_hidden=(512, 256),
                         required_accuracy=0.97, time_budget_seconds=300.0),
    "cifar10": Recipe(epochs=6, batch_size=128, optimizer="sgd", learning_rate=0.05,
                      weight_decay=5e-4, warmup_epochs=1, crop_padding=4, flip=True,
                      cnn_widths=(16, 32, 64), convs_per_stage=2, mlp_hidden=(512, 256),
                      required_accuracy=0.75, time_budget_seconds=1800.0),
}


def build_cnn(recipe: Recipe, channels: int, side: int, rng: np.random.Generator) -> Module:
    """Stages of [conv 3x3 (padding 1) - batch norm - ReLU] x convs_per_stage, then 2x2 max
    pooling; finally Flatten and one Linear layer to the 10 classes.

    The convolutions have no bias: the batch norm right after subtracts the mean anyway and
    has its own shift.
    """
    layers: list = []
    for width in recipe.cnn_widths:
        for _ in range(recipe.convs_per_stage):
            layers += [Conv2d(channels, width, 3, padding=1, bias=False, rng=rng),
                       BatchNorm2d(width), ReLU()]
            channels = width
        layers.append(MaxPool2d(2))
        side //= 2
    return Sequential(*layers, Flatten(), Linear(channels * side * side, 10, rng=rng))


def build_mlp(recipe: Recipe, inputs: int, rng: np.random.Generator) -> Module:
    """Flatten, then Linear-ReLU layers of ``mlp_hidden`` sizes, then Linear to 10 classes."""
    layers: list = [Flatten()]
    for hidden in recipe.mlp_hidden:
        layers += [Linear(inputs, hidden, rng=rng), ReLU()]
        inputs = hidden
    return Sequential(*layers, Linear(inputs, 10, rng=rng))


def make_optimizer(recipe: Recipe, model: Module) -> Optimizer:
    """The recipe's optimizer over all of ``model``'s parameters."""
    if recipe.optimizer == "sgd":
        return SGD(model.parameters(), lr=recipe.learning_rate, momentum=0.9, nesterov=True,
                   weight_decay=recipe.weight_decay)
    return Adam(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
