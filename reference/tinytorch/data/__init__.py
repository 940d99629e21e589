"""Data sets for TinyTorch, as NumPy arrays.

- ``load_tinydigits()``: 6,000 MNIST digits that ship with TinyTorch (works offline).
- ``download_mnist()`` and ``load_mnist(path)``: the full MNIST, for when you are online.
- ``download_cifar10()`` and ``load_cifar10(path)``: CIFAR-10 from its official files,
  images (N, 3, 32, 32) uint8 (see ``cifar10.py``).
- Kata 08: ``TensorDataset``, ``DataLoader``, ``collate`` and the batch transforms
  ``RandomCrop``, ``RandomHorizontalFlip``, ``Normalize``, ``Compose``, and
  ``PrefetchLoader``, which makes the next batches in a background thread.

The digit loaders return ``Digits(x_train, y_train, x_test, y_test)``, a named tuple of
uint8 images (N, 28, 28) and int64 labels (N,).
"""

from importlib import import_module
from typing import Any

# The data-set modules load on first use instead of here, so that running one as a command
# (`python -m tinytorch.data.tinydigits build ...`) does not find it already imported.
_LAZY_NAMES = {
    "Digits": "mnist",
    "ChecksumError": "mnist",
    "DownloadError": "mnist",
    "IdxFormatError": "mnist",
    "data_home": "mnist",
    "default_mnist_dir": "mnist",
    "download_mnist": "mnist",
    "load_mnist": "mnist",
    "read_idx": "mnist",
    "build_tinydigits": "tinydigits",
    "load_tinydigits": "tinydigits",
    "Cifar10": "cifar10",
    "Cifar10FormatError": "cifar10",
    "ForbiddenPickleError": "cifar10",
    "UnsafeArchiveError": "cifar10",
    "default_cifar10_dir": "cifar10",
    "download_cifar10": "cifar10",
    "load_cifar10": "cifar10",
    "read_label_names": "cifar10",
    "Dataset": "dataloader",
    "TensorDataset": "dataloader",
    "DataLoader": "dataloader",
    "collate": "dataloader",
    "crop_batch": "dataloader",
    "flip_batch": "dataloader",
    "RandomCrop": "dataloader",
    "RandomHorizontalFlip": "dataloader",
    "Normalize": "dataloader",
    "Compose": "dataloader",
    "PrefetchLoader": "dataloader",
    "QAPair": "tinytalks",
    "build_tinytalks": "tinytalks",
    "load_tinytalks": "tinytalks",
    "parse_tinytalks": "tinytalks",
    "tinytalks_pairs": "tinytalks",
    "CharTokenizer": "tokenization",
    "BPETokenizer": "tokenization",
}
__all__ = list(_LAZY_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_LAZY_NAMES[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))
