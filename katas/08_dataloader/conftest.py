"""Shared data for kata 08: a miniature CIFAR-10 written in the official file format.

``tinytorch`` is not imported here: pytest can load this file before the plugin has chosen
which ``tinytorch`` (yours or the reference) the run tests.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

CIFAR_BATCHES = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck"]


def write_tiny_cifar10(folder: Path, per_batch: int = 8, seed: int = 0) -> dict[str, np.ndarray]:
    """``folder/cifar-10-batches-py`` with ``per_batch`` images per batch file.

    Each file is what CIFAR-10's are: a protocol-2 pickle of a dict with byte-string keys,
    ``b"data"`` a uint8 array (N, 3072) of R, G, B planes and ``b"labels"`` a list of ints.
    Returns the images (N, 3, 32, 32) and labels of the train and test splits.
    """
    rng = np.random.default_rng(seed)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    images, labels = {}, {}
    for name in CIFAR_BATCHES:
        images[name] = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, per_batch)
        entry = {b"batch_label": name.encode(), b"data": images[name].reshape(per_batch, -1),
                 b"labels": [int(label) for label in labels[name]]}
        (batches / name).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {b"label_names": [name.encode() for name in CIFAR_CLASSES], b"num_vis": 3072}
    (batches / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    train = CIFAR_BATCHES[:5]
    return {"x_train": np.concatenate([images[n] for n in train]),
            "y_train": np.concatenate([labels[n] for n in train]),
            "x_test": images["test_batch"], "y_test": labels["test_batch"]}


@pytest.fixture
def tiny_cifar10(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A miniature CIFAR-10 (8 images per batch file) and the arrays it holds."""
    return tmp_path, write_tiny_cifar10(tmp_path)
