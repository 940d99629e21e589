"""Shared data and models for kata 07: a seeded three-class blob problem and small MLPs.

The data are synthetic but real: three Gaussian clouds in the plane that overlap a
little, so a classifier has to learn boundaries (a random model scores about 1/3).

``tinytorch`` is imported inside the helpers, never at the top: pytest can load this file
before the plugin has chosen which ``tinytorch`` (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

BLOB_CENTRES = np.array([[0.0, 2.5], [2.5, -1.5], [-2.5, -1.5]], dtype=np.float32)
NUM_CLASSES = len(BLOB_CENTRES)


def blobs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points (float32, shape (count, 2)) and their classes (int64, shape (count,))."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, NUM_CLASSES, size=count)
    points = BLOB_CENTRES[classes] + rng.standard_normal((count, 2)).astype(np.float32)
    return points.astype(np.float32), classes.astype(np.int64)


def batches(x: np.ndarray, y: np.ndarray, size: int) -> list:
    """Consecutive batches of ``size`` rows as Tensor pairs (the last one may be smaller)."""
    from tinytorch.core import Tensor

    return [(Tensor(x[i:i + size]), Tensor(y[i:i + size])) for i in range(0, len(x), size)]


def mlp(seed: int, hidden: int = 16):
    """2 -> hidden -> 3 with a ReLU: two Linear layers, four parameters."""
    from tinytorch.core import ReLU
    from tinytorch.nn import Linear, Sequential

    return Sequential(Linear(2, hidden, rng=seed), ReLU(), Linear(hidden, NUM_CLASSES, rng=seed + 1))


def snapshot(model) -> dict[str, np.ndarray]:
    """Copies of every parameter's values, by name."""
    return {name: p.data.copy() for name, p in model.named_parameters()}


@pytest.fixture
def make_blobs() -> Callable[[int, int], tuple[np.ndarray, np.ndarray]]:
    return blobs


@pytest.fixture
def make_batches() -> Callable[..., list]:
    return batches


@pytest.fixture
def make_mlp() -> Callable[..., object]:
    return mlp


@pytest.fixture
def take_snapshot() -> Callable[..., dict[str, np.ndarray]]:
    return snapshot
