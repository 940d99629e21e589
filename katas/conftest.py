"""Shared set-up for the kata tests.

- Every test runs with autograd as the curriculum has it: off before the kata that writes
  ``core/autograd.py`` (05 in the manifest), on from that kata on. The switch is set
  before anything else a test needs, its session and module fixtures included, so a
  fixture that trains a model finds gradients on without switching them on itself.
- ``conv_by_offsets`` (katas 09 and 18) is a convolution written differently from the ones
  the katas build: for each kernel offset it multiplies one strided slice of the padded
  input by that offset's weights. The output size is the formula (H + 2p - k) // s + 1,
  written here once more, independently.
- ``rng`` is a random generator of the test's own, seeded from its node id (file, name and
  parameters), so a test draws the same numbers whichever tests run before it, with ``-k``
  or ``-n 2`` as in a full run. A generator at module level would hand each test whatever
  the tests before it left (``tests/test_katas_rng.py`` keeps them out).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pytest

from pytest_tinytorch.manifest import load

AUTOGRAD_MODULE = "core/autograd.py"
_WITH_AUTOGRAD = pytest.StashKey[frozenset[str]]()


def _katas_with_autograd(config: pytest.Config) -> frozenset[str]:
    """Folder names of the kata that writes autograd and of every kata after it."""
    if _WITH_AUTOGRAD not in config.stash:
        katas = load(config.rootpath).katas
        first = next(index for index, kata in enumerate(katas) if AUTOGRAD_MODULE in kata.modules)
        config.stash[_WITH_AUTOGRAD] = frozenset(kata.name for kata in katas[first:])
    return config.stash[_WITH_AUTOGRAD]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Turn autograd on or off for ``item``'s kata, before any of its fixtures is set up."""
    from tinytorch.core.autograd import AUTOGRAD

    AUTOGRAD.set(item.path.parent.name in _katas_with_autograd(item.config))


def reference_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int,
                   padding: int) -> np.ndarray:
    """Cross-correlation of x (N, C, H, W) with weight (O, C, k, k), in float64."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = weight.shape[-1]
    out_h = (x.shape[2] + 2 * padding - k) // stride + 1
    out_w = (x.shape[3] + 2 * padding - k) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], out_h, out_w))
    for di in range(k):
        for dj in range(k):
            patch = padded[:, :, di:di + stride * (out_h - 1) + 1:stride,
                           dj:dj + stride * (out_w - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, weight[:, :, di, dj])
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out


@pytest.fixture
def conv_by_offsets() -> Callable[..., np.ndarray]:
    return reference_conv


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test's node id with CRC-32 (stable across runs, unlike hash())."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
